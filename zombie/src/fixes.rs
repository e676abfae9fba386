//! Part 4: what real programs do instead of killing the parent. Each way
//! forks children that end at once, then counts the zombies left. Two of
//! them set how the kernel treats SIGCHLD, which takes `unsafe`: the
//! reasoning that makes a signal handler safe is part of the lesson.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::child::Child;
use common::log::plural;
use common::waitid_wnowait;
use common::{Context, Fork, Result, event, fork, heading, say, system, timing, tr};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction, signal};
use nix::unistd::getpid;
use serde_json::json;

/// How many children each way forks.
const CHILDREN: usize = 5;

pub fn what_real_programs_do() -> Result<()> {
    heading(
        &tr!("4. What real programs do"),
        &tr!(
            "Killing the parent is the notes' fix. A program that means to live fixes its own \
             code, in one of three ways; each is shown with the zombies it leaves."
        ),
    )?;
    wait_for_each()?;
    // Each of the other two ways changes how this process treats SIGCHLD:
    // each runs in a process of its own.
    match fork("handler")? {
        Fork::Child(me) => me.exit(reap_in_a_sigchld_handler()),
        Fork::Parent(handler) => handler.wait4()?,
    };
    match fork("ignorer")? {
        Fork::Child(me) => me.exit(ignore_sigchld()),
        Fork::Parent(ignorer) => ignorer.wait4()?,
    };
    Ok(())
}

/// Forks `CHILDREN` children, named `prefix1`, `prefix2` …, that exit at once.
fn children_that_exit(prefix: &str) -> Result<Vec<Child>> {
    let mut children = Vec::new();
    for i in 1..=CHILDREN {
        match fork(format_args!("{prefix}{i}"))? {
            Fork::Child(me) => me.exit(0),
            Fork::Parent(child) => children.push(child),
        }
    }
    Ok(children)
}

/// (a) Wait for every child you fork: `wait4` reaps each one.
fn wait_for_each() -> Result<()> {
    let children = children_that_exit("w")?;
    for child in &children {
        waitid_wnowait(child.pid()).context("waitid")?;
    }
    let before = zombies_now();
    let zombies = plural(before, "zombie", "zombies");
    say(tr!(
        "a) wait for each child: all {} have ended, {}",
        CHILDREN,
        zombies
    ));
    for child in children {
        child.wait4()?;
    }
    let after = zombies_now();
    let zombies = plural(after, "zombie", "zombies");
    let text = tr!("   wait4 reaped each: {}", zombies);
    let fields = json!({"way": "wait", "before": before, "after": after});
    event("fix", fields, text);
    Ok(())
}

/// How many children [`on_sigchld`] has reaped, and how many of them had
/// failed (any status but 0, or a signal). A handler may touch nothing but
/// atomics: it can interrupt this process anywhere.
static REAPED_BY_HANDLER: AtomicUsize = AtomicUsize::new(0);
static FAILED_IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The SIGCHLD handler: reaps every child that has ended. One SIGCHLD may
/// stand for several children (signals of one kind do not queue), so it
/// calls `waitpid(-1, WNOHANG)` until none is left.
extern "C" fn on_sigchld(_: libc::c_int) {
    // It may have interrupted code that is about to read errno: waitpid's
    // own errno (ECHILD at the end) must not reach it.
    let saved = Errno::last_raw();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid(2) is async-signal-safe (signal-safety(7));
        // `status` is a valid, writable int on this handler's stack.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        // What the kernel kept of it is this handler's to read, or lost.
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            FAILED_IN_HANDLER.fetch_add(1, Ordering::SeqCst);
        }
        // Its pid is free now: a Ctrl-C passed on must never reach its
        // next owner (atomics only, no lock).
        common::child::reaped_elsewhere(pid);
        REAPED_BY_HANDLER.fetch_add(1, Ordering::SeqCst);
    }
    Errno::set_raw(saved);
}

/// (b) Reap in a SIGCHLD handler, as children end, while doing other work.
fn reap_in_a_sigchld_handler() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        // SA_RESTART: the other work's system calls go on after it;
        // SA_NOCLDSTOP: a child that stops is no child to reap.
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: `on_sigchld` is async-signal-safe: it calls only waitpid(2),
    // saves and restores errno, and touches atomics, never a lock or the
    // allocator, so it is safe wherever it interrupts this process.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.context("sigaction(SIGCHLD)")?;
    children_that_exit("h")?;
    // Other work, while the handler reaps whoever ends.
    let reaped = || REAPED_BY_HANDLER.load(Ordering::SeqCst);
    meanwhile(|| reaped() >= CHILDREN)?;
    common::check_stop()?;
    let (after, reaped) = (zombies_now(), reaped());
    let text = tr!(
        "b) a SIGCHLD handler calls waitpid(-1, WNOHANG) until none is left: it reaped {} \
         as they ended; {}",
        reaped,
        plural(after, "zombie", "zombies")
    );
    let fields = json!({"way": "sigchld", "reaped": reaped, "after": after});
    event("fix", fields, text);
    match FAILED_IN_HANDLER.load(Ordering::SeqCst) {
        0 => Ok(()),
        n => Err(common::anyhow!(tr!(
            "{} of the children the handler reaped failed",
            n
        ))),
    }
}

/// (c) Say you will never wait: with SIGCHLD ignored, the kernel reaps.
fn ignore_sigchld() -> Result<()> {
    // SAFETY: SIG_IGN runs no code of this process: nothing in it has to be
    // async-signal-safe.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.context("signal(SIGCHLD, SIG_IGN)")?;
    let children = children_that_exit("i")?;
    // They are gone from the process table as soon as they end.
    let me = getpid().as_raw();
    meanwhile(|| system::children_of(me).is_empty())?;
    // The kernel reaped them: their pids are free, for Ctrl-C too. (So are
    // their exit statuses: a child that failed here fails unseen.)
    for child in &children {
        if system::process(child.pid().as_raw()).is_none() {
            common::child::reaped_elsewhere(child.pid().as_raw());
        }
    }
    common::check_stop()?;
    let after = zombies_now();
    let wait = match nix::sys::wait::wait() {
        Err(Errno::ECHILD) => tr!("wait() finds no child at all (ECHILD)"),
        other => tr!("wait() returned {}", format!("{other:?}")),
    };
    let zombies = plural(after, "zombie", "zombies");
    let text = tr!(
        "c) signal(SIGCHLD, SIG_IGN): the kernel reaps them itself; {}, and {}",
        zombies,
        wait
    );
    event("fix", json!({"way": "ignore", "after": after}), text);
    Ok(())
}

/// Other work, in steps of 50 µs growing to 1 ms (children that exit at once
/// are gone within a few), until `done` or for 5 s at most.
fn meanwhile(done: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut step = Duration::from_micros(50);
    while !done() && Instant::now() < deadline {
        timing::sleep(step);
        step = (step * 2).min(Duration::from_millis(1));
        common::check_stop()?;
    }
    Ok(())
}

fn zombies_now() -> u64 {
    system::zombies_of(getpid().as_raw()).len() as u64
}
