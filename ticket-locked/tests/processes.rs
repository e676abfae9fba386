//! The ticket office's processes when the lesson is killed outright (also
//! one started with SIGTERM blocked), when it starts with SIGCHLD ignored,
//! and under a umask that spares not even the owner.

use std::time::{Duration, Instant};

use common::system::{ProcessInfo, processes};
use lesson_testing::{
    Running, Scratch, run_ignoring_sigchld, runs_under_a_umask_that_spares_not_the_owner, start_in,
};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

/// Kills the lesson's main process (SIGKILL), then checks that every buyer
/// ended of it within 5 s: none may be left running, only zombies.
fn killed_leaves_no_buyer_running(lesson: Running) {
    lesson.signal(Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    let running = loop {
        let running: Vec<ProcessInfo> = processes()
            .into_iter()
            .filter(|p| p.pgid == lesson.pid() && !p.is_zombie())
            .collect();
        if running.is_empty() || Instant::now() > deadline {
            break running;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(running.is_empty(), "still running 5 s on: {running:#?}");
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.status.code(), None, "{}", run.output());
    assert!(left.iter().all(ProcessInfo::is_zombie), "{left:#?}");
}

/// SIGKILL cannot be caught, so the main process cannot pass it on: the
/// buyers, which asked for SIGTERM on their parent's death, must end of it,
/// whether they sleep, wait for the lock or hold it.
#[test]
fn sigkill_of_the_main_process_leaves_no_buyer_running() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let lesson = start_in(
        &dir,
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "3",
            "--buyers",
            "6",
            "--speed",
            "2",
        ],
    );
    lesson.wait_for("search", 1);
    killed_leaves_no_buyer_running(lesson);
}

/// Started with SIGTERM blocked (a signal mask is kept through `exec`), the
/// buyers would inherit the mask, and the SIGTERM their parent's death
/// sends them would wait: the lesson unblocks it as it starts. Killed as
/// its buyers begin their first sleep, 10 to 30 s long at this speed: a
/// buyer left running would still be asleep when looked for.
#[test]
fn sigkill_of_a_main_started_with_sigterm_blocked_leaves_no_buyer_running() {
    if !lesson_testing::stops::env_blocks_signals() {
        return;
    }
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--file", &file, "--speed", "0.1"];
    let lesson = lesson_testing::start_in_blocking(&dir, "TERM", LESSON, &args);
    lesson.wait_for("sleep", 1);
    killed_leaves_no_buyer_running(lesson);
}

/// Started with SIGCHLD ignored (a shell's `trap '' CHLD`, kept through
/// `exec`), the kernel would reap the buyers itself, and the lesson could
/// not learn how each ended: it puts SIGCHLD back to its default first.
#[test]
fn started_with_sigchld_ignored_every_buyer_is_reaped_by_the_lesson() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run_ignoring_sigchld(LESSON, &["--file", &file, "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("bought").count(), 3, "{}", run.output());
}

/// Each buyer opens the ticket file and its lock again: a umask of 277
/// would have made a missing one, made by the lesson, unwritable to it.
#[test]
fn under_umask_277_it_runs_and_leaves_nothing() {
    runs_under_a_umask_that_spares_not_the_owner(LESSON, &["--file", "ticket.json"]);
}
