//! Version 2's claim: `join` after each `start` makes the printing serial,
//! in the order of the code. Also what any lesson owes its learner: a child
//! that panics is reported and does not run its parent's code, and Ctrl-C
//! stops every child.

use common::timeline::{overlaps, turns};
use lesson_testing::{run, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

#[test]
fn printing_is_serial_in_code_order() {
    let run = run(LESSON, &["--workers", "3", "--speed", "20"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let mut turns = turns(&run.records);
    assert!(overlaps(&turns).is_empty(), "{turns:#?}");
    turns.sort_by(|a, b| a.start.total_cmp(&b.start));
    let order: Vec<&str> = turns.iter().map(|t| t.who.as_str()).collect();
    assert_eq!(order, ["p1", "p2", "p3"]);
}

#[test]
fn a_panicking_child_is_reported_and_never_runs_its_parents_code() {
    let run = run(LESSON, &["--speed", "max", "--panic-in", "p2"]);
    assert_eq!(
        run.code(),
        Some(1),
        "a failed child fails the lesson\n{}",
        run.output()
    );
    assert!(
        run.stderr.contains("p2 panics on purpose"),
        "{}",
        run.output()
    );
    let reports: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("panicked (exit status 101)"))
        .collect();
    assert_eq!(reports.len(), 1, "{}", run.output());
    assert!(
        reports[0].contains(" main ") && reports[0].contains("p2 (pid"),
        "{}",
        reports[0]
    );
    assert_eq!(run.by("p2").count(), 0, "p2 did none of the task");
    // Had p2 unwound into main's code, it would have started p3 and drawn a
    // timeline of its own.
    assert_eq!(run.events("start").filter(|r| r.who == "p3").count(), 1);
    assert_eq!(
        run.stdout.matches("Verdict:").count(),
        1,
        "{}",
        run.output()
    );
}

#[test]
fn ctrl_c_stops_and_reaps_every_child() {
    // p1 prints for 0.5 to 1.5 s: SIGINT comes while it prints.
    let lesson = start(LESSON, &["--speed", "2"]);
    lesson.wait_for("start", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    assert_eq!(run.events("end").count(), 0, "p1 was stopped mid-print");
    assert_eq!(
        run.by("p2").count() + run.by("p3").count(),
        0,
        "nothing new starts"
    );
    assert!(run.stderr.contains("stopped by SIGINT"), "{}", run.output());
}
