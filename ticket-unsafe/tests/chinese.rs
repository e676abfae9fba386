//! `--lang zh`: the lesson in the notes' language. Every line a learner
//! reads is Chinese, apart from names, numbers and commands; the trace is
//! the same in both languages.

use lesson_testing::{Scratch, event_shapes, run, speaks_chinese, usage_speaks_chinese};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-unsafe");

/// Every line in Chinese, and the same events with the same fields as in
/// English.
#[test]
fn every_line_is_chinese_and_the_trace_is_the_same() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    let zh = speaks_chinese(LESSON, &args, &[]);
    assert_eq!(zh.code(), Some(0), "{}", zh.output());
    let en = run(LESSON, &args);
    assert_eq!(event_shapes(&zh), event_shapes(&en));
}

/// The quiz, in Chinese too.
#[test]
fn the_quiz_is_chinese_too() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    let zh = speaks_chinese(LESSON, &args, &[2, 2]);
    assert_eq!(zh.code(), Some(0), "{}", zh.output());
    assert_eq!(zh.events("quiz").count(), 2);
}

/// `--help` and the usage errors in Chinese too, under `--lang zh`,
/// `LESSON_LANG=zh` or a Chinese locale; in English as they always were.
#[test]
fn help_and_usage_errors_are_chinese_too() {
    usage_speaks_chinese(LESSON);
}

/// A stopped sale's reckoning in Chinese, the count put in without a stray space.
#[test]
fn a_stopped_sale_reckons_in_chinese() {
    lesson_testing::tickets::a_stopped_sale_reckons_in_chinese(LESSON);
}
