//! `--quiz`: before a part of a lesson, one multiple-choice question; after
//! it, whether the prediction held, judged from what this run showed (its
//! trace), never from a fixed key. Each question and answer is a `quiz`
//! event; the lesson ends with `Score: K of N`.
//!
//! A lesson declares its questions beside it (its `quiz.rs`, named by
//! [`Lesson::QUIZ`](crate::Lesson::QUIZ)): when each is asked, and a judge
//! that reads the trace. The frame asks a part's questions as the part
//! begins, at its heading, and judges them as it ends, at the next heading
//! or when the lesson's work returns: each verdict comes after the lines
//! that are its evidence.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;

use crate::error::{Result, Usage};
use crate::i18n::{self, Lang};
use crate::log::Record;
use crate::{log, pause, signals};

static ON: AtomicBool = AtomicBool::new(false);
static ASKED: AtomicUsize = AtomicUsize::new(0);
static HELD: AtomicUsize = AtomicUsize::new(0);

/// When a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At the start of the lesson, before its first fork: for a lesson
    /// without headings, judged when its work returns.
    Start,
    /// Before part `n`: the lesson's `n`th `heading`, counted from 1.
    Part(usize),
}

impl When {
    fn part(self) -> usize {
        match self {
            When::Start => 0,
            When::Part(n) => n,
        }
    }
}

/// One question of a lesson's quiz.
#[derive(Debug, Clone, Copy)]
pub struct Question {
    /// Its name in the trace's `quiz` events, like `zombie.state`.
    pub id: &'static str,
    pub when: When,
    /// The question and its choices, from the trace so far where they name
    /// this run's numbers.
    pub ask: fn(&[Record]) -> (String, Vec<String>),
    /// What this run showed, from its trace when the part has ended; `None`
    /// when it shows nothing to judge by (the part was cut short).
    pub judge: fn(&[Record]) -> Option<Verdict>,
}

/// What a run showed of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The choice the run showed, from 0.
    pub shown: usize,
    /// Every choice the run bears out: more than one where chance decided.
    pub right: Vec<usize>,
    /// What the lesson explains of it.
    pub why: String,
}

impl Verdict {
    pub fn new(shown: usize, right: &[usize], why: String) -> Verdict {
        Verdict {
            shown,
            right: right.to_vec(),
            why,
        }
    }
}

/// The lesson's questions, the part going on, and the predictions made for it.
struct Quiz {
    questions: &'static [Question],
    part: Option<usize>,
    pending: Vec<(&'static Question, Guess)>,
}

static QUIZ: Mutex<Quiz> = Mutex::new(Quiz {
    questions: &[],
    part: None,
    pending: Vec::new(),
});

fn quiz() -> std::sync::MutexGuard<'static, Quiz> {
    QUIZ.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn enable(questions: &'static [Question]) {
    ON.store(true, Ordering::SeqCst);
    quiz().questions = questions;
}

/// A heading: the part before it ends, and the next begins.
pub(crate) fn next_part() -> Result<()> {
    let next = quiz().part.unwrap_or(0) + 1;
    begin(next)
}

/// Before a fork: if no part has begun, the lesson starts now.
pub(crate) fn before_fork() -> Result<()> {
    match ON.load(Ordering::SeqCst) && quiz().part.is_none() {
        true => begin(0),
        false => Ok(()),
    }
}

/// The lesson's work returned `done`: its last part ends, and is judged,
/// unless a signal stopped it half-way. An error of the work's stays.
pub(crate) fn end(done: Result) -> Result {
    if signals::stopping() {
        return done;
    }
    let judged = judge();
    done.and(judged)
}

/// Part `part` begins: judges the part that ends, then asks the questions
/// due by now (those of parts skipped over too).
fn begin(part: usize) -> Result<()> {
    if !ON.load(Ordering::SeqCst) {
        return Ok(());
    }
    judge()?;
    let due: Vec<&'static Question> = {
        let mut quiz = quiz();
        let from = quiz.part.map_or(0, |p| p + 1);
        quiz.part = Some(part);
        let questions = quiz.questions;
        questions
            .iter()
            .filter(|q| (from..=part).contains(&q.when.part()))
            .collect()
    };
    if due.is_empty() {
        return Ok(());
    }
    let records = log::records()?;
    for question in due {
        let (text, choices) = (question.ask)(&records);
        let guess = ask(question.id, &text, &choices)?;
        quiz().pending.push((question, guess));
    }
    Ok(())
}

/// Judges the predictions made for the part that ends, from the trace.
fn judge() -> Result<()> {
    let pending = std::mem::take(&mut quiz().pending);
    if pending.is_empty() {
        return Ok(());
    }
    let records = log::records()?;
    for (question, guess) in pending {
        if let Some(verdict) = (question.judge)(&records) {
            check(guess, &verdict);
        }
    }
    Ok(())
}

/// A prediction the learner made.
#[derive(Debug)]
struct Guess {
    id: &'static str,
    choices: Vec<String>,
    /// The choice picked, from 0.
    answer: usize,
}

/// Asks `question` with its `choices` and reads the number of one from
/// standard input: asked again on a terminal when it is not one of them, an
/// error (exit status 2) when the answers come from a pipe.
fn ask(id: &'static str, question: &str, choices: &[String]) -> Result<Guess> {
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
                return Ok(Guess {
                    id,
                    choices: choices.to_vec(),
                    answer: k - 1,
                });
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

/// Says whether `guess` held in this run, as `verdict` has it.
fn check(guess: Guess, verdict: &Verdict) {
    let Verdict { shown, right, why } = verdict;
    let shown = *shown;
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
