//! `--schedule` and `--every-schedule`: each colleague passes one sleep
//! point, its printing, and the schedule orders them.

use lesson_testing::run;
use lesson_testing::schedules::printers;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

/// Main joins each before it starts the next: one order only, and the
/// rest never arise.
#[test]
fn only_the_order_of_the_code_runs() {
    let (done, runs) = printers::every_run(LESSON, &[]);
    assert_eq!(runs, [(vec![1, 2, 3], false)], "{}", done.output());
    assert!(
        done.stdout.contains("The other 5 never arose"),
        "{}",
        done.output()
    );
}

#[test]
fn a_schedule_against_the_code_is_named_and_not_run() {
    let done = run(LESSON, &["--workers", "3", "--schedule", "2,1,3"]);
    assert_eq!(done.code(), Some(1), "{}", done.output());
    assert!(
        done.stderr.contains("p2 has not been started yet")
            || done.stderr.contains("process 2 has not been started yet"),
        "{}",
        done.output()
    );
    assert_eq!(done.events("turn").count(), 0, "{}", done.output());
}

/// Asked in how many orders two print at once; judged from every run.
#[test]
fn the_quiz_asks_how_many_orders_overlap() {
    lesson_testing::quiz_scores_all(LESSON, &["--workers", "3", "--every-schedule"], &[1]);
}
