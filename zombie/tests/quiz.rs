//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::{quiz_refuses_a_bad_or_missing_answer, quiz_scores_all, quiz_scores_none};

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

const ARGS: &[&str] = &["--speed", "max", "--flood", "3", "--cpu-ms", "0"];

/// The right answers score 2 of 2: the dead child's state (Z) and what a killed
/// parent's zombies become (adopted and reaped). Each question and answer is a
/// `quiz` event.
#[test]
fn right_answers_score_all() {
    quiz_scores_all(LESSON, ARGS, &[4, 2]);
}

/// Answers the run cannot bear out are counted wrong, and said so.
#[test]
fn wrong_answers_score_none() {
    quiz_scores_none(LESSON, ARGS, &[1, 1]);
}

/// A piped answer that is no choice, or none at all: exit 2, one line.
#[test]
fn a_bad_or_missing_answer_is_refused() {
    quiz_refuses_a_bad_or_missing_answer(LESSON, ARGS);
}
