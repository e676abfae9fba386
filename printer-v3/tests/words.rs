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

/// What the log says of each colleague's printing, the timeline says too,
/// to the millisecond.
#[test]
fn the_log_and_the_timeline_agree() {
    for _ in 0..3 {
        let run = run(LESSON, &["--speed", "20", "--workers", "4"]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        lesson_testing::log_agrees_with_timeline(&run);
    }
}

/// One colleague alone: the verdict says so, and claims no join that never
/// happened.
#[test]
fn one_colleague_is_never_said_to_be_joined() {
    let run = run(LESSON, &["--speed", "20", "--workers", "1"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(!run.stdout.contains("main joined each"), "{}", run.output());
    assert!(
        run.stdout.contains("one colleague alone"),
        "{}",
        run.output()
    );
}
