//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::{
    Scratch, quiz_refuses_a_bad_or_missing_answer, quiz_scores_all, quiz_scores_none,
};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-unsafe");

/// The right answers score 2 of 2: without a lock, more buyers than tickets are
/// told bought, and the file keeps more than it should. Each question and
/// answer is a `quiz` event.
#[test]
fn right_answers_score_all() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    quiz_scores_all(LESSON, &args, &[2, 2]);
}

/// Answers the run cannot bear out are counted wrong, and said so.
#[test]
fn wrong_answers_score_none() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    quiz_scores_none(LESSON, &args, &[1, 3]);
}

/// A piped answer that is no choice, or none at all: exit 2, one line.
#[test]
fn a_bad_or_missing_answer_is_refused() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    quiz_refuses_a_bad_or_missing_answer(LESSON, &args);
}
