//! 孤儿进程 (orphan processes): a parent ends while its child still runs.
//! Watch the child notice that its parent changed, learn who adopted it
//! (init, a subreaper, or this lesson), and be reaped by its new parent.

use std::process::ExitCode;
use std::time::Duration;

use common::orphan::wait_for_new_parent;
use common::process::{adopt, stopping};
use common::{
    Channel, Pid, Result, heading, json, log, say, say_with, sleep_like_seed, spawn, system, timing,
};

fn main() -> ExitCode {
    common::orphan::lesson(common::about!(), |adopting| {
        heading(
            "Orphans",
            "The lesson starts a parent P, and P starts a child C. P ends while C still runs:
             C is an orphan, and some other process adopts it, becomes its parent and reaps it.",
        );
        let lesson = Pid::this();
        let news = Channel::new()?;
        let parent = spawn("P", || parent(lesson, &news))?;
        let orphan = Pid::from_raw(news.recv()?.ok_or("P ended before it started C")?);
        let ended = parent.join()?;
        log::line(format!(
            "reaped P at once: it {ended}; C (pid {orphan}) runs on without a parent"
        ));
        if adopting {
            let reaped = adopt(orphan, "C")?.join_with_usage()?;
            let text = format!("reaped C, the orphan I adopted: it {}", reaped.ended);
            say_with("reaped", reaped.fields(), text);
        } else {
            watch_the_system_reap(orphan);
        }
        Ok(())
    })
}

/// P: starts C, waits until C has seen who its parent is, then exits.
fn parent(lesson: Pid, news: &Channel) -> Result<()> {
    let told = Channel::new()?;
    let me = Pid::this();
    let child = spawn("C", || orphan(lesson, me, &told))?;
    told.recv()?
        .ok_or("C ended before it reported its parent")?;
    news.send(child.pid().as_raw())?;
    say(
        "exit",
        format!(
            "I exit now, while my child C (pid {}) still runs",
            child.pid()
        ),
    );
    Ok(())
}

/// C: reports its parent, notices when the parent changes, runs a little
/// longer as an orphan, and exits.
fn orphan(lesson: Pid, parent: Pid, told: &Channel) -> Result<i32> {
    // The record's own "ppid" field is the one this event is about.
    say("parent", format!("my parent is P (pid {})", Pid::parent()));
    told.send(0)?;
    let adopter = wait_for_new_parent(parent)?;
    let comm = system::process(adopter.as_raw())
        .map(|p| p.comm)
        .unwrap_or_default();
    let who = if adopter == lesson {
        "this lesson, a subreaper playing the part of init"
    } else if adopter.as_raw() == 1 {
        "init, pid 1"
    } else {
        "a subreaper (as systemd --user is)"
    };
    say_with(
        "adopted",
        json!({"old": parent.as_raw(), "new": adopter.as_raw(), "comm": comm}),
        format!("P is gone: my parent is now pid {adopter} ({comm}), {who}"),
    );
    sleep_like_seed();
    say("exit", "I exit with status 3; my new parent should reap me");
    Ok(3)
}

/// With `--no-subreaper`: the lesson cannot reap C, only watch whether its
/// adopter does.
fn watch_the_system_reap(orphan: Pid) {
    let alive = || system::process(orphan.as_raw()).is_some_and(|p| !p.is_zombie());
    while alive() && !stopping() {
        timing::sleep(Duration::from_millis(10));
    }
    let Some(zombie) = system::process(orphan.as_raw()) else {
        log::line(format!("C (pid {orphan}) has been reaped by its adopter"));
        return;
    };
    let within = timing::scaled(2.0).max(Duration::from_millis(200));
    if system::wait_until_reaped(&[orphan.as_raw()], within) == 0 {
        log::line(format!(
            "C (pid {orphan}) ended and {} reaped it",
            system::describe(zombie.ppid)
        ));
        return;
    }
    say_with(
        "unreaped",
        json!({"of": orphan.as_raw(), "by": zombie.ppid}),
        format!(
            "C (pid {orphan}) ended, but {} has not reaped it: it stays a zombie",
            system::describe(zombie.ppid)
        ),
    );
    log::line(system::PID_1_PROBLEM);
}
