//! The printer lessons' drawing, once every colleague has been reaped: a
//! timeline of who held the printer and a verdict, both read from the trace
//! (`ask`, `start`, `end`), and the questions all three printers ask.

use std::borrow::Borrow;
use std::collections::HashMap;

use crate::error::{Result, anyhow};
use crate::log::{self, Record};
use crate::quiz::{Question, Verdict, When};
use crate::{child, schedule};

/// Requests closer than this to the one before are at the same moment, as
/// far as anyone can tell: the lines show milliseconds, and a fork or a
/// scheduler's turn takes about as long.
const TIE: f64 = 0.001;
/// And a moment lasts no longer than this, however many ask in a chain.
const MOMENT: f64 = 0.003;
/// A timeline of more rows than this becomes a summary.
const MAX_ROWS: usize = 20;
const WIDTH: usize = 48;

/// What the lesson's code did to order the colleagues, as this run saw it.
#[derive(Debug, Clone, Copy, Default)]
struct Design {
    locked: bool,    // they took a `Lock` (v3): only then can one wait for another
    joined: bool,    // main joined each before it started the next (v2)
    fast: bool,      // `--speed max`: nothing sleeps, so a print is over in an instant
    paused: bool,    // `--pause` held a step: its times include the learner's look
    scheduled: bool, // `--schedule`: turns, not sleeps, set the times
    shared: bool,    // `--lock-opened-before-fork`: one lock, held by all
}

/// Draws the timeline and the verdict of the `workers` colleagues, from
/// this run's trace. Call it once they have all been reaped.
pub fn draw(workers: u32) -> Result<()> {
    // A colleague that failed, or lost its records, may not have said all it
    // did: no verdict then.
    if child::counts().trace_lost > 0 {
        return Err(anyhow!(tr!(
            "{} of {} colleagues could not write their trace: the timeline would be incomplete",
            child::counts().trace_lost,
            workers
        )));
    }
    if child::failed() > 0 {
        return Err(anyhow!(tr!(
            "{} of {} colleagues failed: the timeline would be incomplete",
            child::failed(),
            workers
        )));
    }
    if schedule::every() {
        schedule::tally_with(tally);
        return Ok(());
    }
    let records = log::records()?;
    let (design, turns) = (design(&records), turns(&records));
    log::plain("");
    timeline(&turns, design).into_iter().for_each(log::plain);
    if design.scheduled {
        let order = schedule::turns_of(&records);
        let names: Vec<&str> = records
            .iter()
            .filter(|r| r.event == "turn" && r.who == "main")
            .filter_map(|r| r.fields.get("to")?.as_str())
            .collect();
        log::prose(tr!(
            "Schedule: {} (--schedule {}), the order main gave the turns in: each bar ends when \
             its colleague got its turn.",
            list(&names, " → "),
            schedule::commas(&order)
        ));
    }
    verdict(&turns, design).into_iter().for_each(log::prose);
    let missing = (workers as usize).saturating_sub(turns.len());
    if missing > 0 {
        let colleagues = log::plural(workers, "colleague", "colleagues");
        log::prose(tr!(
            "{} of {} never finished printing.",
            missing,
            colleagues
        ));
    }
    Ok(())
}

fn design(records: &[Record]) -> Design {
    Design {
        locked: records.iter().any(|r| r.event == "lock"),
        joined: joined_before_each_start(records),
        // At `--speed max`, as the run's `begin` record says, nobody sleeps.
        fast: records
            .iter()
            .find(|r| r.event == "begin")
            .is_some_and(|r| r.fields.get("speed").and_then(|s| s.as_str()) == Some("max")),
        // Only a pause that held: with `--pause`, v1 and v2 have no step to
        // hold at, and their times still compare.
        paused: records.iter().any(|r| r.event == "pause"),
        scheduled: records.iter().any(|r| r.event == "turn"),
        shared: crate::sale::lock_of(records).1,
    }
}

/// What every schedule's run showed, each from its own records: how many
/// overlapped, how many of the orders could arise at all, and why.
fn tally(records: &[Record], explored: &schedule::Explored) -> Result<()> {
    let runs = schedule::runs(records);
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let design = design(first);
    let workers = first.iter().filter(|r| r.event == "spawn").count();
    let orders: u128 = (1..=workers as u128).product();
    let overlapping: Vec<&&[Record]> = runs
        .iter()
        .filter(|run| !overlaps(&turns(run)).is_empty())
        .collect();
    log::prose(tr!(
        "Every schedule: {} of the {} orders in which {} could pass their sleep points ran, each \
         a real run.",
        runs.len(),
        orders,
        log::plural(workers as u64, "colleague", "colleagues")
    ));
    match overlapping.len() {
        0 => log::prose(tr!(
            "None overlapped: in every one they printed one at a time."
        )),
        n => log::prose(tr!(
            "{} of them overlapped (two or more printing at once); {} did not.",
            n,
            runs.len() - n
        )),
    }
    if design.joined && (runs.len() as u128) < orders {
        log::prose(tr!(
            "The other {} never arose: main starts each colleague only after it has joined the \
             one before, so only one is ever at its sleep point.",
            orders - runs.len() as u128
        ));
    }
    if design.locked && !design.shared {
        if let (Some(schedule), Some((name, holder))) =
            (&explored.shortest_impossible, &explored.waiting_for)
        {
            log::prose(tr!(
                "The lock lets only its holder reach its sleep point: {} turns went to a colleague \
                 waiting for it, and could not be given (the shortest, {}: {} waits for the lock \
                 that {} holds).",
                explored.impossible,
                schedule,
                name,
                holder
            ));
        }
        let seen: Vec<String> = runs
            .iter()
            .map(|run| schedule::commas(&schedule::turns_of(run)))
            .collect();
        log::prose(tr!(
            "The order they printed in was the kernel's, not the schedule's: who gets the lock \
             when it is let go is the kernel's choice. This time: {}.",
            list(&seen, &tr!("; "))
        ));
    }
    if design.shared && !overlapping.is_empty() {
        log::prose(crate::sale::shared_lock_cause());
    }
    if let Some(run) = overlapping.first() {
        let turns = schedule::turns_of(run);
        log::prose(tr!(
            "One that overlapped: {}. To replay it:",
            schedule::commas(&turns)
        ));
        log::plain(format!("  {}", schedule::replay(&turns, &[])));
    }
    Ok(())
}

/// True if, as the trace says, main never started a child while another it
/// started was not joined yet: it joined each before the next.
fn joined_before_each_start(records: &[Record]) -> bool {
    let mut running = std::collections::HashSet::new();
    let mut joined = false;
    for r in records.iter().filter(|r| r.who == "main") {
        match r.event.as_str() {
            "spawn" if !running.is_empty() => return false,
            "spawn" => drop(running.insert(&r.fields["of"])),
            "join" => joined |= running.remove(&r.fields["of"]),
            _ => {}
        }
    }
    // One colleague, reaped with the rest: no join to speak of.
    joined
}

pub const OVERLAP: Question = Question {
    id: "printer.overlap",
    when: When::Start,
    ask: |records| {
        if schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let question = tr!("Will two colleagues ever be printing at the same moment?");
        (question, vec![tr!("yes"), tr!("no")])
    },
    judge: |records| judged(records, overlap),
};

pub const ORDER: Question = Question {
    id: "printer.order",
    when: When::Start,
    ask: |records| {
        if schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let choices = vec![
            tr!("p1, p2, p3, …: the order they are started in"),
            tr!("in whatever order they get to the printer"),
            tr!("all at once: side by side"),
        ];
        (tr!("In what order will they print?"), choices)
    },
    judge: |records| judged(records, order),
};

pub const WAIT: Question = Question {
    id: "printer.wait",
    when: When::Start,
    ask: |records| {
        if schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let question = tr!("Will any colleague have to wait for another?");
        (question, vec![tr!("yes"), tr!("no")])
    },
    judge: |records| judged(records, wait),
};

/// With `--every-schedule`: asked before the first run, judged from every
/// run's own records once all have run.
pub const SCHEDULES: Question = Question {
    id: "printer.schedules",
    when: When::Start,
    ask: |records| {
        if !schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let question = tr!(
            "Every order in which the colleagues can pass their sleep points will run: in how \
             many will two of them print at the same moment?"
        );
        let choices = vec![tr!("none"), tr!("some, not all"), tr!("every one")];
        (question, choices)
    },
    judge: |records| {
        let runs = schedule::runs(records);
        let overlapping = runs
            .iter()
            .filter(|r| !overlaps(&turns(r)).is_empty())
            .count();
        let design = design(runs.first()?);
        let shown = match overlapping {
            0 => 0,
            n if n == runs.len() => 2,
            _ => 1,
        };
        let why = match shown {
            0 if design.joined => {
                tr!("main joins each colleague before it starts the next: only one ever prints.")
            }
            0 if design.locked => {
                tr!("with the lock, only its holder reaches its sleep point and prints.")
            }
            0 => tr!("there was no other colleague to print at the same moment."),
            _ if design.shared => tr!(
                "the lock opened before fork is one lock they all hold: nothing keeps them apart."
            ),
            2 => tr!(
                "nothing keeps them apart: each starts printing before any has finished, in \
                 every order."
            ),
            _ => tr!("in some orders their printing met, in others not."),
        };
        Some(Verdict::new(shown, &[shown], why))
    },
};

/// Judges a prediction from the trace, as the timeline shows it: not at all
/// if no colleague finished, or one failed (then no timeline is drawn).
fn judged(records: &[Record], judge: fn(&[Turn], Design) -> Verdict) -> Option<Verdict> {
    let failed = records
        .iter()
        .any(|r| r.event == "error" && r.who != "main");
    let turns = turns(records);
    (!failed && !turns.is_empty()).then(|| judge(&turns, design(records)))
}

// The judges: a join orders the colleagues before a lock can.
fn overlap(turns: &[Turn], d: Design) -> Verdict {
    let overlapped = !overlaps(turns).is_empty();
    let why = match overlapped {
        _ if d.joined => tr!("main joined each before it started the next: they never can."),
        _ if d.locked => tr!("the lock lets one print at a time: they never can."),
        true => tr!("nothing keeps them apart, so their turns meet."),
        false => tr!("nothing keeps them apart; their turns did not meet \
            this time (chance, or a speed too fast to sleep), so both answers hold."),
    };
    let right: &[usize] = match overlapped {
        _ if d.joined || d.locked => &[1],
        true => &[0],
        false => &[0, 1],
    };
    Verdict::new(usize::from(!overlapped), right, why)
}

fn order(turns: &[Turn], d: Design) -> Verdict {
    let overlapped = !overlaps(turns).is_empty();
    let shown = match in_code_order(&by(turns, |t| t.start)) {
        _ if overlapped => 2,
        code_order => usize::from(!code_order),
    };
    let why = match shown {
        _ if d.joined => tr!("join fixes the order in the code: certain."),
        0 if d.locked => tr!("the lock served them in the order they were started, \
            this time: flock promises no order, so 2) was as right."),
        _ if d.locked => tr!("whoever got the lock first printed first: flock promises no order."),
        2 => tr!("with nothing to order them, they printed side by side."),
        _ => tr!("nothing orders them; this time their turns did not meet."),
    };
    let right: &[usize] = match shown {
        _ if d.joined => &[0],
        0 if d.locked => &[0, 1],
        _ if d.locked => &[1],
        2 => &[2],
        _ => &[2, shown],
    };
    Verdict::new(shown, right, why)
}

fn wait(turns: &[Turn], d: Design) -> Verdict {
    let waited = d.locked && turns.iter().any(|t| t.start - t.ask > TIE);
    let why = match waited {
        _ if d.joined => tr!("none is started while another prints: nobody ever waits."),
        _ if !d.locked => tr!("nothing makes them wait: without a lock they print together."),
        true => tr!("whoever asked while the lock was held waited for it."),
        false => tr!("nobody asked while the lock was held, this time: \
            at a slower speed they would queue, so both answers hold."),
    };
    let right: &[usize] = match waited {
        _ if d.joined || !d.locked => &[1],
        true => &[0],
        false => &[1, 0],
    };
    Verdict::new(usize::from(!waited), right, why)
}

/// One colleague's time at the printer, in seconds since the lesson started:
/// when it asked for the printer, started printing and finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub who: String,
    pub pid: i32,
    pub ask: f64,
    pub start: f64,
    pub end: f64,
}

/// The turns of every colleague that both started and finished printing,
/// in the code's order (p1, p2, …).
pub fn turns(records: &[Record]) -> Vec<Turn> {
    // Each process's first `ask` and `end`, found in one pass: a search of
    // the whole trace for each of 2000 colleagues took longer than their run.
    let (mut asks, mut ends) = (HashMap::new(), HashMap::new());
    for r in records {
        match r.event.as_str() {
            "ask" => asks.entry(r.pid).or_insert(r.t),
            "end" => ends.entry(r.pid).or_insert(r.t),
            _ => continue,
        };
    }
    let starts = records.iter().filter(|r| r.event == "start");
    let mut turns: Vec<Turn> = starts
        .filter_map(|r| {
            Some(Turn {
                who: r.who.clone(),
                pid: r.pid,
                ask: asks.get(&r.pid).copied().unwrap_or(r.t),
                start: r.t,
                end: *ends.get(&r.pid)?,
            })
        })
        .collect();
    turns.sort_by_cached_key(|t| code_order(&t.who));
    turns
}

fn code_order(name: &str) -> (u64, String) {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u64::MAX), name.to_owned())
}

fn in_code_order(turns: &[&Turn]) -> bool {
    let keys: Vec<_> = turns.iter().map(|t| code_order(&t.who)).collect();
    keys.windows(2).all(|w| w[0] < w[1])
}

/// `turns` sorted by `key`, those of equal keys in the order given.
fn by<'a>(turns: impl IntoIterator<Item = &'a Turn>, key: fn(&Turn) -> f64) -> Vec<&'a Turn> {
    let mut sorted: Vec<&Turn> = turns.into_iter().collect();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted
}

/// Pairs of colleagues who were printing at the same moment.
/// In the order of `turns`, each pair with the earlier one first. Those that
/// start later than a turn ends cannot overlap it: after a sort by start,
/// each turn is compared with the few that start while it prints, not with
/// all (2000 colleagues make two million pairs).
pub fn overlaps(turns: &[Turn]) -> Vec<(&Turn, &Turn)> {
    let mut by_start: Vec<usize> = (0..turns.len()).collect();
    by_start.sort_by(|&a, &b| turns[a].start.total_cmp(&turns[b].start));
    let mut pairs = Vec::new();
    for (k, &i) in by_start.iter().enumerate() {
        let a = &turns[i];
        for &j in by_start[k + 1..]
            .iter()
            .take_while(|&&j| turns[j].start < a.end)
        {
            if turns[j].end > a.start {
                pairs.push((i.min(j), i.max(j)));
            }
        }
    }
    pairs.sort_unstable();
    pairs
        .into_iter()
        .map(|(i, j)| (&turns[i], &turns[j]))
        .collect()
}

/// The most colleagues printing at one moment, which is the moment one of
/// them starts: touching turns do not overlap. Counted in one sweep over
/// the starts and ends in time order, an end before a start at the same
/// moment.
pub fn most_at_once(turns: &[Turn]) -> usize {
    let mut moments: Vec<(f64, i32)> = turns
        .iter()
        .flat_map(|t| [(t.start, 1), (t.end, -1)])
        .collect();
    moments.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i64, 0i64);
    for (_, step) in moments {
        now += i64::from(step);
        if step > 0 {
            most = most.max(now);
        }
    }
    usize::try_from(most).unwrap_or(0)
}

/// The timeline: a row a colleague, `█` while printing, `·` while waiting
/// for the lock, on one time axis; above [`MAX_ROWS`] colleagues, a summary.
/// Without a lock nobody waits: asking and printing are one.
fn timeline(turns: &[Turn], design: Design) -> Vec<String> {
    let (Some(t0), Some(t1)) = (
        turns.iter().map(|t| t.ask).min_by(f64::total_cmp),
        turns.iter().map(|t| t.end).max_by(f64::total_cmp),
    ) else {
        return vec![tr!("Nobody printed anything.")];
    };
    let span = (t1 - t0).max(1e-9);
    if turns.len() > MAX_ROWS {
        let busy: f64 = turns.iter().map(|t| t.end - t.start).sum();
        return vec![tr!(
            "Timeline of {} colleagues (too many rows to draw): at most {} printing at once; \
             printing took {:.3} s of the {:.3} s from the first request to the last page.",
            turns.len(),
            most_at_once(turns),
            busy,
            span
        )];
    }
    let cell = span / WIDTH as f64;
    let name_width = turns.iter().map(|t| t.who.len()).max().unwrap_or(2);
    let legend = if design.locked {
        tr!("█ printing, · waiting for the lock")
    } else {
        tr!("█ printing")
    };
    // At full speed a column can be a few microseconds: say so, not "0.000 s",
    // and give the times as finely as the columns, to the microsecond.
    let (column, scale, unit) = if cell >= 0.001 {
        (format!("{cell:.3} s"), 1.0, "s")
    } else {
        (format!("{} µs", (cell * 1e6).round().max(1.0)), 1e3, "ms")
    };
    let time = |t: f64| format!("{:.3}", t * scale);
    let mut lines = vec![tr!("Timeline: {} (one column is {})", legend, column)];
    for t in turns {
        let bar: String = (0..WIDTH)
            .map(|c| {
                let mid = t0 + (c as f64 + 0.5) * cell;
                let first = ((t.start - t0) / cell).floor() as usize == c;
                if (t.start <= mid && mid < t.end) || first {
                    '█'
                } else if design.locked && t.ask <= mid && mid < t.start {
                    '·'
                } else {
                    ' '
                }
            })
            .collect();
        let (who, pid, from, to) = (&t.who, t.pid, time(t.start), time(t.end));
        let row = format!("  {who:<name_width$} {pid:>7} │{bar}│ {from}–{to} {unit}");
        lines.push(row);
    }
    let (blank, from, to, w) = ("", format!("{} {unit}", time(t0)), time(t1), WIDTH + 1);
    let axis = format!("  {blank:<name_width$} {blank:>7} {from:<w$}{to} {unit}");
    lines.push(axis);
    lines
}

/// What the timeline shows, and what it can mean for this version: did
/// they overlap, in what order did they print and why, who waited, and the
/// time it all took.
fn verdict(turns: &[Turn], design: Design) -> Vec<String> {
    if turns.is_empty() {
        return Vec::new();
    }
    let slower = tr!("run it slower (--speed 4, say)");
    let order = names(&by(turns, |t| t.start), " → ");
    let pairs = overlaps(turns);
    let mut lines = Vec::new();
    if !pairs.is_empty() {
        let names: Vec<String> = pairs
            .iter()
            .map(|(a, b)| tr!("{} & {}", a.who, b.who))
            .collect();
        lines.push(tr!(
            "Verdict: NOT serial. These printed at the same time: {}; up to {} at once, \
             so a real printer would mix their pages.",
            list(&names, &tr!(", ")),
            most_at_once(turns)
        ));
    } else if turns.len() == 1 {
        lines.push(tr!(
            "Verdict: one colleague alone: nobody to overlap with, and nobody to wait for. \
             Give --workers 3 to see more."
        ));
    } else if design.joined {
        lines.push(tr!(
            "Verdict: serial, in the order {}, the order of the code: main joined each \
             colleague before it started the next, so none ever ran while another printed, \
             and nobody waited.",
            order
        ));
    } else if !design.locked {
        let why = if design.fast {
            tr!(
                "at --speed max nobody sleeps, so each print was over before the next colleague \
                 even started"
            )
        } else {
            tr!("their turns did not happen to meet this time")
        };
        lines.push(tr!(
            "Verdict: nothing overlapped in this run, but only by chance: no lock and no join \
             keep these colleagues apart, and {}. To see them print at the same time, {}.",
            why,
            slower
        ));
    } else {
        lines.push(tr!(
            "Verdict: serial, one at a time, as the lock makes it, in the order {}.",
            order
        ));
        lines.extend(competition(turns, design, &slower));
    }
    if design.shared && !pairs.is_empty() {
        lines.push(crate::sale::shared_lock_cause());
    }
    lines.push(time(turns, design));
    if design.locked && pairs.is_empty() {
        lines.push(tr!(
            "Lock or join (the notes): both make the printing serial; join fixes the order by \
             hand, in the code (v2), a lock lets the colleagues compete for it (v3)."
        ));
    }
    lines
}

/// Who waited for the lock, and did the lock serve them in the order they
/// asked? Requests closer than [`TIE`] are said to be at the same moment.
fn competition(turns: &[Turn], design: Design, slower: &str) -> Vec<String> {
    if turns.iter().all(|t| t.start - t.ask <= TIE) {
        let fast = if design.fast {
            tr!(" (at --speed max nothing sleeps, so each print is over in an instant)")
        } else {
            String::new()
        };
        return vec![tr!(
            "Nobody had to wait more than a moment (1 ms): each asked while the printer was \
             free, or as it came free{}. To see them queue for the lock, {}.",
            fast,
            slower
        )];
    }
    let by_ask = by(turns, |t| t.ask);
    let by_start = by(by_ask.iter().copied(), |t| t.start);
    let got = names(&by_start, " → ");
    // Who asked when: groups of requests at the same moment.
    let mut groups: Vec<Vec<&Turn>> = Vec::new();
    for t in &by_ask {
        match groups.last_mut() {
            Some(g) if t.ask - g[g.len() - 1].ask <= TIE && t.ask - g[0].ask <= MOMENT => g.push(t),
            _ => groups.push(vec![t]),
        }
    }
    let mut lines = Vec::new();
    if groups.len() == 1 {
        let kept = if in_code_order(&by_start) {
            tr!(", the order they were started in, which flock happened to keep")
        } else {
            String::new()
        };
        lines.push(tr!(
            "They all asked at the same moment (each within {} ms of the one before), so there \
             was no first come: the lock let them in as {}{}.",
            TIE * 1e3,
            got,
            kept
        ));
    } else {
        let asked: Vec<String> = groups
            .iter()
            .map(|g| match g.len() {
                1 => g[0].who.clone(),
                _ => tr!("{} (at the same moment)", names(g, &tr!(" & "))),
            })
            .collect();
        lines.push(tr!("They asked as {}.", list(&asked, &tr!(", then "))));
        // A clear overtaking: `a` asked well before `b`, yet `b` printed first.
        let overtaken = by_ask.iter().enumerate().find_map(|(i, a)| {
            let b = by_ask[i + 1..]
                .iter()
                .find(|b| b.ask - a.ask > TIE && b.start < a.start);
            b.map(|b| (a, b))
        });
        lines.push(match overtaken {
            Some((a, b)) => tr!(
                "{} asked for the printer {:.3} s before {}, yet {} got it first: \
                 the lock served them as {}.",
                a.who,
                b.ask - a.ask,
                b.who,
                b.who,
                got
            ),
            None => tr!(
                "The lock let them in as {}: nobody who asked clearly earlier was passed, \
                 this time.",
                got
            ),
        });
    }
    lines.push(tr!(
        "The notes say a lock makes it first come, first served (公平性): flock promises no \
         order, and a later asker may well go first."
    ));
    lines
}

/// The printing time against the elapsed time: the notes' point that
/// concurrency is faster than going one after another.
fn time(turns: &[Turn], design: Design) -> String {
    if design.scheduled {
        return tr!(
            "Time: with a schedule nobody sleeps (each waits for its turn instead), so there is \
             no printing time to compare."
        );
    }
    if design.fast {
        return tr!(
            "Time: at --speed max nothing sleeps, so there is no printing time to compare."
        );
    }
    if design.paused {
        return tr!("Time: not compared, since --pause held things up while you looked.");
    }
    let busy: f64 = turns.iter().map(|t| t.end - t.start).sum();
    let first = turns.iter().map(|t| t.ask).fold(f64::INFINITY, f64::min);
    let span = turns.iter().map(|t| t.end).fold(0.0, f64::max) - first;
    let how = if span < busy * 0.9 {
        tr!("less, because they printed at the same time")
    } else {
        tr!("about their sum, because they printed one after another")
    };
    tr!(
        "Time: their printing adds up to {:.3} s; from the first request to the last page \
         took {:.3} s, {}.",
        busy,
        span,
        how
    )
}

fn names(turns: &[&Turn], separator: &str) -> String {
    let names: Vec<&str> = turns.iter().map(|t| t.who.as_str()).collect();
    list(&names, separator)
}

/// The first ten `items`, and how many there are if more.
fn list(items: &[impl Borrow<str>], separator: &str) -> String {
    if items.len() <= 10 {
        return items.join(separator);
    }
    tr!(
        "{}{}… ({} in all)",
        items[..10].join(separator),
        separator,
        items.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Turns p1, p2, … of `(ask, start, end)`.
    fn made(spans: &[(f64, f64, f64)]) -> Vec<Turn> {
        let turn = |i, (ask, start, end)| Turn {
            who: format!("p{i}"),
            pid: 1,
            ask,
            start,
            end,
        };
        (1..).zip(spans).map(|(i, &s)| turn(i, s)).collect()
    }

    /// The verdict on `spans`, which says each of `said`.
    fn says(spans: &[(f64, f64, f64)], design: Design, said: &[&str]) -> String {
        let v = verdict(&made(spans), design).join(" ");
        assert!(said.iter().all(|s| v.contains(s)), "{v}");
        v
    }

    #[test]
    fn touching_turns_do_not_overlap() {
        let turns = made(&[(0.0, 0.0, 1.0), (0.0, 1.0, 2.0)]);
        assert!(overlaps(&turns).is_empty());
        assert_eq!(most_at_once(&turns), 1);
    }

    #[test]
    fn the_verdict_names_who_overlapped() {
        let turns = [(0.0, 0.0, 2.0), (0.0, 0.1, 1.0), (0.0, 2.5, 3.0)];
        let less = "less, because they printed at the same time";
        let v = says(&turns, Design::default(), &["NOT serial", "p1 & p2", less]);
        assert!(!v.contains("p3 &"), "{v}");
    }

    #[test]
    fn without_lock_or_join_no_overlap_is_chance_not_order() {
        let (apart, mut design) = ([(0.0, 0.0, 1.0), (1.5, 1.5, 2.0)], Design::default());
        let v = says(&apart, design, &["only by chance"]);
        assert!(!v.contains("serial"), "{v}");
        design.fast = true;
        says(&apart, design, &["--speed max"]);
    }

    #[test]
    fn the_lock_verdict_compares_asking_and_getting() {
        let locked = Design {
            locked: true,
            ..Design::default()
        };
        let tied = [(0.0, 0.0, 1.0), (0.0002, 1.0, 2.0), (0.0004, 2.0, 3.0)];
        let same = ["at the same moment", "the order they were started in"];
        says(&tied, locked, &same);
        let overtaken = [(0.0, 0.0, 1.0), (0.1, 2.0, 3.0), (0.2, 1.0, 2.0)];
        let p3_first = "p2 asked for the printer 0.100 s before p3, yet p3 got it first";
        let said = [p3_first, "flock promises no order", "Lock or join"];
        says(&overtaken, locked, &said);
        let free = [(0.0, 0.0, 1.0), (1.0, 1.0, 2.0)];
        says(&free, locked, &["Nobody had to wait"]);
    }

    #[test]
    fn many_turns_make_a_summary() {
        let spans: Vec<_> = (0..30).map(|i| (0.0, i as f64, i as f64 + 1.0)).collect();
        let lines = timeline(&made(&spans), Design::default());
        let summary = lines.len() == 1 && lines[0].contains("at most 1 printing at once");
        assert!(summary, "{lines:?}");
    }
}
