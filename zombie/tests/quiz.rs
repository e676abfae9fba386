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

/// Each verdict comes after the line that is its evidence, and before the
/// next part: the dead child's state Z, then the zombies left once they
/// were adopted.
#[test]
fn each_verdict_follows_its_evidence() {
    let run = lesson_testing::quiz(LESSON, ARGS, &[4, 2]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let at = |what: &str| lesson_testing::line_of(&run, what);
    let verdicts = lesson_testing::verdict_lines(&run);
    assert_eq!(verdicts.len(), 2, "{}", run.output());
    let state_z = at("still lists it");
    assert!(
        run.stdout
            .lines()
            .nth(state_z)
            .is_some_and(|l| l.contains("state Z")),
        "{}",
        run.output()
    );
    assert!(
        state_z < verdicts[0],
        "state Z, then its verdict\n{}",
        run.output()
    );
    assert!(
        verdicts[0] < at("── 2."),
        "judged before part 2\n{}",
        run.output()
    );
    let left = at("zombies left: 0");
    assert!(at("── 3.") < left, "{}", run.output());
    assert!(
        left < verdicts[1],
        "the zombies left, then the verdict\n{}",
        run.output()
    );
    assert!(
        verdicts[1] < at("── 4."),
        "judged before part 4\n{}",
        run.output()
    );
}
