//! `--schedule` and `--every-schedule`: each colleague passes one sleep
//! point, its printing, and the schedule orders them.

use lesson_testing::run;
use lesson_testing::schedules::printers;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

/// Nothing keeps them apart: every order runs, and in every one they all
/// start printing before any finishes.
#[test]
fn every_order_runs_and_every_one_overlaps() {
    let (done, runs) = printers::every_run(LESSON, &[]);
    let orders: Vec<Vec<u32>> = runs.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(orders, printers::all_orders(), "{}", done.output());
    assert!(
        runs.iter().all(|(_, overlapped)| *overlapped),
        "{}",
        done.output()
    );
    assert!(
        done.stdout.contains("6 of them overlapped"),
        "{}",
        done.output()
    );
}

#[test]
fn a_schedule_orders_the_ends() {
    let done = run(LESSON, &["--workers", "3", "--schedule", "3,1,2"]);
    assert_eq!(done.code(), Some(0), "{}", done.output());
    let ends: Vec<&str> = done.events("end").map(|r| r.who.as_str()).collect();
    assert_eq!(ends, ["p3", "p1", "p2"], "{}", done.output());
}

/// Asked in how many orders two print at once; judged from every run.
#[test]
fn the_quiz_asks_how_many_orders_overlap() {
    lesson_testing::quiz_scores_all(LESSON, &["--workers", "3", "--every-schedule"], &[3]);
}
