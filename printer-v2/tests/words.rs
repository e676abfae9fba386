//! Under `--pause`, version 2 has no step to hold at: it does not pause,
//! and so its time line still compares the times.

use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

#[test]
fn pause_that_never_held_does_not_stop_the_time_comparison() {
    let run = run(LESSON, &["--speed", "20", "--pause"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("pause").count(), 0, "{}", run.output());
    assert!(!run.stdout.contains("not compared"), "{}", run.output());
    assert!(
        run.stdout.contains("Time: their printing adds up to"),
        "{}",
        run.output()
    );
}
