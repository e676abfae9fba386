//! With `--pause`, the first buyer to hold the lock holds it until Enter:
//! the hint then finds this sale's lock alone in `/proc/locks`, by the
//! inode of its lock file, and each buyer goes by its log name in
//! `/proc/PID/comm`, as `ps` shows it. Linux: `/proc`.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::log::read_trace;
use lesson_testing::{Scratch, kernel_names, locks_shown_by, look_command, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

#[test]
fn the_hint_finds_this_sale_s_lock_and_the_buyers_by_their_names() {
    let dir = Scratch::new();
    let (file, trace) = (dir.path("ticket.json"), dir.path("trace.jsonl"));
    let args = [
        "--pause",
        "--speed",
        "20",
        "--buyers",
        "3",
        "--tickets",
        "2",
    ];
    let mut lesson = start_piped(
        LESSON,
        &[&args[..], &["--file", &file, "--trace", &trace]].concat(),
    );
    // "  0.159s   13489 buyer-2   PAUSED: buyer-2 still holds the lock; …"
    let paused = lesson.wait_for("PAUSED", 1);
    let holder: i32 = paused
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {paused}"));
    let look = look_command(&lesson.lines()).expect("a hint");
    let inode = std::fs::metadata(format!("{file}.lock"))
        .expect("the lock file")
        .ino();
    // The other two are still looking (a sleep each), then block in flock.
    let deadline = Instant::now() + Duration::from_secs(30);
    let locks = loop {
        let locks = locks_shown_by(&look);
        if locks.iter().filter(|l| l.waiting).count() == 2 || Instant::now() > deadline {
            break locks;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(locks.iter().all(|l| l.inode == inode), "{look}\n{locks:#?}");
    assert_eq!(locks.iter().filter(|l| l.waiting).count(), 2, "{locks:#?}");
    let holders: Vec<i32> = locks.iter().filter(|l| !l.waiting).map(|l| l.pid).collect();
    assert_eq!(holders, [holder], "{look}\n{locks:#?}");

    let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let seen = kernel_names(lesson.pid(), &records);
    let mut buyers: Vec<&str> = Vec::new();
    for (pid, who, comm) in &seen {
        let expected = if who == "main" { "ticket-locked" } else { who };
        assert_eq!(comm, expected, "pid {pid}: {seen:?}");
        if who != "main" {
            buyers.push(who);
        }
    }
    buyers.sort_unstable();
    assert_eq!(buyers, ["buyer-1", "buyer-2", "buyer-3"], "{seen:?}");
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
}
