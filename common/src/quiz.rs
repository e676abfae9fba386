//! `--quiz`: before a part of a lesson, one multiple-choice question; after
//! it, whether the prediction held, judged from what this run showed (its
//! trace, the kernel's answers), never from a fixed key. Each question and
//! answer is a `quiz` event; the lesson ends with `Score: K of N`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;

use crate::error::{Result, Usage};
use crate::i18n::{self, Lang};
use crate::{log, pause, tr};

static ON: AtomicBool = AtomicBool::new(false);
static ASKED: AtomicUsize = AtomicUsize::new(0);
static HELD: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn enable() {
    ON.store(true, Ordering::SeqCst);
}

/// A prediction the learner made.
#[derive(Debug)]
pub struct Guess {
    id: &'static str,
    choices: Vec<String>,
    /// The choice picked, from 0.
    answer: usize,
}

/// With `--quiz`, asks `question` with its `choices` and reads the number
/// of one from standard input: asked again on a terminal when it is not one
/// of them, an error (exit status 2) when the answers come from a pipe.
/// Without `--quiz`, asks nothing.
pub fn ask(id: &'static str, question: &str, choices: &[String]) -> Result<Option<Guess>> {
    if !ON.load(Ordering::SeqCst) {
        return Ok(None);
    }
    log::prose("");
    log::prose(tr!("QUESTION: {}", question));
    for (i, choice) in choices.iter().enumerate() {
        log::prose(format!("  {}) {choice}", i + 1));
    }
    let n = choices.len();
    loop {
        log::prose(tr!("Your answer (1 to {}):", n));
        let Some(line) = pause::read_line()? else {
            return Err(Usage(tr!("--quiz: standard input ended before an answer")).into());
        };
        match line.trim().parse::<usize>() {
            Ok(k) if (1..=n).contains(&k) => {
                return Ok(Some(Guess {
                    id,
                    choices: choices.to_vec(),
                    answer: k - 1,
                }));
            }
            _ if std::io::stdin().is_terminal() => {
                log::prose(tr!("Give a number from 1 to {}.", n))
            }
            _ => {
                // Shown short, and with no control character let through.
                let given: String = line.trim().chars().take(20).collect();
                let given = given.escape_debug().to_string();
                return Err(
                    Usage(tr!("--quiz: '{}' is not an answer from 1 to {}", given, n)).into(),
                );
            }
        }
    }
}

/// Says whether `guess` held in this run: `shown` is the choice the run
/// showed, `right` every choice the run bears out (more than one where
/// chance decided), and `why` what the lesson explains of it.
pub fn check(guess: Option<Guess>, shown: usize, right: &[usize], why: &str) {
    let Some(guess) = guess else {
        return;
    };
    let held = right.contains(&guess.answer);
    ASKED.fetch_add(1, Ordering::SeqCst);
    if held {
        HELD.fetch_add(1, Ordering::SeqCst);
    }
    log::record(
        "quiz",
        json!({"id": guess.id, "choices": guess.choices, "answer": guess.answer + 1,
               "shown": shown + 1, "held": held}),
    );
    // The English explanation starts a sentence here: a capital. The
    // Chinese has none, and a name it starts with (main, join) keeps its case.
    let mut why = why.to_owned();
    if let Some(first) = why.get(..1).filter(|_| i18n::lang() == Lang::En) {
        why.replace_range(..1, &first.to_uppercase());
    }
    let you = &guess.choices[guess.answer];
    let run = &guess.choices[shown];
    log::prose(tr!(
        "{} You said {}) {}; this run showed {}) {}. {}",
        if held {
            tr!("RIGHT.")
        } else {
            tr!("NOT THIS TIME.")
        },
        guess.answer + 1,
        you,
        shown + 1,
        run,
        why
    ));
}

/// The choices of a question, as owned strings.
pub fn choices(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

/// `Score: K of N`, if any question was asked.
pub(crate) fn score() -> Option<String> {
    let asked = ASKED.load(Ordering::SeqCst);
    (asked > 0).then(|| tr!("Score: {} of {}", HELD.load(Ordering::SeqCst), asked))
}
