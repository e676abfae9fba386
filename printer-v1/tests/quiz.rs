//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::{quiz_refuses_a_bad_or_missing_answer, quiz_scores_all, quiz_scores_none};

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

const ARGS: &[&str] = &["--speed", "20"];

/// The right answers score 3 of 3: nothing keeps them apart, so they may
/// overlap (yes holds even when their turns do not meet), they print side by
/// side, and nobody waits. Each question and answer is a `quiz` event.
#[test]
fn right_answers_score_all() {
    quiz_scores_all(LESSON, ARGS, &[1, 3, 2]);
}

/// Answers the run cannot bear out are counted wrong, and said so.
#[test]
fn wrong_answers_score_none() {
    quiz_scores_none(LESSON, ARGS, &[2, 1, 1]);
}

/// A piped answer that is no choice, or none at all: exit 2, one line.
#[test]
fn a_bad_or_missing_answer_is_refused() {
    quiz_refuses_a_bad_or_missing_answer(LESSON, ARGS);
}

/// An answer from `/dev/zero` never ends: refused, not read for good.
#[test]
fn an_answer_that_never_ends_is_refused() {
    lesson_testing::refuses_a_line_that_never_ends(LESSON, &["--quiz", "--speed", "max"]);
}
