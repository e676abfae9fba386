//! `--quiz`, answered through a pipe, one answer a line: each question is
//! judged from what the run showed, and a certain one exactly.

use lesson_testing::{Scratch, quiz};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

/// The right answers score 2 of 2: with the lock, exactly 3 of 6 buyers are
/// told bought and the file says 0 left. Each question and answer is a `quiz`
/// event.
#[test]
fn right_answers_score_all() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    let run = quiz(LESSON, &args, &[1, 1]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(run.stdout.contains("Score: 2 of 2"), "{}", run.output());
    let events: Vec<_> = run.events("quiz").collect();
    assert_eq!(events.len(), 2, "{}", run.output());
    for (e, answer) in events.iter().zip([1, 1]) {
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
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    let run = quiz(LESSON, &args, &[2, 2]);
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
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--speed", "20", "--tickets", "3", "--file", &file];
    for answers in [&[9][..], &[]] {
        let run = quiz(LESSON, &args, answers);
        assert_eq!(run.code(), Some(2), "{}", run.output());
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
        assert!(run.stderr.contains("--quiz"), "{}", run.output());
        assert_eq!(run.events("quiz").count(), 0);
    }
}
