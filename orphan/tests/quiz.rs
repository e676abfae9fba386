//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::{quiz_refuses_a_bad_or_missing_answer, quiz_scores_all, quiz_scores_none};

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

const ARGS: &[&str] = &["--speed", "20"];

/// The right answers score 2 of 2: who adopts C (the nearest subreaper: this
/// lesson) and who reaps it (its new parent). Each question and answer is a
/// `quiz` event.
#[test]
fn right_answers_score_all() {
    quiz_scores_all(LESSON, ARGS, &[3, 2]);
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

/// Each verdict comes after the line that is its evidence: C's new parent,
/// then C reaped by it.
#[test]
fn each_verdict_follows_its_evidence() {
    let run = lesson_testing::quiz(LESSON, ARGS, &[3, 2]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let at = |what: &str| lesson_testing::line_of(&run, what);
    let verdicts = lesson_testing::verdict_lines(&run);
    assert_eq!(verdicts.len(), 2, "{}", run.output());
    let adopted = at("P is gone: my parent is now");
    assert!(
        adopted < verdicts[0],
        "the adoption, then its verdict\n{}",
        run.output()
    );
    let reaped = at("reaped C, the orphan I adopted");
    assert!(
        reaped < verdicts[1],
        "C reaped, then the verdict\n{}",
        run.output()
    );
    assert!(verdicts[1] < at("Score: 2 of 2"), "{}", run.output());
}
