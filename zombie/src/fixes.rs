//! Part 4: what real programs do instead of killing the parent. Each way
//! forks children that end at once, then counts the zombies left.

use std::time::{Duration, Instant};

use common::child::{sigaction_sigchld_reaper, signal_sigchld_ignore};
use common::log::plural;
use common::{Context, Result, event, fork, heading, say, system, timing, tr, waitid_wnowait};
use nix::errno::Errno;
use nix::unistd::getpid;
use serde_json::json;

/// How many children each way forks.
const CHILDREN: u32 = 5;

pub fn what_real_programs_do() -> Result<()> {
    heading(
        &tr!("4. What real programs do"),
        &tr!(
            "Killing the parent is the notes' fix. A program that means to live fixes its own \
             code, in one of three ways; each is shown with the zombies it leaves."
        ),
    );
    wait_for_each()?;
    let handler = fork("handler", reap_in_a_sigchld_handler)?;
    handler.wait4()?;
    let ignorer = fork("ignorer", ignore_sigchld)?;
    ignorer.wait4()?;
    Ok(())
}

/// (a) Wait for every child you fork: `wait4` reaps each one.
fn wait_for_each() -> Result<()> {
    let mut children = Vec::new();
    for i in 1..=CHILDREN {
        children.push(fork(&format!("w{i}"), || ())?);
    }
    for child in &children {
        waitid_wnowait(child.pid()).context("waitid")?;
    }
    let before = zombies_now();
    say(tr!(
        "a) wait for each child: all {} have ended, {}",
        CHILDREN,
        plural(before, "zombie", "zombies")
    ));
    for child in children {
        child.wait4()?;
    }
    let after = zombies_now();
    event(
        "fix",
        json!({"way": "wait", "before": before, "after": after}),
        tr!(
            "   wait4 reaped each: {}",
            plural(after, "zombie", "zombies")
        ),
    );
    Ok(())
}

/// (b) Reap in a SIGCHLD handler, as children end, while doing other work.
fn reap_in_a_sigchld_handler() -> Result<()> {
    sigaction_sigchld_reaper()?;
    for i in 1..=CHILDREN {
        fork(&format!("h{i}"), || ())?;
    }
    // Other work, while the handler reaps whoever ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::child::reaped_by_sigchld_handler() < CHILDREN as usize
        && Instant::now() < deadline
    {
        timing::sleep(Duration::from_millis(1));
        common::check_stop()?;
    }
    let after = zombies_now();
    event(
        "fix",
        json!({"way": "sigchld", "reaped": common::child::reaped_by_sigchld_handler(), "after": after}),
        tr!(
            "b) a SIGCHLD handler calls waitpid(-1, WNOHANG) until none is left: it reaped {} \
             as they ended; {}",
            common::child::reaped_by_sigchld_handler(),
            plural(after, "zombie", "zombies")
        ),
    );
    Ok(())
}

/// (c) Say you will never wait: with SIGCHLD ignored, the kernel reaps.
fn ignore_sigchld() -> Result<()> {
    signal_sigchld_ignore()?;
    let mut children = Vec::new();
    for i in 1..=CHILDREN {
        children.push(fork(&format!("i{i}"), || ())?);
    }
    // They are gone from the process table as soon as they end.
    let me = getpid().as_raw();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !system::children_of(me).is_empty() && Instant::now() < deadline {
        timing::sleep(Duration::from_millis(1));
        common::check_stop()?;
    }
    let after = zombies_now();
    let wait = match nix::sys::wait::wait() {
        Err(Errno::ECHILD) => tr!("wait() finds no child at all (ECHILD)"),
        other => tr!("wait() returned {}", format!("{other:?}")),
    };
    event(
        "fix",
        json!({"way": "ignore", "after": after}),
        tr!(
            "c) signal(SIGCHLD, SIG_IGN): the kernel reaps them itself; {}, and {}",
            plural(after, "zombie", "zombies"),
            wait
        ),
    );
    Ok(())
}

fn zombies_now() -> u64 {
    system::zombies_of(getpid().as_raw()).len() as u64
}
