//! The questions `--quiz` asks in this lesson, before which part, and how
//! this run's trace answers each once its part is over.

use common::quiz::{Question, Verdict, When, choices};
use common::tr;

pub const QUIZ: &[Question] = &[STATE, ORPHANED];

/// Before part 1: what the process table says of a dead child not yet
/// reaped, as the lesson's `state` event has it.
const STATE: Question = Question {
    id: "zombie.state",
    when: When::Part(1),
    ask: |_| {
        (
            tr!(
                "A child exits, and its parent has not called wait yet. What does the process \
                 table say of the child?"
            ),
            choices(&[
                &tr!("nothing: it is gone"),
                &tr!("state R: running"),
                &tr!("state S: asleep"),
                &tr!("state Z: a zombie"),
            ]),
        )
    },
    judge: |records| {
        let state = records.iter().find(|r| r.event == "state")?;
        let shown = match state.fields.get("state")?.as_str()? {
            "R" => 1,
            "S" => 2,
            _ => 3,
        };
        let why = tr!(
            "A dead child stays in the table, in state Z, until its parent reaps it: on every Unix."
        );
        Some(Verdict::new(shown, &[shown], why))
    },
};

/// Before part 3: what becomes of the zombies of a killed parent, as the
/// zombies left after their adoption say (a `flood` or `unreaped` event).
const ORPHANED: Question = Question {
    id: "zombie.orphaned",
    when: When::Part(3),
    ask: |_| {
        (
            tr!("The parent of these zombies is killed (SIGKILL). What becomes of its zombies?"),
            choices(&[
                &tr!("they stay zombies for good"),
                &tr!("they are adopted, and their new parent reaps them"),
                &tr!("they die with their parent"),
                &tr!("they run again"),
            ]),
        )
    },
    judge: |records| {
        let left = records
            .iter()
            .skip_while(|r| r.event != "adopted")
            .filter(|r| r.event == "flood" || r.event == "unreaped")
            .find_map(|r| r.fields.get("zombies")?.as_u64())?;
        let why = if left == 0 {
            tr!(
                "Orphans are adopted, here by this lesson (a subreaper); their adopter reaps \
                 them, as init does where it reaps."
            )
        } else {
            tr!(
                "Orphans are adopted, but this adopter had not reaped them while the lesson \
                 watched: until it does, they stay."
            )
        };
        // None left: adopted and reaped (choice 2); else zombies for good (1).
        let shown = usize::from(left == 0);
        Some(Verdict::new(shown, &[shown], why))
    },
};
