//! 僵尸进程 (zombie processes): a child that has ended stays in the process
//! table until its parent reaps it. Watch the kernel report a dead child in
//! state Z and hand its parent the exit status and CPU time it kept; then
//! watch zombies pile up under a parent that never reaps, until it is killed.

mod fixes;
mod flood;
mod quiz;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::child::{Child, ForkFailed, adopt};
use common::log::plural;
use common::{Channel, waitid_wnowait};
use common::{
    Context, Fork, Lesson, Options, Result, event, fork, heading, record, say, spawn, system,
    timing, tr,
};
use nix::errno::Errno;
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::Signal;
use nix::sys::time::TimeValLike;
use nix::unistd::{Pid, getpid};
use serde_json::json;

/// The most zombies `--flood` makes: far below any real limit, and below
/// the lessons' limit on children at once.
const MAX_FLOOD: u32 = 4000;

#[derive(Debug, clap::Parser)]
#[command(
    about,
    after_help = "WARNING: with --no-subreaper, on a system whose pid 1 does not reap adopted \
children (many containers), the flood's zombies stay in the process table until reboot."
)]
struct Args {
    /// How many children exit under a parent that never reaps them (part 2)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FLOOD)))]
    flood: u32,

    /// CPU time the first child burns before it exits, in milliseconds (part 1)
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    cpu_ms: u64,

    /// Do not adopt the orphaned zombies: leave them to the system (see the warning below)
    #[arg(long)]
    no_subreaper: bool,

    #[command(flatten)]
    options: Options,
}

impl Lesson for Args {
    const ZH: &'static str = include_str!("../zh.txt");
    const QUIZ: &'static [common::quiz::Question] = quiz::QUIZ;
}

fn main() -> ExitCode {
    common::run(|args: Args| {
        common::check_room(args.flood, "--flood")?;
        // Orphans go to the nearest subreaper, else to init. This lesson makes
        // itself one (Linux), so that it can reap the flood in part 3.
        let adopting = !args.no_subreaper && common::child::prctl_set_child_subreaper();
        every_child_is_a_zombie_until_reaped(Duration::from_millis(args.cpu_ms))?;
        between_parts()?;
        let parent = zombies_pile_up(args.flood)?;
        between_parts()?;
        kill_the_parent(parent, adopting)?;
        between_parts()?;
        fixes::what_real_programs_do()
    })
}

fn every_child_is_a_zombie_until_reaped(cpu: Duration) -> Result<()> {
    heading(
        &tr!("1. Every child is a zombie until it is reaped"),
        &tr!(
            "A child that ends gives back its memory and open files at once, but the kernel keeps \
             its pid, how it ended and the CPU time it used, until its parent asks (wait)."
        ),
    )?;
    // fork returns twice: in the new child, which exits at once to become a
    // zombie; and here, in its parent, with the child's pid.
    let child = match fork("child")? {
        Fork::Child(me) => {
            let text = tr!(
                "burns {} ms of CPU, then exits with status 7",
                cpu.as_millis()
            );
            event("exit", json!({"status": 7}), text);
            burn_cpu(cpu);
            me.exit(7)
        }
        Fork::Parent(child) => child,
    };
    let pid = child.pid();
    // Wait until the child has ended, but leave it unreaped: a zombie, to be
    // looked at in the process table before wait4 takes it away.
    waitid_wnowait(pid).context("waitid")?;
    let seen = system::process(pid.as_raw())
        .with_context(|| tr!("the dead child vanished before it was reaped"))?;
    event(
        "state",
        json!({"of": pid.as_raw(), "state": seen.state.to_string()}),
        tr!(
            "pid {} has ended, yet the process table still lists it: ppid {}, state {}{}",
            pid,
            seen.ppid,
            seen.state,
            if seen.is_zombie() {
                tr!(" (zombie; ps shows it as <defunct>)")
            } else {
                String::new()
            }
        ),
    );
    // What `ps` says of it, as TLPI's make_zombie.c shows with system("ps").
    let shown = ps(&["-o", "pid,ppid,stat,args", "-p", &pid.to_string()]);
    explain_ps(&shown, pid, "child");
    // SIGKILL cannot end what has ended already: only wait4 removes it.
    nix::sys::signal::kill(pid, Signal::SIGKILL).context("kill")?;
    let state = system::process(pid.as_raw()).map(|p| p.state.to_string());
    event(
        "kill",
        json!({"of": pid.as_raw(), "signal": "SIGKILL", "state": state}),
        tr!(
            "kill -9 {}: it is still there, in state {}; a zombie is already dead",
            pid,
            state.as_deref().unwrap_or("?")
        ),
    );
    common::pause(
        "zombie",
        &tr!("pid {} is a zombie: ended, and not yet reaped", pid),
        &format!("ps -o pid,ppid,stat,args -p {pid}"),
    )?;
    let reaped = child.wait4()?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    event(
        "reaped",
        reaped.fields(),
        tr!(
            "reaped pid {} (wait4): it {}, after {:.0} ms of CPU in its own code and \
             {:.0} ms in the kernel: what the kernel had kept for me",
            pid,
            reaped.ended,
            ms(reaped.user),
            ms(reaped.sys)
        ),
    );
    match system::process(pid.as_raw()) {
        None => event(
            "gone",
            json!({"of": pid.as_raw()}),
            tr!("pid {} is gone from the process table", pid),
        ),
        Some(p) => say(tr!(
            "pid {} is listed again, now as {}: the pid was reused",
            pid,
            p.comm
        )),
    }
    Ok(())
}

/// Keeps the CPU busy until this process has used `total` of CPU time in
/// all (user + system, as `getrusage` counts it), for its parent to read back.
fn burn_cpu(total: Duration) {
    let used = || {
        getrusage(UsageWho::RUSAGE_SELF).map_or(Duration::MAX, |u| {
            let micros = u.user_time().num_microseconds() + u.system_time().num_microseconds();
            Duration::from_micros(micros.max(0).unsigned_abs())
        })
    };
    while used() < total {
        for i in 0..20_000u32 {
            std::hint::black_box(i);
        }
    }
}

fn zombies_pile_up(n: u32) -> Result<Child> {
    heading(
        &tr!("2. The harm: zombies pile up"),
        &tr!(
            "A parent that never waits keeps every dead child in the process table. Each zombie \
             holds a pid and counts against its user's process limit until it is reaped."
        ),
    )?;
    let ready = Channel::new()?;
    let parent = match fork("parent")? {
        Fork::Child(me) => me.exit(never_reaps(n, &ready)),
        Fork::Parent(parent) => parent,
    };
    ready
        .recv()?
        .with_context(|| tr!("the parent ended before its children did"))?;
    let zombies = system::zombies_of(parent.pid().as_raw()).len();
    event(
        "flood",
        json!({"zombies": zombies}),
        tr!(
            "the process table lists {} whose parent is pid {}",
            plural(zombies as u64, "zombie", "zombies"),
            parent.pid()
        ),
    );
    let pids = match system::pid_max() {
        Some(max) => tr!("{} of the {} pids this system has (pid_max)", zombies, max),
        None => tr!("{} pids", zombies),
    };
    say(tr!(
        "they hold {}: a parent that leaked zombies in a loop would take them all, and then \
         nobody could start a process",
        pids
    ));
    common::pause(
        "flood",
        &tr!(
            "{} zombies wait under pid {}, which never reaps them",
            zombies,
            parent.pid()
        ),
        &format!("ps -o pid,ppid,stat,comm --ppid {}", parent.pid()),
    )?;
    Ok(parent)
}

/// The parent of part 2: it forks `n` children and never reaps them.
fn never_reaps(n: u32, ready: &Channel) -> Result<()> {
    let confined = flood::confine_forks(n);
    match &confined {
        Ok(how) => say(how),
        Err(why) => say(tr!("(fork cannot be made to fail here: {})", why)),
    }
    let mut children = Vec::new();
    for i in 1..=n {
        match fork(&format!("z{i}"))? {
            Fork::Child(me) => me.exit(0),
            Fork::Parent(child) => children.push(child),
        }
    }
    for child in &children {
        waitid_wnowait(child.pid()).context("waitid")?;
    }
    say(tr!(
        "my {} all exited, and I never wait for them",
        plural(n, "child has", "children have")
    ));
    if confined.is_ok() {
        match spawn("one more", || ()) {
            Err(e)
                if e.downcast_ref()
                    .is_some_and(|f: &ForkFailed| f.errno == Errno::EAGAIN) =>
            {
                event(
                    "fork_refused",
                    json!({"error": "EAGAIN"}),
                    tr!(
                        "one more fork fails with EAGAIN: my {} zombies use up my process limit",
                        n
                    ),
                )
            }
            Err(e) => return Err(e),
            Ok(_) => say(tr!(
                "one more fork still worked: the process limit did not hold"
            )),
        }
    }
    ready.send(0)?;
    while !common::stopping() {
        timing::sleep(Duration::from_secs(1));
    }
    Ok(())
}

fn kill_the_parent(mut parent: Child, adopting: bool) -> Result<()> {
    heading(
        &tr!("3. The fix: kill the parent"),
        &if adopting {
            tr!(
                "Its zombies become orphans, and whoever adopts them reaps them. On Linux the \
                 adopter is the nearest subreaper; this lesson made itself one \
                 (prctl PR_SET_CHILD_SUBREAPER), so here it plays the part of init."
            )
        } else {
            tr!(
                "Its zombies become orphans, and whoever adopts them should reap them. With \
                 --no-subreaper this lesson leaves that to the system: let's see who adopts them."
            )
        },
    )?;
    let zombies: Vec<Pid> = system::zombies_of(parent.pid().as_raw())
        .iter()
        .map(|z| Pid::from_raw(z.pid))
        .collect();
    let killed_at = Instant::now();
    parent.kill(Signal::SIGKILL)?;
    parent.wait4()?;
    say(tr!(
        "killed the parent (SIGKILL) and reaped it: its {} orphans now",
        plural(zombies.len() as u64, "zombie is", "zombies are")
    ));
    let Some(first) = zombies.first() else {
        return Ok(());
    };
    let adopter = system::process(first.as_raw()).map_or(1, |z| z.ppid);
    for z in &zombies {
        record("adopted", json!({"of": z.as_raw(), "by": adopter}));
    }
    let ms = || killed_at.elapsed().as_secs_f64() * 1e3;
    if adopting {
        say(tr!(
            "all {} were adopted by pid {}, this lesson",
            zombies.len(),
            adopter
        ));
        for z in zombies {
            let reaped = adopt(z, "zombie")?.wait4()?;
            record("reaped", reaped.fields());
        }
        let left = system::zombies_of(getpid().as_raw()).len();
        event(
            "flood",
            json!({"zombies": left}),
            tr!(
                "reaped them all, {:.1} ms after the kill: zombies left: {}",
                ms(),
                left
            ),
        );
        return Ok(());
    }
    let adopter_is = system::describe(adopter);
    say(tr!("they were adopted by {}", adopter_is));
    let pids: Vec<i32> = zombies.iter().map(|z| z.as_raw()).collect();
    let left = system::wait_until_reaped(&pids);
    if left == 0 {
        event(
            "flood",
            json!({"zombies": 0}),
            tr!("{} reaped them all in {:.1} ms", adopter_is, ms()),
        );
        return Ok(());
    }
    event(
        "unreaped",
        json!({"zombies": left, "by": adopter}),
        tr!(
            "{} are still zombies {:.1} s later: {} does not reap the children it adopts",
            left,
            killed_at.elapsed().as_secs_f64(),
            adopter_is
        ),
    );
    say(system::pid_1_problem());
    Ok(())
}

/// A second between parts, cut short by Ctrl-C, which ends the lesson.
fn between_parts() -> Result<()> {
    timing::sleep(timing::scaled(1.0));
    common::check_stop()
}

/// Runs `ps` with `args` and shows what it prints, line by line; returns it.
pub(crate) fn ps(args: &[&str]) -> String {
    match std::process::Command::new("ps").args(args).output() {
        Ok(out) => {
            say(format!("$ ps {}", args.join(" ")));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            for line in text.lines() {
                say(format!("  {line}"));
            }
            text
        }
        Err(e) => {
            say(tr!("(cannot run ps here: {})", e));
            String::new()
        }
    }
}

/// Says what the line `ps -o pid,ppid,stat,args` printed for the zombie
/// `pid` shows, and only what it shows: each letter of its STAT, a name in
/// brackets, `<defunct>`, and the lesson as its parent. `name` is what the
/// log calls the zombie.
fn explain_ps(shown: &str, pid: Pid, name: &str) {
    let pid = pid.to_string();
    let Some(fields) = shown
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&pid.as_str()))
    else {
        return;
    };
    let [_, ppid, stat, command @ ..] = fields.as_slice() else {
        return;
    };
    for letter in stat.chars() {
        let meaning = match letter {
            'Z' => tr!("the zombie state: it has ended, and its parent has not reaped it yet"),
            '+' => tr!(
                "it is in the foreground process group of its terminal, the one Ctrl-C is sent to"
            ),
            'N' => tr!("it runs at a low priority (nice)"),
            '<' => tr!("it runs at a high priority"),
            _ => tr!("see PROCESS STATE CODES in man ps"),
        };
        say(tr!("STAT {}: {}", letter, meaning));
    }
    let command = command.join(" ");
    if let Some((shown_as, _)) = command.strip_prefix('[').and_then(|c| c.split_once(']')) {
        say(tr!(
            "[{}]: ps puts the name in brackets when a process has no command line left; a \
             zombie's went with its memory",
            shown_as
        ));
        say(if shown_as == name {
            tr!(
                "{}: the name the child gave itself as it started (prctl PR_SET_NAME), the one \
                 the log calls it by",
                shown_as
            )
        } else {
            tr!("{}: the program's name, which the child kept", shown_as)
        });
    }
    if command.contains("<defunct>") {
        say(tr!("<defunct>: what ps calls a zombie"));
    }
    if *ppid == getpid().to_string() {
        let program = system::process(getpid().as_raw()).map(|p| p.comm);
        say(tr!(
            "PPID {}: this lesson, main in the log; ps lists it under the program's name, {}",
            ppid,
            program.unwrap_or_default()
        ));
    }
}
