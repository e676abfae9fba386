//! 僵尸进程 (zombie processes): a child that has ended stays in the process
//! table until its parent reaps it. Watch the kernel report a dead child in
//! state Z and hand its parent the exit status and CPU time it kept; then
//! watch zombies pile up under a parent that never reaps, until it is killed.

mod fixes;
mod quiz;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::child::{Child, Ended, adopt};
use common::flood;
use common::log::plural;
use common::system::ProcessInfo;
use common::{Channel, Context, Fork, Options, Result, event, fork, heading, record};
use common::{say, spawn, system, timing, tr, waitid_wnowait};
use nix::sys::signal::{Signal, kill};
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

fn main() -> ExitCode {
    common::run!(|args: Args| {
        common::check_room(args.flood, "--flood")?;
        // Orphans go to the nearest subreaper, else to init. This lesson makes
        // itself one (Linux), so that it can reap the flood in part 3.
        let adopting = !args.no_subreaper && common::child::prctl_set_child_subreaper();
        every_child_is_a_zombie_until_reaped(Duration::from_millis(args.cpu_ms))?;
        between_parts()?;
        let (parent, zombies) = zombies_pile_up(args.flood)?;
        between_parts()?;
        kill_the_parent(parent, &zombies, adopting)?;
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
            let ms = cpu.as_millis();
            let text = tr!("burns {} ms of CPU, then exits with status 7", ms);
            event("exit", json!({"status": 7}), text);
            timing::burn_cpu(cpu);
            me.exit(7)
        }
        Fork::Parent(child) => child,
    };
    let pid = child.pid();
    // Wait until the child has ended, but leave it unreaped (WNOWAIT): a
    // zombie, to be looked at in the process table before wait4 takes it away.
    waitid_wnowait(pid).context("waitid")?;
    the_table_still_lists(pid)?;
    // What `ps` says of it, as TLPI's make_zombie.c shows with system("ps").
    let shown = system::ps(&["-o", "pid,ppid,stat,args", "-p", &pid.to_string()]);
    system::explain_ps(&shown, pid.as_raw(), "child");
    // SIGKILL cannot end what has ended already: only wait4 removes it.
    kill(pid, Signal::SIGKILL).context("kill")?;
    still_there_after_kill(pid);
    let what = tr!("pid {} is a zombie: ended, and not yet reaped", pid);
    let look = format!("ps -o pid,ppid,stat,args -p {pid}");
    common::pause("zombie", &what, &look)?;
    let reaped = child.wait4()?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let text = tr!(
        "reaped pid {} (wait4): it {}, after {:.0} ms of CPU in its own code and \
         {:.0} ms in the kernel: what the kernel had kept for me",
        pid,
        reaped.ended,
        ms(reaped.user),
        ms(reaped.sys)
    );
    event("reaped", reaped.fields(), text);
    let gone = tr!("pid {} is gone from the process table", pid);
    match system::process(pid.as_raw()) {
        None => event("gone", json!({"of": pid.as_raw()}), gone),
        Some(p) => say(tr!(
            "pid {} is listed again, now as {}: the pid was reused",
            pid,
            p.comm
        )),
    }
    Ok(())
}

/// Says what the process table lists of the dead child `pid`: it is still
/// there, with its parent and its state.
fn the_table_still_lists(pid: Pid) -> Result<()> {
    let seen = system::process(pid.as_raw())
        .with_context(|| tr!("the dead child vanished before it was reaped"))?;
    let zombie = match seen.is_zombie() {
        true => tr!(" (zombie; ps shows it as <defunct>)"),
        false => String::new(),
    };
    let text = tr!(
        "pid {} has ended, yet the process table still lists it: ppid {}, state {}{}",
        pid,
        seen.ppid,
        seen.state,
        zombie
    );
    let fields = json!({"of": pid.as_raw(), "state": seen.state.to_string()});
    event("state", fields, text);
    Ok(())
}

/// Says that the zombie `pid` is still listed after `kill -9`, as it was.
fn still_there_after_kill(pid: Pid) {
    let state = system::process(pid.as_raw()).map(|p| p.state.to_string());
    let text = tr!(
        "kill -9 {}: it is still there, in state {}; a zombie is already dead",
        pid,
        state.as_deref().unwrap_or("?")
    );
    let fields = json!({"of": pid.as_raw(), "signal": "SIGKILL", "state": state});
    event("kill", fields, text);
}

/// Returns the parent, and its zombies as the process table lists them.
fn zombies_pile_up(n: u32) -> Result<(Child, Vec<ProcessInfo>)> {
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
    let ppid = parent.pid();
    let listed = system::zombies_of(ppid.as_raw());
    let zombies = listed.len();
    let how_many = plural(zombies as u64, "zombie", "zombies");
    let text = tr!(
        "the process table lists {} whose parent is pid {}",
        how_many,
        ppid
    );
    event("flood", json!({"zombies": zombies}), text);
    let pids = match system::pid_max() {
        Some(max) => tr!("{} of the {} pids this system has (pid_max)", zombies, max),
        None => tr!("{} pids", zombies),
    };
    say(tr!(
        "they hold {}: a parent that leaked zombies in a loop would take them all, and then \
         nobody could start a process",
        pids
    ));
    let what = tr!(
        "{} zombies wait under pid {}, which never reaps them",
        zombies,
        ppid
    );
    let look = format!("ps -o pid,ppid,stat,comm --ppid {ppid}");
    common::pause("flood", &what, &look)?;
    Ok((parent, listed))
}

/// The parent of part 2: it forks `n` children and never reaps them.
fn never_reaps(n: u32, ready: &Channel) -> Result<()> {
    // Zombies count against their user's process limit (RLIMIT_NPROC): set
    // to this flood, it makes fork fail here long before the system's pids run out.
    let confined = flood::confine_forks(n);
    match &confined {
        Ok(how) => say(&how.text),
        Err(why) => say(tr!("(fork cannot be made to fail here: {})", why)),
    }
    let (mut children, mut refused) = (Vec::new(), None);
    for i in 1..=n {
        match fork(format_args!("z{i}")) {
            Ok(Fork::Child(me)) => me.exit(0),
            Ok(Fork::Parent(child)) => children.push(child),
            // Sooner than planned: the limit counts all my user's processes.
            Err(e) if flood::refused(&e) => {
                refused = Some(i);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    for child in &children {
        waitid_wnowait(child.pid()).context("waitid")?;
    }
    let mine = plural(children.len() as u64, "child has", "children have");
    say(tr!("my {} all exited, and I never wait for them", mine));
    let refused_event = |text| event("fork_refused", json!({"error": "EAGAIN"}), text);
    match (refused, &confined) {
        (Some(i), _) => refused_event(flood::refused_early(i, n, confined.is_ok())),
        // One fork more than the limit allows: the zombies hold its room.
        (None, Ok(how)) => match spawn("one more", || ()) {
            Err(e) if flood::refused(&e) => refused_event(tr!(
                "one more fork fails with EAGAIN: my {} zombies use up my process limit",
                n
            )),
            Err(e) => return Err(e),
            // Seen ended, as the others were: one more zombie, which the
            // process table lists with them.
            Ok(one_more) => {
                waitid_wnowait(one_more.pid()).context("waitid")?;
                say(flood::did_not_hold(how.limit));
            }
        },
        (None, Err(_)) => {}
    }
    ready.send(0)?;
    while !common::stopping() {
        timing::sleep(Duration::from_secs(1));
    }
    Ok(())
}

/// `zombies`: the children of `parent` that part 2 listed. Only their
/// parent could reap them since, and it does only if a signal it catches
/// stopped it (see below).
fn kill_the_parent(mut parent: Child, zombies: &[ProcessInfo], adopting: bool) -> Result<()> {
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
    let killed_at = Instant::now();
    parent.kill(Signal::SIGKILL)?;
    // A parent stopped during the pause by a signal it catches (Ctrl-C,
    // SIGTERM) reaped its children itself as it ended, as every child of
    // these lessons does: it leaves no orphans. SIGKILL, mine or yours,
    // leaves them all.
    let zombies = match parent.wait4()?.ended {
        Ended::Killed(Signal::SIGKILL) => zombies,
        _ => &[],
    };
    let orphans = plural(zombies.len() as u64, "zombie is", "zombies are");
    say(tr!(
        "killed the parent (SIGKILL) and reaped it: its {} orphans now",
        orphans
    ));
    let Some(first) = zombies.first() else {
        return Ok(());
    };
    // The kernel gave them all to one adopter, as their parent died.
    let adopter = system::process(first.pid).map_or(1, |z| z.ppid);
    for z in zombies {
        record("adopted", json!({"of": z.pid, "by": adopter}));
    }
    let ms = || killed_at.elapsed().as_secs_f64() * 1e3;
    if adopting {
        let n = zombies.len();
        say(tr!(
            "all {} were adopted by pid {}, this lesson",
            n,
            adopter
        ));
        for z in zombies {
            let reaped = adopt(Pid::from_raw(z.pid), "zombie")?.wait4()?;
            record("reaped", reaped.fields());
        }
        let left = system::zombies_of(getpid().as_raw()).len();
        let text = tr!(
            "reaped them all, {:.1} ms after the kill: zombies left: {}",
            ms(),
            left
        );
        event("flood", json!({"zombies": left}), text);
        return Ok(());
    }
    let adopter_is = system::describe(adopter);
    say(tr!("they were adopted by {}", adopter_is));
    let pids: Vec<i32> = zombies.iter().map(|z| z.pid).collect();
    let left = system::wait_until_reaped(&pids);
    if left == 0 {
        let text = tr!("{} reaped them all in {:.1} ms", adopter_is, ms());
        event("flood", json!({"zombies": 0}), text);
        return Ok(());
    }
    let text = tr!(
        "{} are still zombies {:.1} s later, when I stop watching: {} has not reaped them yet",
        left,
        killed_at.elapsed().as_secs_f64(),
        adopter_is
    );
    event("unreaped", json!({"zombies": left, "by": adopter}), text);
    say(system::pid_1_problem());
    Ok(())
}

/// A second between parts, cut short by Ctrl-C, which ends the lesson.
fn between_parts() -> Result<()> {
    timing::sleep(timing::scaled(1.0));
    common::check_stop()
}
