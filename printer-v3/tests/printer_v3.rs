//! Version 3's claim: a `Lock` makes the printing serial, and the order comes
//! from the competition, not from the code.

use common::timeline::{most_at_once, overlaps, turns};
use lesson_testing::{run, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

#[test]
fn thirty_colleagues_at_full_speed_never_overlap() {
    let run = run(LESSON, &["--workers", "30", "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let turns = turns(&run.records);
    assert_eq!(turns.len(), 30);
    assert!(overlaps(&turns).is_empty(), "{:#?}", overlaps(&turns));
}

/// The lock is made in the parent before any fork. Were `acquire` to lock a
/// descriptor inherited from the parent, every child would hold "the" lock
/// at once, and these prints of 50 to 150 ms would all overlap.
#[test]
fn the_lock_excludes_though_it_was_made_before_fork() {
    let run = run(LESSON, &["--workers", "6", "--speed", "20"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let turns = turns(&run.records);
    assert_eq!(turns.len(), 6);
    assert_eq!(most_at_once(&turns), 1, "{turns:#?}");
    let waited = turns.iter().filter(|t| t.start - t.ask > 0.04).count();
    assert!(
        waited >= 4,
        "all asked at once, so most had to wait: {turns:#?}"
    );
    assert!(run.stdout.contains("Verdict: serial"), "{}", run.output());
    let scratch = format!("lesson-{}-", run.pid);
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&scratch))
        .collect();
    assert!(
        left.is_empty(),
        "the lock's directory is removed at the end: {left:?}"
    );
}

#[test]
fn ctrl_c_stops_the_printing_and_the_waiting() {
    let lesson = start(LESSON, &["--workers", "4", "--speed", "2"]);
    lesson.wait_for("start", 1);
    lesson.wait_for("ask", 4);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    // The signal reaches the children one after another: a waiter may get
    // the lock the moment its holder dies, and start, but no print lasts long
    // enough to finish before its own signal arrives.
    assert_eq!(run.events("end").count(), 0, "{}", run.output());
    // Passed on to each of the four, SIGINT killed them all: one line says so.
    let said = "main      stopped by SIGINT; the 4 children left were killed by it";
    assert!(
        run.stderr.lines().count() == 1 && run.stderr.contains(said),
        "{}",
        run.output()
    );
}

#[test]
fn sigterm_ends_it_too() {
    let lesson = start(LESSON, &["--speed", "2"]);
    lesson.wait_for("ask", 3);
    lesson.signal(Signal::SIGTERM);
    assert_eq!(lesson.finish().code(), Some(143));
}
