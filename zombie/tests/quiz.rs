//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::quiz;

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

/// The right answers score 2 of 2: the dead child's state (Z) and what a killed
/// parent's zombies become (adopted and reaped). Each question and answer is a
/// `quiz` event.
#[test]
fn right_answers_score_all() {
    let args = ["--speed", "max", "--flood", "3", "--cpu-ms", "0"];
    let run = quiz(LESSON, &args, &[4, 2]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(run.stdout.contains("Score: 2 of 2"), "{}", run.output());
    let events: Vec<_> = run.events("quiz").collect();
    assert_eq!(events.len(), 2, "{}", run.output());
    for (e, answer) in events.iter().zip([4, 2]) {
        assert_eq!(e.fields["answer"], answer, "{}", run.output());
        assert_eq!(e.fields["held"], true, "{}", run.output());
        let choices = e.fields["choices"].as_array().expect("choices");
        let shown = e.fields["shown"].as_u64().expect("shown") as usize;
        assert!((1..=choices.len()).contains(&shown), "{e:?}");
        assert!(e.fields["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
}

/// Answers the run cannot bear out are counted wrong, and said so.
#[test]
fn wrong_answers_score_none() {
    let args = ["--speed", "max", "--flood", "3", "--cpu-ms", "0"];
    let run = quiz(LESSON, &args, &[1, 1]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(run.stdout.contains("Score: 0 of 2"), "{}", run.output());
    assert_eq!(
        run.stdout.matches("NOT THIS TIME.").count(),
        2,
        "{}",
        run.output()
    );
    assert!(run.events("quiz").all(|e| e.fields["held"] == false));
}

/// A piped answer that is not one of the choices, or none at all, is an
/// error in one line, exit status 2, before anything is run.
#[test]
fn a_bad_or_missing_answer_is_refused() {
    let args = ["--speed", "max", "--flood", "3", "--cpu-ms", "0"];
    for answers in [&[9][..], &[]] {
        let run = quiz(LESSON, &args, answers);
        assert_eq!(run.code(), Some(2), "{}", run.output());
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
        assert!(run.stderr.contains("--quiz"), "{}", run.output());
        assert_eq!(run.events("quiz").count(), 0);
    }
}
