//! 僵尸进程 (zombie processes): a child that has ended stays in the process
//! table until its parent reaps it. Watch the kernel report a dead child in
//! state Z and hand its parent the exit status and CPU time it kept; then
//! watch zombies pile up under a parent that never reaps, until it is killed.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::process::{Child, ForkFailed, adopt, stopping, wait_until_dead};
use common::system;
use common::{Channel, Pid, Result, Signal, heading, json, log, say_with, spawn, timing};

fn main() -> ExitCode {
    common::zombie::lesson(common::about!(), |args, adopting| {
        every_child_is_a_zombie_until_reaped(Duration::from_millis(args.cpu_ms))?;
        pause();
        let parent = zombies_pile_up(args.flood)?;
        pause();
        kill_the_parent(parent, adopting)
    })
}

fn every_child_is_a_zombie_until_reaped(cpu: Duration) -> Result<()> {
    heading(
        "1. Every child is a zombie until it is reaped",
        "A child that ends gives back its memory and open files at once, but the kernel keeps
         its pid, how it ended and the CPU time it used, until its parent asks (wait).",
    );
    let child = spawn("child", || {
        let text = format!(
            "burns {} ms of CPU, then exits with status 7",
            cpu.as_millis()
        );
        say_with("exit", json!({"status": 7}), text);
        timing::burn_cpu(cpu);
        7
    })?;
    let pid = child.pid();
    // waitid(WNOWAIT): returns once the child is dead, and leaves it unreaped.
    wait_until_dead(pid)?;
    let seen =
        system::process(pid.as_raw()).ok_or("the dead child vanished before it was reaped")?;
    say_with(
        "state",
        json!({"of": pid.as_raw(), "state": seen.state.to_string()}),
        format!(
            "pid {pid} has ended, yet the process table still lists it: ppid {}, state {}{}",
            seen.ppid,
            seen.state,
            if seen.is_zombie() {
                " (zombie; ps shows it as <defunct>)"
            } else {
                ""
            }
        ),
    );
    let reaped = child.join_with_usage()?;
    let (user, sys) = reaped.cpu_ms();
    say_with(
        "reaped",
        reaped.fields(),
        format!(
            "reaped pid {pid} (wait4): it {}, after {user:.0} ms of CPU in its own code and \
             {sys:.0} ms in the kernel: what the kernel had kept for me",
            reaped.ended
        ),
    );
    match system::process(pid.as_raw()) {
        None => say_with(
            "gone",
            json!({"of": pid.as_raw()}),
            format!("pid {pid} is gone from the process table"),
        ),
        Some(p) => log::line(format!(
            "pid {pid} is listed again, now as {}: the pid was reused",
            p.comm
        )),
    }
    Ok(())
}

fn zombies_pile_up(n: u32) -> Result<Child> {
    heading(
        "2. The harm: zombies pile up",
        "A parent that never waits keeps every dead child in the process table. Each zombie holds
         a pid and counts against its user's process limit until it is reaped.",
    );
    let ready = Channel::new()?;
    let parent = spawn("parent", || never_reaps(n, &ready))?;
    ready
        .recv()?
        .ok_or("the parent ended before its children did")?;
    let zombies = system::zombies_of(parent.pid().as_raw()).len();
    say_with(
        "flood",
        json!({"zombies": zombies}),
        format!(
            "the process table lists {zombies} zombies whose parent is pid {}",
            parent.pid()
        ),
    );
    let pids = match system::pid_max() {
        Some(max) => format!("{zombies} of the {max} pids this system has (pid_max)"),
        None => format!("{zombies} pids"),
    };
    log::line(format!(
        "they hold {pids}: a parent that leaked zombies in a loop would take them all, and then \
         nobody could start a process"
    ));
    Ok(parent)
}

/// The parent of part 2: it makes `n` children and never reaps them.
fn never_reaps(n: u32, ready: &Channel) -> Result<()> {
    let confined = common::zombie::confine_forks(n);
    match &confined {
        Ok(how) => log::line(how),
        Err(why) => log::line(format!("(fork cannot be made to fail here: {why})")),
    }
    let mut children = Vec::new();
    for i in 1..=n {
        children.push(spawn(&format!("z{i}"), || ())?);
    }
    for child in &children {
        wait_until_dead(child.pid())?;
    }
    log::line(format!(
        "my {n} children have all exited, and I never wait for them"
    ));
    if confined.is_ok() {
        match spawn("one more", || ()) {
            Err(e) if e.downcast_ref().is_some_and(ForkFailed::hit_process_limit) => say_with(
                "fork_refused",
                json!({"error": "EAGAIN"}),
                format!("one more fork fails with EAGAIN: my {n} zombies use up my process limit"),
            ),
            Err(e) => return Err(e),
            Ok(_) => log::line("one more fork still worked: the process limit did not hold"),
        }
    }
    ready.send(0)?;
    while !stopping() {
        timing::sleep(Duration::from_secs(1));
    }
    Ok(())
}

fn kill_the_parent(parent: Child, adopting: bool) -> Result<()> {
    heading(
        "3. The fix: kill the parent",
        if adopting {
            "Its zombies become orphans, and whoever adopts them reaps them. On Linux the adopter
             is the nearest subreaper; this lesson made itself one (prctl PR_SET_CHILD_SUBREAPER),
             so here it plays the part of init."
        } else {
            "Its zombies become orphans, and whoever adopts them should reap them. With
             --no-subreaper this lesson leaves that to the system: let's see who adopts them."
        },
    );
    let zombies: Vec<Pid> = system::zombies_of(parent.pid().as_raw())
        .iter()
        .map(|z| Pid::from_raw(z.pid))
        .collect();
    let killed_at = Instant::now();
    parent.terminate(Signal::SIGKILL)?;
    log::line(format!(
        "killed the parent (SIGKILL) and reaped it: its {} zombies are orphans now",
        zombies.len()
    ));
    let Some(first) = zombies.first() else {
        return Ok(());
    };
    let adopter = system::process(first.as_raw()).map_or(1, |z| z.ppid);
    for z in &zombies {
        common::trace_with("adopted", json!({"of": z.as_raw(), "by": adopter}));
    }
    if adopting {
        log::line(format!(
            "all {} were adopted by pid {adopter}, this lesson",
            zombies.len()
        ));
        for z in zombies {
            let reaped = adopt(z, "zombie")?.join_with_usage()?;
            common::trace_with("reaped", reaped.fields());
        }
        let left = system::zombies_of(Pid::this().as_raw()).len();
        say_with(
            "flood",
            json!({"zombies": left}),
            format!(
                "reaped them all, {:.1} ms after the kill: zombies left: {left}",
                ms(killed_at.elapsed())
            ),
        );
        return Ok(());
    }
    log::line(format!(
        "they were adopted by {}",
        system::describe(adopter)
    ));
    let pids: Vec<i32> = zombies.iter().map(|z| z.as_raw()).collect();
    let left =
        system::wait_until_reaped(&pids, timing::scaled(2.0).max(Duration::from_millis(200)));
    if left == 0 {
        log::line(format!(
            "{} reaped them all in {:.1} ms",
            system::describe(adopter),
            ms(killed_at.elapsed())
        ));
        return Ok(());
    }
    say_with(
        "unreaped",
        json!({"zombies": left, "by": adopter}),
        format!(
            "{left} are still zombies {:.1} s later: {} does not reap the children it adopts",
            killed_at.elapsed().as_secs_f64(),
            system::describe(adopter)
        ),
    );
    log::line(system::PID_1_PROBLEM);
    Ok(())
}

fn pause() {
    timing::sleep(timing::scaled(1.0));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
