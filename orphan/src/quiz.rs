//! The questions `--quiz` asks in this lesson, before its one part, and how
//! this run's trace answers each once the part is over.

use common::log::Record;
use common::quiz::{Question, Verdict, When, choices};
use common::tr;

pub const QUIZ: &[Question] = &[ADOPTER, REAPER];

/// Who adopts the orphan, as C says in its `adopted` event (`new`): init,
/// this lesson (the pid of its `begin` event), or another subreaper.
const ADOPTER: Question = Question {
    id: "orphan.adopter",
    when: When::Part(1),
    ask: |_| {
        (
            tr!("A parent P exits while its child C still runs. Who becomes C's parent?"),
            choices(&[
                &tr!("nobody: C dies with P"),
                &tr!("init, pid 1, always"),
                &tr!("the nearest subreaper above C, or init if there is none"),
                &tr!("C's grandparent, whoever that is"),
            ]),
        )
    },
    judge: |records| {
        let adopter = adopted(records)?.fields.get("new")?.as_i64()?;
        let lesson = records.iter().find(|r| r.event == "begin")?.pid;
        let (right, why): (&[usize], _) = match adopter {
            1 => (
                &[1, 2],
                tr!(
                    "There was no subreaper above C, so init took it; with one, the \
                     subreaper would have."
                ),
            ),
            a if a == i64::from(lesson) => (
                &[2],
                tr!("This lesson, a subreaper above C, took it. It is \
                     C's grandparent too, but that is not why: Linux gives an orphan to the \
                     nearest subreaper, else to init."),
            ),
            _ => (
                &[2],
                tr!("A subreaper above C (as systemd --user is) took it."),
            ),
        };
        Some(Verdict::new(2, right, why))
    },
};

/// Who reaps C, as the lesson saw it: it reaped C itself (a `reaped`
/// event), saw it gone (`gone`), or saw it stay a zombie (`unreaped`).
const REAPER: Question = Question {
    id: "orphan.reaper",
    when: When::Part(1),
    ask: |_| {
        (
            tr!("When C exits in its turn, who reaps it?"),
            choices(&[
                &tr!("P, its first parent"),
                &tr!("its new parent"),
                &tr!("nobody: it stays a zombie"),
                &tr!("C itself"),
            ]),
        )
    },
    judge: |records| {
        let c = i64::from(adopted(records)?.pid);
        let end = records.iter().find(|r| {
            ["reaped", "gone", "unreaped"].contains(&r.event.as_str())
                && r.fields.get("of").and_then(|of| of.as_i64()) == Some(c)
        })?;
        Some(if end.event == "unreaped" {
            let why = tr!(
                "Its adopter had not reaped C while the lesson watched: until it does, C stays a \
                 zombie."
            );
            Verdict::new(2, &[2], why)
        } else {
            let why = tr!(
                "Whoever adopted C is its parent now, and a parent reaps: C's status went to it."
            );
            Verdict::new(1, &[1], why)
        })
    },
};

/// C's `adopted` event: written by C, so its pid is C's.
fn adopted(records: &[Record]) -> Option<&Record> {
    records.iter().find(|r| r.event == "adopted")
}
