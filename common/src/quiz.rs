//! `--quiz`: the frame asks a part's questions as it begins (at its heading,
//! or the first fork) and judges them from the trace as it ends (at the next
//! heading, or when the lesson's work returns), so that each verdict follows
//! its evidence and comes from this run, never from a fixed key.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::json;

use crate::error::{Result, Usage};
use crate::i18n::{self, Lang};
use crate::log::Record;
use crate::{log, pause, signals};

/// When a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At the start of the lesson, before its first fork: for a lesson
    /// without headings, judged when its work returns.
    Start,
    /// Before part `n`: the lesson's `n`th `heading`, counted from 1.
    Part(usize),
}

/// One question of a lesson's quiz (its `quiz.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Question {
    /// Its name in the trace's `quiz` events, like `zombie.state`.
    pub id: &'static str,
    pub when: When,
    /// The question and its choices, from the trace so far where they name
    /// this run's numbers; no choices for a question this run does not
    /// answer (one about `--every-schedule`, say), which is then not asked.
    pub ask: fn(&[Record]) -> (String, Vec<String>),
    /// What this run showed, from its trace when the part has ended; `None`
    /// when it shows nothing to judge by (the part was cut short).
    pub judge: fn(&[Record]) -> Option<Verdict>,
}

/// What a run showed of a question: the choice it showed, from 0, and every
/// choice it bears out (more than one where chance decided), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub shown: usize,
    pub right: Vec<usize>,
    pub why: String,
}

impl Verdict {
    pub fn new(shown: usize, right: &[usize], why: String) -> Verdict {
        let right = right.to_vec();
        Verdict { shown, right, why }
    }
}

/// The lesson's questions (none without `--quiz`), the part going on, the
/// predictions made for it (with their choices and the one picked, from 0),
/// and how many of those judged held.
struct Quiz {
    questions: &'static [Question],
    part: Option<usize>,
    pending: Vec<(&'static Question, Vec<String>, usize)>,
    asked: usize,
    held: usize,
}

static QUIZ: Mutex<Quiz> = Mutex::new(Quiz {
    questions: &[],
    part: None,
    pending: Vec::new(),
    asked: 0,
    held: 0,
});

fn quiz() -> MutexGuard<'static, Quiz> {
    QUIZ.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether there are questions: read, not locked, at every `fork`, so that
/// a lesson without them writes nothing to `QUIZ`'s page, which the parent
/// would have to copy while its last child still shares it.
static ENABLED: AtomicBool = AtomicBool::new(false);

pub(crate) fn enable(questions: &'static [Question]) {
    quiz().questions = questions;
    ENABLED.store(!questions.is_empty(), Ordering::Relaxed);
}

/// A heading: the part before it ends, and the next begins.
pub(crate) fn next_part() -> Result<()> {
    let next = quiz().part.map_or(1, |p| p + 1);
    begin(next)
}

/// Before a fork: if no part has begun, the lesson starts now.
pub(crate) fn before_fork() -> Result<()> {
    if !ENABLED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let begun = quiz().part.is_some();
    if begun { Ok(()) } else { begin(0) }
}

/// The lesson's work returned `done`: its last part ends, and is judged,
/// unless a signal stopped it half-way. An error of the work's stays.
pub(crate) fn end(done: Result) -> Result {
    let stopped = signals::stopping();
    done.and(if stopped { Ok(()) } else { judge() })
}

/// Part `part` begins: judges the part that ends, then asks the questions
/// due by now (those of parts skipped over too).
fn begin(part: usize) -> Result<()> {
    if quiz().questions.is_empty() {
        return Ok(());
    }
    judge()?;
    let due: Vec<&'static Question> = {
        let mut quiz = quiz();
        let from = quiz.part.map_or(0, |p| p + 1);
        quiz.part = Some(part);
        let before = |q: &&Question| if let When::Part(n) = q.when { n } else { 0 };
        quiz.questions
            .iter()
            .filter(|q| (from..=part).contains(&before(q)))
            .collect()
    };
    if due.is_empty() {
        return Ok(());
    }
    let records = log::records()?;
    for question in due {
        let (text, choices) = (question.ask)(&records);
        if choices.is_empty() {
            continue;
        }
        let answer = ask(&text, &choices)?;
        quiz().pending.push((question, choices, answer));
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
    for (question, choices, answer) in pending {
        if let Some(verdict) = (question.judge)(&records) {
            check(question.id, &choices, answer, verdict);
        }
    }
    Ok(())
}

/// Asks `question` and reads the number of one of its `choices` from
/// standard input: asked again on a terminal when it is not one of them, an
/// error (exit status 2) when the answers come from a pipe.
fn ask(question: &str, choices: &[String]) -> Result<usize> {
    log::prose("");
    log::prose(tr!("QUESTION: {}", question));
    for (i, choice) in choices.iter().enumerate() {
        log::prose(format!("  {}) {choice}", i + 1));
    }
    let n = choices.len();
    loop {
        log::prose(tr!("Your answer (1 to {}):", n));
        let line = pause::read_line()?
            .ok_or_else(|| Usage(tr!("--quiz: standard input ended before an answer")))?;
        match line.trim().parse::<usize>() {
            Ok(k) if (1..=n).contains(&k) => return Ok(k - 1),
            _ if std::io::stdin().is_terminal() => {
                log::prose(tr!("Give a number from 1 to {}.", n))
            }
            _ => {
                // Shown short, and with no control character let through.
                let given: String = line.trim().chars().take(20).collect();
                let given = given.escape_debug();
                let refused = tr!("--quiz: '{}' is not an answer from 1 to {}", given, n);
                return Err(Usage(refused).into());
            }
        }
    }
}

/// Says whether `answer` held in this run, as `verdict` has it.
fn check(id: &str, choices: &[String], answer: usize, verdict: Verdict) {
    let (held, mut why) = (verdict.right.contains(&answer), verdict.why);
    let mut quiz = quiz();
    (quiz.asked, quiz.held) = (quiz.asked + 1, quiz.held + usize::from(held));
    drop(quiz);
    let (answer, shown) = (answer + 1, verdict.shown + 1);
    let fields =
        json!({"id": id, "choices": choices, "answer": answer, "shown": shown, "held": held});
    log::record("quiz", fields);
    // The English explanation starts a sentence here: a capital. The
    // Chinese has none, and a name it starts with (main, join) keeps its case.
    if let Some(first) = why.get(..1).filter(|_| i18n::lang() == Lang::En) {
        why.replace_range(..1, &first.to_uppercase());
    }
    let (right, wrong) = (tr!("RIGHT."), tr!("NOT THIS TIME."));
    let (you, run) = (&choices[answer - 1], &choices[shown - 1]);
    log::prose(tr!(
        "{} You said {}) {}; this run showed {}) {}. {}",
        if held { right } else { wrong },
        answer,
        you,
        shown,
        run,
        why
    ));
}

/// The choices of a question, as owned strings.
pub fn choices(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

/// `Score: K of N`, if any question was asked.
pub(crate) fn score() -> Option<String> {
    let quiz = quiz();
    (quiz.asked > 0).then(|| tr!("Score: {} of {}", quiz.held, quiz.asked))
}
