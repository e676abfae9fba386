//! The printer lessons' drawing: once every colleague has been reaped, a
//! timeline of who held the printer and a one-line verdict, both read from
//! the trace (`ask`, `start`, `end`); and the questions all three printers
//! ask, judged from the same trace.

use crate::error::Result;
use crate::error::anyhow;
use crate::log::{self, Record};
use crate::quiz::{Question, Verdict, When, choices};
use crate::{child, timing};

/// Requests closer than this to the one before are at the same moment, as
/// far as anyone can tell: the lines show milliseconds, and a fork or a
/// scheduler's turn takes about as long.
const TIE: f64 = 0.001;
/// And a moment lasts no longer than this, however many ask in a chain.
const MOMENT: f64 = 0.003;

/// What the lesson's code did to order the colleagues, as this run saw it.
#[derive(Debug, Clone, Copy, Default)]
struct Design {
    /// They took a `Lock` (v3): only then can one wait for another.
    locked: bool,
    /// Main joined each before it started the next (v2).
    joined: bool,
    /// `--speed max`: nothing sleeps, so a print is over in an instant.
    fast: bool,
    /// `--pause`: a colleague may have held the printer while the learner looked.
    paused: bool,
}

/// A timeline of more rows than this becomes a summary.
const MAX_ROWS: usize = 20;
const WIDTH: usize = 48;

/// Draws the timeline and the verdict of the `workers` colleagues, from
/// this run's trace. Call it once they have all been reaped.
pub fn draw(workers: u32) -> Result<()> {
    // A colleague that failed may not have said all it did: no verdict then.
    if child::failed() > 0 {
        return Err(anyhow!(tr!(
            "{} of {} colleagues failed: the timeline would be incomplete",
            child::failed(),
            workers
        )));
    }
    let records = log::records()?;
    let design = design(&records);
    let turns = turns(&records);
    log::plain("");
    for line in timeline(&turns, design) {
        log::plain(line);
    }
    for line in verdict(&turns, design) {
        log::prose(line);
    }
    let missing = (workers as usize).saturating_sub(turns.len());
    if missing > 0 {
        log::prose(tr!(
            "{} of {} never finished printing.",
            missing,
            log::plural(workers, "colleague", "colleagues")
        ));
    }
    Ok(())
}

/// What the lesson's code did, as this run's trace says.
fn design(records: &[Record]) -> Design {
    Design {
        locked: records.iter().any(|r| r.event == "lock"),
        joined: joined_before_each_start(records),
        fast: timing::never_sleeps(),
        // Only a pause that held, as the trace says: with `--pause`, v1 and
        // v2 have no step to hold at, and their times still compare.
        paused: records.iter().any(|r| r.event == "pause"),
    }
}

/// True if, as the trace says, this process never started a child while
/// another it started was not joined yet: it joined each before the next.
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

/// Will two colleagues ever be printing at the same moment? Asked before
/// they start; judged from the timeline.
pub const OVERLAP: Question = Question {
    id: "printer.overlap",
    when: When::Start,
    ask: |_| {
        (
            tr!("Will two colleagues ever be printing at the same moment?"),
            choices(&[&tr!("yes"), &tr!("no")]),
        )
    },
    judge: |records| judged(records, overlap),
};

/// In what order will they print?
pub const ORDER: Question = Question {
    id: "printer.order",
    when: When::Start,
    ask: |_| {
        (
            tr!("In what order will they print?"),
            choices(&[
                &tr!("p1, p2, p3, …: the order they are started in"),
                &tr!("in whatever order they get to the printer"),
                &tr!("all at once: side by side"),
            ]),
        )
    },
    judge: |records| judged(records, order),
};

/// Will any colleague have to wait for another?
pub const WAIT: Question = Question {
    id: "printer.wait",
    when: When::Start,
    ask: |_| {
        (
            tr!("Will any colleague have to wait for another?"),
            choices(&[&tr!("yes"), &tr!("no")]),
        )
    },
    judge: |records| judged(records, wait),
};

/// Judges one prediction by `judge` from the trace, as the timeline shows
/// it: nothing to judge if no colleague finished, or one failed (then no
/// timeline is drawn).
fn judged(records: &[Record], judge: fn(&[Turn], Design) -> Verdict) -> Option<Verdict> {
    let failed = records
        .iter()
        .any(|r| r.event == "error" && r.who != "main");
    let turns = turns(records);
    if failed || turns.is_empty() {
        return None;
    }
    Some(judge(&turns, design(records)))
}

fn overlap(turns: &[Turn], design: Design) -> Verdict {
    let kind = Kind::of(design);
    let overlapped = !overlaps(turns).is_empty();
    let shown = if overlapped { 0 } else { 1 };
    let (right, why): (&[usize], String) = match (kind, overlapped) {
        (Kind::Joined, _) => (
            &[1],
            tr!("main joined each before it started the next: they never can."),
        ),
        (Kind::Locked, _) => (
            &[1],
            tr!("the lock lets one print at a time: they never can."),
        ),
        (Kind::Free, true) => (&[0], tr!("nothing keeps them apart, so their turns meet.")),
        (Kind::Free, false) => (
            &[0, 1],
            tr!("nothing keeps them apart; their turns did not meet \
                this time (chance, or a speed too fast to sleep), so both answers hold."),
        ),
    };
    Verdict::new(shown, right, why)
}

fn order(turns: &[Turn], design: Design) -> Verdict {
    let kind = Kind::of(design);
    let overlapped = !overlaps(turns).is_empty();
    let mut by_start: Vec<&Turn> = turns.iter().collect();
    by_start.sort_by(|a, b| a.start.total_cmp(&b.start));
    let code_order = by_start
        .windows(2)
        .all(|w| code_order(&w[0].who) < code_order(&w[1].who));
    let shown = match (overlapped, code_order) {
        (true, _) => 2,
        (false, true) => 0,
        (false, false) => 1,
    };
    let (right, why): (&[usize], String) = match (kind, shown) {
        (Kind::Joined, _) => (&[0], tr!("join fixes the order in the code: certain.")),
        (Kind::Locked, 0) => (
            &[0, 1],
            tr!("the lock served them in the order they were started, \
                this time: flock promises no order, so 2) was as right."),
        ),
        (Kind::Locked, _) => (
            &[1],
            tr!("whoever got the lock first printed first: flock promises no order."),
        ),
        (Kind::Free, 2) => (
            &[2],
            tr!("with nothing to order them, they printed side by side."),
        ),
        (Kind::Free, _) => (
            &[2, shown],
            tr!("nothing orders them; this time their turns did not meet."),
        ),
    };
    Verdict::new(shown, right, why)
}

fn wait(turns: &[Turn], design: Design) -> Verdict {
    let kind = Kind::of(design);
    let waited = design.locked && turns.iter().any(|t| t.start - t.ask > TIE);
    let shown = if waited { 0 } else { 1 };
    let (right, why): (&[usize], String) = match (kind, waited) {
        (Kind::Joined, _) => (
            &[1],
            tr!("none is started while another prints: nobody ever waits."),
        ),
        (Kind::Free, _) => (
            &[1],
            tr!("nothing makes them wait: without a lock they print together."),
        ),
        (Kind::Locked, true) => (
            &[0],
            tr!("whoever asked while the lock was held waited for it."),
        ),
        (Kind::Locked, false) => (
            &[1, 0],
            tr!("nobody asked while the lock was held, this time: \
                at a slower speed they would queue, so both answers hold."),
        ),
    };
    Verdict::new(shown, right, why)
}

/// How this version orders its colleagues.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Joined,
    Locked,
    Free,
}

impl Kind {
    fn of(design: Design) -> Kind {
        if design.joined {
            Kind::Joined
        } else if design.locked {
            Kind::Locked
        } else {
            Kind::Free
        }
    }
}

/// One colleague's time at the printer, in seconds since the lesson started.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub who: String,
    pub pid: i32,
    /// When it wanted the printer.
    pub ask: f64,
    /// When it started printing.
    pub start: f64,
    /// When it finished.
    pub end: f64,
}

/// The turns of every colleague that both started and finished printing,
/// in the code's order (p1, p2, …).
pub fn turns(records: &[Record]) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    for r in records.iter().filter(|r| r.event == "start") {
        let at = |event: &str| {
            records
                .iter()
                .find(|x| x.pid == r.pid && x.event == event)
                .map(|x| x.t)
        };
        if let Some(end) = at("end") {
            turns.push(Turn {
                who: r.who.clone(),
                pid: r.pid,
                ask: at("ask").unwrap_or(r.t),
                start: r.t,
                end,
            });
        }
    }
    turns.sort_by_key(|t| code_order(&t.who));
    turns
}

fn code_order(name: &str) -> (u64, String) {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u64::MAX), name.to_owned())
}

/// Pairs of colleagues who were printing at the same moment.
pub fn overlaps(turns: &[Turn]) -> Vec<(&Turn, &Turn)> {
    let mut pairs = Vec::new();
    for (i, a) in turns.iter().enumerate() {
        for b in &turns[i + 1..] {
            if a.start < b.end && b.start < a.end {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// The most colleagues printing at one moment.
pub fn most_at_once(turns: &[Turn]) -> usize {
    let mut edges: Vec<(f64, i32)> = turns
        .iter()
        .flat_map(|t| [(t.start, 1), (t.end, -1)])
        .collect();
    // At equal times an end comes first: touching turns do not overlap.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

/// The timeline: a row a colleague, `█` while printing, `·` while waiting
/// for the lock, on one time axis. Above [`MAX_ROWS`] colleagues, a summary
/// instead. Without a lock nobody waits: asking and printing are one.
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
    // At full speed a column can be a few microseconds: say so, not "0.000 s".
    let column = if cell >= 0.001 {
        format!("{cell:.3} s")
    } else {
        format!("{} µs", (cell * 1e6).round().max(1.0))
    };
    let mut lines = vec![tr!("Timeline: {} (one column is {})", legend, column)];
    // Times to the millisecond, or, as fine as the columns, to the microsecond.
    let (scale, unit) = if cell >= 0.001 {
        (1.0, "s")
    } else {
        (1e3, "ms")
    };
    let time = |t: f64| format!("{:.3}", t * scale);
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
        lines.push(format!(
            "  {:<name_width$} {:>7} │{bar}│ {}–{} {unit}",
            t.who,
            t.pid,
            time(t.start),
            time(t.end)
        ));
    }
    lines.push(format!(
        "  {:<name_width$} {:>7} {:<w$}{} {unit}",
        "",
        "",
        format!("{} {unit}", time(t0)),
        time(t1),
        w = WIDTH + 1
    ));
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
    let mut by_start: Vec<&Turn> = turns.iter().collect();
    by_start.sort_by(|a, b| a.start.total_cmp(&b.start));
    let order = names(&by_start, " → ");
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
    let mut by_ask: Vec<&Turn> = turns.iter().collect();
    by_ask.sort_by(|a, b| a.ask.total_cmp(&b.ask));
    let mut by_start = by_ask.clone();
    by_start.sort_by(|a, b| a.start.total_cmp(&b.start));
    let got = names(&by_start, " → ");
    let mut lines = Vec::new();
    let span = by_ask[by_ask.len() - 1].ask - by_ask[0].ask;
    if span <= MOMENT && by_ask.windows(2).all(|w| w[1].ask - w[0].ask <= TIE) {
        let started_order = by_start
            .windows(2)
            .all(|w| code_order(&w[0].who) < code_order(&w[1].who));
        lines.push(tr!(
            "They all asked at the same moment (each within {} ms of the one before), so there \
             was no first come: the lock let them in as {}{}.",
            TIE * 1e3,
            got,
            if started_order {
                tr!(", the order they were started in, which flock happened to keep")
            } else {
                String::new()
            }
        ));
    } else {
        // A clear overtaking: `a` asked well before `b`, yet `b` printed first.
        let overtaken = by_ask.iter().enumerate().find_map(|(i, a)| {
            by_ask[i + 1..]
                .iter()
                .find(|b| b.ask - a.ask > TIE && b.start < a.start)
                .map(|b| (*a, *b))
        });
        // Who asked when: groups of requests at the same moment.
        let mut groups: Vec<Vec<&Turn>> = Vec::new();
        for t in &by_ask {
            match groups.last_mut() {
                Some(g) if t.ask - g[g.len() - 1].ask <= TIE && t.ask - g[0].ask <= MOMENT => {
                    g.push(t)
                }
                _ => groups.push(vec![t]),
            }
        }
        let asked: Vec<String> = groups
            .iter()
            .map(|g| match g.len() {
                1 => g[0].who.clone(),
                _ => tr!("{} (at the same moment)", names(g, &tr!(" & "))),
            })
            .collect();
        lines.push(tr!("They asked as {}.", list(&asked, &tr!(", then "))));
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
    let last = turns.iter().map(|t| t.end).fold(0.0, f64::max);
    let span = last - first;
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
    let names: Vec<String> = turns.iter().map(|t| t.who.clone()).collect();
    list(&names, separator)
}

fn list(items: &[String], separator: &str) -> String {
    const SHOWN: usize = 10;
    if items.len() <= SHOWN {
        return items.join(separator);
    }
    tr!(
        "{}{}… ({} in all)",
        items[..SHOWN].join(separator),
        separator,
        items.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(who: &str, ask: f64, start: f64, end: f64) -> Turn {
        Turn {
            who: who.into(),
            pid: 1,
            ask,
            start,
            end,
        }
    }

    #[test]
    fn touching_turns_do_not_overlap() {
        let turns = [turn("p1", 0.0, 0.0, 1.0), turn("p2", 0.0, 1.0, 2.0)];
        assert!(overlaps(&turns).is_empty());
        assert_eq!(most_at_once(&turns), 1);
    }

    const LOCKED: Design = Design {
        locked: true,
        joined: false,
        fast: false,
        paused: false,
    };

    #[test]
    fn the_verdict_names_who_overlapped() {
        let turns = [
            turn("p1", 0.0, 0.0, 2.0),
            turn("p2", 0.0, 0.1, 1.0),
            turn("p3", 0.0, 2.5, 3.0),
        ];
        let v = verdict(&turns, Design::default()).join(" ");
        assert!(
            v.contains("NOT serial") && v.contains("p1 & p2") && !v.contains("p3 &"),
            "{v}"
        );
        assert!(
            v.contains("less, because they printed at the same time"),
            "{v}"
        );
    }

    #[test]
    fn without_lock_or_join_no_overlap_is_chance_not_order() {
        let apart = [turn("p1", 0.0, 0.0, 1.0), turn("p2", 1.5, 1.5, 2.0)];
        let v = verdict(&apart, Design::default()).join(" ");
        assert!(v.contains("only by chance") && !v.contains("serial"), "{v}");
        let fast = Design {
            fast: true,
            ..Design::default()
        };
        assert!(verdict(&apart, fast).join(" ").contains("--speed max"));
    }

    #[test]
    fn joined_colleagues_never_wait_and_draw_no_dots() {
        let joined = Design {
            joined: true,
            ..Design::default()
        };
        let turns = [turn("p1", 0.0, 0.1, 1.0), turn("p2", 1.0, 1.1, 2.0)];
        let v = verdict(&turns, joined).join(" ");
        assert!(
            v.contains("the order of the code") && v.contains("nobody waited"),
            "{v}"
        );
        assert!(!timeline(&turns, joined).concat().contains('·'));
    }

    #[test]
    fn the_lock_verdict_compares_asking_and_getting() {
        let tied = [
            turn("p1", 0.0, 0.0, 1.0),
            turn("p2", 0.0002, 1.0, 2.0),
            turn("p3", 0.0004, 2.0, 3.0),
        ];
        let v = verdict(&tied, LOCKED).join(" ");
        assert!(
            v.contains("at the same moment") && v.contains("the order they were started in"),
            "{v}"
        );
        let overtaken = [
            turn("p1", 0.0, 0.0, 1.0),
            turn("p2", 0.1, 2.0, 3.0),
            turn("p3", 0.2, 1.0, 2.0),
        ];
        let v = verdict(&overtaken, LOCKED).join(" ");
        assert!(
            v.contains("p2 asked for the printer 0.100 s before p3, yet p3 got it first"),
            "{v}"
        );
        assert!(
            v.contains("flock promises no order") && v.contains("Lock or join"),
            "{v}"
        );
        let free = [turn("p1", 0.0, 0.0, 1.0), turn("p2", 1.0, 1.0, 2.0)];
        assert!(
            verdict(&free, LOCKED)
                .join(" ")
                .contains("Nobody had to wait")
        );
    }

    #[test]
    fn many_turns_make_a_summary() {
        let turns: Vec<Turn> = (0..30)
            .map(|i| turn(&format!("p{i}"), 0.0, i as f64, i as f64 + 1.0))
            .collect();
        let lines = timeline(&turns, Design::default());
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("at most 1 printing at once"),
            "{}",
            lines[0]
        );
    }
}
