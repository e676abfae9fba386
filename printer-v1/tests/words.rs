//! Under `--pause`, version 1 has no step to hold at: it does not pause,
//! and so its time line still compares the times.

use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

#[test]
fn pause_that_never_held_does_not_stop_the_time_comparison() {
    let run = run(LESSON, &["--speed", "20", "--pause"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("pause").count(), 0, "{}", run.output());
    assert!(!run.stdout.contains("PAUSED"), "{}", run.output());
    assert!(!run.stdout.contains("not compared"), "{}", run.output());
    assert!(
        run.stdout.contains("Time: their printing adds up to"),
        "{}",
        run.output()
    );
}

/// At full speed a column of the timeline is microseconds, and says so.
#[test]
fn a_column_is_never_called_zero_seconds() {
    let run = run(LESSON, &["--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let legend = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Timeline:"))
        .unwrap_or_else(|| panic!("{}", run.output()));
    assert!(!legend.contains("0.000 s"), "{legend}");
}

/// What the log says of each colleague's printing, the timeline says
/// too, to the millisecond; and one colleague alone is said to be alone.
#[test]
fn the_run_agrees_with_itself() {
    lesson_testing::printer_agrees_with_itself(LESSON);
}
