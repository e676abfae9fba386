//! `--schedule` and `--every-schedule`, checked against a model of the
//! buyers' steps worked out here, apart from the lessons: a small search
//! over every order in which the buyers can pass their sleep points.

use std::collections::{BTreeMap, BTreeSet};

use common::log::Record;

/// A buyer of the model, at one of the notes' steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Buyer {
    /// At its first sleep point (the search's), before it reads.
    First,
    /// Read the count, then asked for the lock, which another holds.
    WantsLock,
    /// At its second sleep point, about to write back `read - 1`.
    Second {
        read: u64,
    },
    Done,
}

#[derive(Debug, Clone)]
struct Sale {
    file: u64,
    bought: u64,
    holder: Option<usize>,
    buyers: Vec<Buyer>,
}

/// What every schedule does: its turns, and the buyers told "bought" and
/// the count left in the file; and the schedules cut off by a turn given to
/// a buyer waiting for the lock.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub schedules: BTreeMap<Vec<u32>, (u64, u64)>,
    pub impossible: BTreeSet<Vec<u32>>,
}

/// Every schedule of `buyers` buyers and `tickets` tickets, with or
/// without the lock around each purchase. Who gets a free lock, of those
/// waiting, is the kernel's choice: every choice is followed.
pub fn tickets(buyers: usize, tickets: u64, locked: bool) -> Outcomes {
    let start = Sale {
        file: tickets,
        bought: 0,
        holder: None,
        buyers: vec![Buyer::First; buyers],
    };
    let mut found = Outcomes::default();
    search(&start, &mut Vec::new(), locked, &mut found);
    found
}

fn search(sale: &Sale, turns: &mut Vec<u32>, locked: bool, found: &mut Outcomes) {
    if sale.buyers.iter().all(|b| *b == Buyer::Done) {
        found
            .schedules
            .insert(turns.clone(), (sale.bought, sale.file));
        return;
    }
    for (i, buyer) in sale.buyers.iter().enumerate() {
        let number = i as u32 + 1;
        if *buyer == Buyer::WantsLock {
            found.impossible.insert([&turns[..], &[number]].concat());
            continue;
        }
        if *buyer == Buyer::Done {
            continue;
        }
        turns.push(number);
        for next in turn(sale, i, locked) {
            search(&next, turns, locked, found);
        }
        turns.pop();
    }
}

/// Buyer `i` passes its sleep point and runs to its next (or its end):
/// every state that can follow.
fn turn(sale: &Sale, i: usize, locked: bool) -> Vec<Sale> {
    let mut next = sale.clone();
    match (sale.buyers[i], locked) {
        // search() reads, then buy() reads again: the same count.
        (Buyer::First, false) => {
            next.buyers[i] = match sale.file {
                0 => Buyer::Done,
                read => Buyer::Second { read },
            };
            vec![next]
        }
        (Buyer::First, true) => {
            next.buyers[i] = Buyer::WantsLock;
            hand_on(next)
        }
        (Buyer::Second { read }, _) => {
            next.file = read - 1;
            next.bought += 1;
            next.buyers[i] = Buyer::Done;
            next.holder = None;
            if locked { hand_on(next) } else { vec![next] }
        }
        (Buyer::WantsLock | Buyer::Done, _) => unreachable!("no turn for them"),
    }
}

/// A free lock goes to one of those waiting, any of them: it reads, and
/// stops at its second sleep point holding the lock, or, sold out, lets go.
fn hand_on(sale: Sale) -> Vec<Sale> {
    if sale.holder.is_some() {
        return vec![sale];
    }
    let waiting: Vec<usize> = (0..sale.buyers.len())
        .filter(|&w| sale.buyers[w] == Buyer::WantsLock)
        .collect();
    if waiting.is_empty() {
        return vec![sale];
    }
    let mut all = Vec::new();
    for w in waiting {
        let mut next = sale.clone();
        match sale.file {
            0 => next.buyers[w] = Buyer::Done,
            read => {
                next.buyers[w] = Buyer::Second { read };
                next.holder = Some(w);
            }
        }
        all.extend(hand_on(next));
    }
    all
}

/// What a run of `--every-schedule` reports, from its trace: each counted
/// schedule's turns, with the bought and left of its summary; and its
/// `every_schedule` record.
pub fn ran(records: &[Record]) -> (BTreeMap<Vec<u32>, (u64, u64)>, &Record) {
    let mut ran = BTreeMap::new();
    let (mut turns, mut summary) = (Vec::new(), None);
    for r in records {
        let field = |name: &str| r.fields.get(name).and_then(|v| v.as_u64());
        match r.event.as_str() {
            "schedule" => (turns, summary) = (Vec::new(), None),
            "turn" if r.who == "main" => turns.push(field("number").expect("number") as u32),
            "summary" => summary = Some((field("bought").unwrap_or(0), field("left"))),
            "ran" if r.fields["new"] == true => {
                let (bought, left) = summary.unwrap_or((0, None));
                let left = left.unwrap_or(u64::MAX);
                let turns = std::mem::take(&mut turns);
                let string = r.fields["turns"].as_str().expect("turns");
                assert_eq!(string, commas(&turns), "the ran record and the turns");
                assert!(ran.insert(turns, (bought, left)).is_none(), "counted twice");
            }
            _ => {}
        }
    }
    let every = records
        .iter()
        .find(|r| r.event == "every_schedule")
        .expect("an every_schedule record");
    (ran, every)
}

pub fn commas(turns: &[u32]) -> String {
    let numbers: Vec<String> = turns.iter().map(u32::to_string).collect();
    numbers.join(",")
}

/// The numbers of the turns main gave, in order.
pub fn turns(records: &[Record]) -> Vec<u32> {
    records
        .iter()
        .filter(|r| r.event == "turn" && r.who == "main")
        .map(|r| r.fields["number"].as_u64().expect("number") as u32)
        .collect()
}

/// The children's events, in the trace's order, as (who, event): what a
/// forced schedule fixes.
pub fn steps(records: &[Record], events: &[&str]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|r| r.who != "main" && events.contains(&r.event.as_str()))
        .map(|r| (r.who.clone(), r.event.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_buyers_and_one_ticket() {
        let free = tickets(2, 1, false);
        let orders: Vec<String> = free.schedules.keys().map(|t| commas(t)).collect();
        assert_eq!(
            orders,
            ["1,1,2", "1,2,1,2", "1,2,2,1", "2,1,1,2", "2,1,2,1", "2,2,1"]
        );
        assert_eq!(free.schedules[&vec![1, 2, 1, 2]], (2, 0));
        assert!(free.impossible.is_empty());
        let locked = tickets(2, 1, true);
        let orders: Vec<String> = locked.schedules.keys().map(|t| commas(t)).collect();
        assert_eq!(orders, ["1,1,2", "1,2,1", "2,1,2", "2,2,1"]);
        assert!(
            locked
                .schedules
                .values()
                .all(|&(bought, left)| (bought, left) == (1, 0))
        );
        let cut: Vec<String> = locked.impossible.iter().map(|t| commas(t)).collect();
        assert_eq!(cut, ["1,2,2", "2,1,1"]);
    }
}

/// The checks both ticket offices share, on the real binaries.
pub mod offices {
    use super::*;
    use crate::{Scratch, run, start};
    use nix::sys::signal::Signal;

    fn count(path: &str) -> u64 {
        let text = std::fs::read_to_string(path).expect("the ticket file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        json["count"].as_u64().expect("a count")
    }

    /// Every schedule the lesson ran is one the model finds, with the same
    /// sale; and, where the kernel's choice of a lock's next holder cannot
    /// change the turns (`exact`), every one the model finds ran, and the
    /// lock cut off the same ones.
    pub fn every_schedule_matches_the_model(
        lesson: &str,
        buyers: usize,
        tickets: u64,
        locked: bool,
        exact: bool,
        extra: &[&str],
    ) {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        let (b, t) = (buyers.to_string(), tickets.to_string());
        let mut args = vec!["--file", &file, "--buyers", &b, "--tickets", &t];
        args.extend(["--every-schedule"].iter().chain(extra));
        let done = run(lesson, &args);
        assert_eq!(done.code(), Some(0), "{}", done.output());
        let model = super::tickets(buyers, tickets, locked);
        let (ran, every) = ran(&done.records);
        for (turns, sale) in &ran {
            let expected = model.schedules.get(turns);
            assert_eq!(expected, Some(sale), "{}: {}", commas(turns), done.output());
        }
        assert_eq!(every.fields["runs"], ran.len(), "{}", done.output());
        if exact {
            assert_eq!(ran.len(), model.schedules.len(), "{}", done.output());
            assert_eq!(every.fields["impossible"], model.impossible.len());
            let shortest = model.impossible.iter().min_by_key(|t| t.len());
            let shortest = shortest.map(|t| commas(t));
            assert_eq!(
                every.fields["shortest_impossible"].as_str(),
                shortest.as_deref()
            );
        }
        // Oversold, or a sale written over, as often as the model says, and
        // said so.
        let oversold = ran.values().filter(|(bought, _)| *bought > tickets).count();
        let lost = ran
            .values()
            .filter(|&&(bought, left)| bought <= tickets && bought + left != tickets)
            .count();
        if oversold > 0 {
            let said = format!("{oversold} oversold");
            assert!(done.stdout.contains(&said), "{said}: {}", done.output());
            assert!(done.stdout.contains("--schedule "), "{}", done.output());
        } else {
            assert!(done.stdout.contains("None oversold"), "{}", done.output());
        }
        let said = format!("{lost} schedules sold no more than there were, yet lost a sale");
        let said_one = said.replace("schedules", "schedule");
        match lost {
            0 => assert!(
                !done.stdout.contains("yet lost a sale"),
                "{}",
                done.output()
            ),
            1 => assert!(
                done.stdout.contains(&said_one),
                "{said_one}: {}",
                done.output()
            ),
            _ => assert!(done.stdout.contains(&said), "{said}: {}", done.output()),
        }
        assert_eq!(count(&file), tickets, "the file back as it was");
    }

    /// `--schedule` forces the interleaving asked for, and `--seed` with it
    /// replays the same run.
    pub fn a_schedule_is_followed_and_replayed(lesson: &str) {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        let args = [
            "--file",
            &file,
            "--buyers",
            "2",
            "--tickets",
            "1",
            "--schedule",
            "1,2,1,2",
            "--seed",
            "7",
        ];
        let events = ["search", "bought", "sold_out"];
        let first = run(lesson, &args);
        assert_eq!(first.code(), Some(0), "{}", first.output());
        assert_eq!(turns(&first.records), [1, 2, 1, 2]);
        let expected = [
            ("buyer-1", "search"),
            ("buyer-2", "search"),
            ("buyer-1", "bought"),
            ("buyer-2", "bought"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(w, e)| (w.to_string(), e.to_string()))
            .collect();
        assert_eq!(
            steps(&first.records, &events),
            expected,
            "{}",
            first.output()
        );
        let summary = crate::tickets::summary(&first);
        assert_eq!(
            (summary["bought"].as_u64(), summary["left"].as_u64()),
            (Some(2), Some(0))
        );
        let again = run(lesson, &args);
        assert_eq!(
            steps(&again.records, &events),
            expected,
            "{}",
            again.output()
        );
        let sleeps = |r: &crate::Run| -> Vec<String> {
            r.events("sleep")
                .map(|s| format!("{} {}", s.who, s.fields["seconds"]))
                .collect()
        };
        let (mut a, mut b) = (sleeps(&first), sleeps(&again));
        a.sort();
        b.sort();
        assert_eq!(a, b, "the same draws");
    }

    /// Ctrl-C in the middle of every schedule: stopped, every buyer reaped
    /// (`finish` checks none is left), the file as it was.
    pub fn ctrl_c_stops_every_schedule(lesson: &str) {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        let args = [
            "--file",
            &file,
            "--buyers",
            "4",
            "--tickets",
            "3",
            "--every-schedule",
        ];
        let running = start(lesson, &args);
        running.wait_for("ran", 3);
        running.signal(Signal::SIGINT);
        let done = running.finish();
        assert_eq!(done.code(), Some(130), "{}", done.output());
        assert!(
            done.stderr.contains("stopped by SIGINT"),
            "{}",
            done.output()
        );
        assert_eq!(count(&file), 3, "the file back as it was");
    }

    /// Sizes whose schedules run into the thousands are refused, in one
    /// line that says how many runs they would take.
    pub fn large_sizes_are_refused(lesson: &str) {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        for (buyers, tickets) in [("5", "1"), ("2", "4")] {
            let args = [
                "--file",
                &file,
                "--buyers",
                buyers,
                "--tickets",
                tickets,
                "--every-schedule",
            ];
            let done = run(lesson, &args);
            assert_eq!(done.code(), Some(2), "{}", done.output());
            assert_eq!(done.stderr.lines().count(), 1, "{}", done.output());
            assert!(
                done.stderr.contains("at most 4 buyers and 3 tickets"),
                "{}",
                done.output()
            );
            assert!(
                !std::path::Path::new(&file).exists(),
                "refused before the first write"
            );
        }
    }

    /// A turn given to a buyer that `--panic-in` ended: the schedule cannot
    /// run in this run, for that panic, not under this version.
    pub fn a_panic_asked_for_is_named_as_the_cause(lesson: &str) {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        let args = [
            "--file",
            &file,
            "--buyers",
            "3",
            "--tickets",
            "3",
            "--panic-in",
            "buyer-2",
            "--schedule",
            "1,2,2,3",
        ];
        let done = run(lesson, &args);
        assert_eq!(done.code(), Some(1), "{}", done.output());
        let said = "cannot run in this run: turn 2 is buyer-2's, and buyer-2 has ended early, \
                    of the panic --panic-in asked for";
        assert!(done.stderr.contains(said), "{}", done.output());
        assert!(!done.stderr.contains("this version"), "{}", done.output());
    }
}

/// The checks the printers share: each colleague has one sleep point.
pub mod printers {
    use super::*;
    use crate::run;

    /// The runs of `--every-schedule`: each one's turns, and whether two
    /// colleagues printed at once (one started before another finished).
    pub fn every_run(lesson: &str, extra: &[&str]) -> (crate::Run, Vec<(Vec<u32>, bool)>) {
        let args = [&["--workers", "3", "--every-schedule"][..], extra].concat();
        let done = run(lesson, &args);
        assert_eq!(done.code(), Some(0), "{}", done.output());
        let mut runs = Vec::new();
        let mut current: Vec<&Record> = Vec::new();
        for r in &done.records {
            match r.event.as_str() {
                "schedule" => current.clear(),
                "ran" if r.fields["new"] == true => {
                    runs.push((
                        turns(&current.iter().copied().cloned().collect::<Vec<_>>()),
                        overlapped(&current),
                    ));
                }
                _ => current.push(r),
            }
        }
        (done, runs)
    }

    fn overlapped(run: &[&Record]) -> bool {
        let mut printing = 0;
        for r in run {
            match r.event.as_str() {
                "start" => printing += 1,
                "end" => printing -= 1,
                _ => {}
            }
            if printing > 1 {
                return true;
            }
        }
        false
    }

    /// Every order of three, from `1,2,3` to `3,2,1`.
    pub fn all_orders() -> Vec<Vec<u32>> {
        let mut orders = Vec::new();
        for a in 1..=3 {
            for b in (1..=3).filter(|&b| b != a) {
                orders.push(vec![a, b, 6 - a - b]);
            }
        }
        orders
    }
}
