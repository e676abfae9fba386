//! 孤儿进程 (orphan processes): a parent ends while its child still runs.
//! Watch the child notice that its parent changed (`getppid`), learn who
//! adopted it (init, a subreaper, or this lesson), and be reaped by its new parent.

mod quiz;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::child::{adopt, prctl_set_pdeathsig};
use common::{Channel, Context, Fork, Options, Result, event, fork, heading, say, system, tr};
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};
use serde_json::json;

#[derive(Debug, clap::Parser)]
#[command(
    about,
    after_help = "WARNING: with --no-subreaper, on a system whose pid 1 does not reap adopted \
children (many containers), the orphan stays a zombie until reboot."
)]
struct Args {
    /// Do not adopt the orphan: leave it to the system (see the warning below)
    #[arg(long)]
    no_subreaper: bool,
    #[command(flatten)]
    options: Options,
}

fn main() -> ExitCode {
    common::run!(|args: Args| {
        // An orphan goes to the nearest subreaper, else to init. This lesson
        // makes itself one (Linux), so that it can watch the adoption and reap.
        let adopting = !args.no_subreaper && common::child::prctl_set_child_subreaper();
        heading(
            &tr!("Orphans"),
            &tr!(
                "The lesson starts a parent P, and P starts a child C. P ends while C still runs: \
                 C is an orphan, and some other process adopts it, becomes its parent and reaps it."
            ),
        )?;
        let (lesson, news) = (getpid(), Channel::new()?);
        // fork returns twice: in P, which runs `parent` and exits; and here.
        let parent = match fork("P")? {
            Fork::Child(p) => p.exit(parent(lesson, &news)),
            Fork::Parent(p) => p,
        };
        let orphan = Pid::from_raw(
            news.recv()?
                .with_context(|| tr!("P ended before it started C"))?,
        );
        let reaped = parent.wait4()?;
        let text = tr!(
            "reaped P at once: it {}; C (pid {}) runs on, adopted the moment P exited",
            reaped.ended,
            orphan
        );
        event("reaped", reaped.fields(), text);
        if !adopting {
            return watch_the_system_reap(orphan);
        }
        let reaped = adopt(orphan, "C")?.wait4()?;
        let text = tr!("reaped C, the orphan I adopted: it {}", reaped.ended);
        event("reaped", reaped.fields(), text);
        Ok(())
    })
}

/// P: starts C, waits until C has seen who its parent is, then exits.
fn parent(lesson: Pid, news: &Channel) -> Result<()> {
    let (told, me) = (Channel::new()?, getpid());
    let child = match fork("C")? {
        Fork::Child(c) => c.exit(orphan(lesson, me, &told)),
        Fork::Parent(c) => c,
    };
    told.recv()?
        .with_context(|| tr!("C ended before it reported its parent"))?;
    let pid = child.pid();
    news.send(pid.as_raw())?;
    let text = tr!("I exit now, while my child C (pid {}) still runs", pid);
    event("exit", (), text);
    Ok(())
}

/// C: reports its parent, notices when the parent changes, runs a little
/// longer as an orphan, and exits.
fn orphan(lesson: Pid, parent: Pid, told: &Channel) -> Result<i32> {
    // Every child of these lessons asks to get SIGTERM when its parent dies,
    // so that none outlives the lesson. C must outlive P: it asks for nothing.
    prctl_set_pdeathsig(None, parent)?;
    // The record's own "ppid" field is the one this event is about.
    event("parent", (), tr!("my parent is P (pid {})", getppid()));
    told.send(0)?;
    // Having turned PR_SET_PDEATHSIG off, nothing tells C its parent died:
    // it asks getppid() until the answer changes, to whoever adopted it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let adopter = loop {
        match getppid() {
            now if now != parent => break now,
            _ if Instant::now() > deadline => {
                return Err(common::anyhow!(tr!(
                    "pid {} is still my parent after 30 s",
                    parent
                )));
            }
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let comm = system::process(adopter.as_raw()).map(|p| p.comm);
    let comm = comm.unwrap_or_default();
    let who = match adopter.as_raw() {
        _ if adopter == lesson => tr!("this lesson, a subreaper playing the part of init"),
        1 => tr!("init"),
        _ => tr!("a subreaper (as systemd --user is)"),
    };
    let text = tr!(
        "P is gone: my parent is now pid {}, {} (its command: {})",
        adopter,
        who,
        comm
    );
    let fields = json!({"old": parent.as_raw(), "new": adopter.as_raw(), "comm": comm});
    event("adopted", fields, text);
    let me = getpid();
    let mut what = tr!(
        "C (pid {}) is an orphan: its parent is now pid {}",
        me,
        adopter
    );
    if adopter == lesson {
        // Its parent again, the lesson takes it along should it be killed.
        prctl_set_pdeathsig(Some(Signal::SIGTERM), adopter)?;
        // ps and pstree show C as C, the name it gave itself; its command
        // line, which `args` would show, is still the lesson's.
        what += &tr!(
            " (this lesson, main in the log: ps and pstree show it under the program's name, {})",
            comm
        );
    }
    let look = format!("ps -o pid,ppid,stat,comm -p {me}; pstree -ps {me}");
    common::pause("orphan", &what, &look)?;
    common::sleep_like_seed();
    event(
        "exit",
        (),
        tr!("I exit with status 3; my new parent should reap me"),
    );
    Ok(3)
}

/// With `--no-subreaper`: the lesson cannot reap C, only watch whether its
/// adopter does (a `gone` event if it did, else `unreaped`); an error if
/// the lesson is stopped first.
fn watch_the_system_reap(orphan: Pid) -> Result<()> {
    let alive = || system::process(orphan.as_raw()).is_some_and(|p| !p.is_zombie());
    while alive() && !common::stopping() {
        common::timing::sleep(Duration::from_millis(10));
    }
    common::check_stop()?;
    let ended = Instant::now();
    let of = orphan.as_raw();
    let Some(zombie) = system::process(of) else {
        let text = tr!("C (pid {}) has been reaped by its adopter", orphan);
        event("gone", json!({"of": of}), text);
        return Ok(());
    };
    let adopter = system::describe(zombie.ppid);
    if system::wait_until_reaped(&[of]) == 0 {
        let text = tr!("C (pid {}) ended and {} reaped it", orphan, adopter);
        event("gone", json!({"of": of, "by": zombie.ppid}), text);
        return Ok(());
    }
    let text = tr!(
        "C (pid {}) ended, and {} had not reaped it {:.1} s later, when I stopped watching: it \
         was still a zombie",
        orphan,
        adopter,
        ended.elapsed().as_secs_f64()
    );
    event("unreaped", json!({"of": of, "by": zombie.ppid}), text);
    say(system::pid_1_problem());
    Ok(())
}
