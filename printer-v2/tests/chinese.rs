//! `--lang zh`: the lesson in the notes' language. Every line a learner
//! reads is Chinese, apart from names, numbers and commands; the trace is
//! the same in both languages.

use lesson_testing::{
    event_shapes, run, speaks_chinese, timeline_stays_aligned_in_chinese, usage_speaks_chinese,
};

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

/// Every line in Chinese, and the same events with the same fields as in
/// English.
#[test]
fn every_line_is_chinese_and_the_trace_is_the_same() {
    let args = ["--speed", "20"];
    let zh = speaks_chinese(LESSON, &args, &[]);
    assert_eq!(zh.code(), Some(0), "{}", zh.output());
    let en = run(LESSON, &args);
    assert_eq!(event_shapes(&zh), event_shapes(&en));
}

/// The quiz, in Chinese too.
#[test]
fn the_quiz_is_chinese_too() {
    let args = ["--speed", "20"];
    let zh = speaks_chinese(LESSON, &args, &[2, 1, 2]);
    assert_eq!(zh.code(), Some(0), "{}", zh.output());
    assert_eq!(zh.events("quiz").count(), 3);
}

/// The timeline's columns stand where they stand in English: its bars
/// start at the same column, whatever the width of the words around.
#[test]
fn the_timeline_stays_aligned_in_chinese() {
    timeline_stays_aligned_in_chinese(LESSON, &["--speed", "20"]);
}

/// `--help` and the usage errors in Chinese too, under `--lang zh`,
/// `LESSON_LANG=zh` or a Chinese locale; in English as they always were.
#[test]
fn help_and_usage_errors_are_chinese_too() {
    usage_speaks_chinese(LESSON);
}
