//! Version 3 pauses under `--pause` (the first holder, before it lets go),
//! and only then declines to compare the times; a lone run says what the
//! seed replays in one short clause.

use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

#[test]
fn a_pause_that_held_is_in_the_trace_and_the_time_line_says_so() {
    // Standard input closed: the pause holds, and goes on at its end.
    let run = run(LESSON, &["--speed", "20", "--pause"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let paused: Vec<_> = run.events("pause").collect();
    assert_eq!(paused.len(), 1, "{}", run.output());
    assert_eq!(paused[0].fields["step"], "lock");
    assert!(run.stdout.contains("PAUSED"), "{}", run.output());
    assert!(
        run.stdout.contains("Time: not compared"),
        "{}",
        run.output()
    );
}

#[test]
fn the_start_line_says_what_the_seed_replays_in_a_clause() {
    let run = run(LESSON, &["--speed", "max", "--seed", "99999"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let start = run
        .stdout
        .lines()
        .find(|l| l.contains("starts: pid"))
        .unwrap_or_else(|| panic!("{}", run.output()));
    assert!(
        start.ends_with("(--seed 99999 replays its sleeps)"),
        "{start}"
    );
}

/// What the log says of each colleague's printing, the timeline says
/// too, to the millisecond; and one colleague alone is said to be alone.
#[test]
fn the_run_agrees_with_itself() {
    lesson_testing::printer_agrees_with_itself(LESSON);
}
