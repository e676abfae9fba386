//! The printer lessons' drawing: once every colleague has been reaped, a
//! timeline of who held the printer and a one-line verdict, both read from
//! the trace (`ask`, `start`, `end`).

use crate::child;
use crate::error::Result;
use crate::log::{self, Record};

/// A timeline of more rows than this becomes a summary.
const MAX_ROWS: usize = 20;
const WIDTH: usize = 48;

/// Draws the timeline and the verdict of the `workers` colleagues, from
/// this run's trace. Call it once they have all been reaped.
pub fn draw(workers: u32) -> Result<()> {
    // A colleague that failed may not have said all it did: no verdict then.
    if child::failed() > 0 {
        return Err(format!(
            "{} of {workers} colleagues failed: the timeline would be incomplete",
            child::failed()
        )
        .into());
    }
    let turns = turns(&log::records()?);
    log::plain("");
    for line in timeline(&turns).iter().chain(&verdict(&turns)) {
        log::plain(line);
    }
    let missing = (workers as usize).saturating_sub(turns.len());
    if missing > 0 {
        log::plain(format!(
            "{missing} of {workers} colleagues never finished printing."
        ));
    }
    Ok(())
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

/// The timeline: a row a colleague, `█` while printing, `·` while waiting,
/// on one time axis. Above [`MAX_ROWS`] colleagues, a summary instead.
fn timeline(turns: &[Turn]) -> Vec<String> {
    let (Some(t0), Some(t1)) = (
        turns.iter().map(|t| t.ask).min_by(f64::total_cmp),
        turns.iter().map(|t| t.end).max_by(f64::total_cmp),
    ) else {
        return vec!["Nobody printed anything.".to_owned()];
    };
    let span = (t1 - t0).max(1e-9);
    if turns.len() > MAX_ROWS {
        let busy: f64 = turns.iter().map(|t| t.end - t.start).sum();
        return vec![format!(
            "Timeline of {} colleagues (too many rows to draw): at most {} printing at once; \
             printing took {busy:.3} s of the {span:.3} s from the first request to the last page.",
            turns.len(),
            most_at_once(turns)
        )];
    }
    let cell = span / WIDTH as f64;
    let name_width = turns.iter().map(|t| t.who.len()).max().unwrap_or(2);
    let mut lines = vec![format!(
        "Timeline: █ printing, · waiting for the printer (one column is {:.3} s)",
        cell
    )];
    for t in turns {
        let bar: String = (0..WIDTH)
            .map(|c| {
                let mid = t0 + (c as f64 + 0.5) * cell;
                let first = ((t.start - t0) / cell).floor() as usize == c;
                if (t.start <= mid && mid < t.end) || first {
                    '█'
                } else if t.ask <= mid && mid < t.start {
                    '·'
                } else {
                    ' '
                }
            })
            .collect();
        lines.push(format!(
            "  {:<name_width$} {:>7} │{bar}│ {:.3}–{:.3} s",
            t.who, t.pid, t.start, t.end
        ));
    }
    lines.push(format!(
        "  {:<name_width$} {:>7} {:<w$}{:.3} s",
        "",
        "",
        format!("{t0:.3} s"),
        t1,
        w = WIDTH + 1
    ));
    lines
}

/// What the timeline shows, in one or two sentences: did they overlap, in
/// what order did they print, did they get the printer in the order they asked.
fn verdict(turns: &[Turn]) -> Vec<String> {
    if turns.is_empty() {
        return Vec::new();
    }
    let pairs = overlaps(turns);
    if !pairs.is_empty() {
        let names: Vec<String> = pairs
            .iter()
            .map(|(a, b)| format!("{} & {}", a.who, b.who))
            .collect();
        return vec![format!(
            "Verdict: NOT serial. These printed at the same time: {}; up to {} at once, \
             so a real printer would mix their pages.",
            list(&names, ", "),
            most_at_once(turns)
        )];
    }
    let mut by_start: Vec<&Turn> = turns.iter().collect();
    by_start.sort_by(|a, b| a.start.total_cmp(&b.start));
    let got: Vec<String> = by_start.iter().map(|t| t.who.clone()).collect();
    let in_code_order = by_start
        .windows(2)
        .all(|w| code_order(&w[0].who) < code_order(&w[1].who));
    let first_ask = turns.iter().map(|t| t.ask).fold(f64::INFINITY, f64::min);
    let last_end = turns.iter().map(|t| t.end).fold(0.0, f64::max);
    let mut lines = vec![format!(
        "Verdict: serial, one at a time, in the order {} ({}), {:.3} s in all.",
        list(&got, " → "),
        if in_code_order {
            "the order of the code"
        } else {
            "not the order of the code"
        },
        last_end - first_ask
    )];
    // Someone competed if it asked while another was printing.
    let competed = turns
        .iter()
        .any(|a| turns.iter().any(|b| b.start < a.ask && a.ask < b.end));
    if !competed {
        lines.push(
            "Nobody had to wait: each asked for the printer only after the one before had \
             finished, so there was no competition to decide."
                .to_owned(),
        );
        return lines;
    }
    let mut by_ask: Vec<&Turn> = turns.iter().collect();
    by_ask.sort_by(|a, b| a.ask.total_cmp(&b.ask));
    let asked: Vec<String> = by_ask.iter().map(|t| t.who.clone()).collect();
    let overtaken: Vec<(&Turn, &Turn)> = by_ask
        .iter()
        .enumerate()
        .flat_map(|(i, a)| by_ask[i + 1..].iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| b.start < a.start)
        .collect();
    lines.push(match overtaken.first() {
        None => format!(
            "They asked in the order {} and got the printer in that same order: first come, \
             first served this time (flock makes no such promise).",
            list(&asked, " → ")
        ),
        Some((a, b)) => format!(
            "They asked in the order {} but got it in another: {} a later asker went \
             first (e.g. {} asked before {}, who printed first). flock promises no order.",
            list(&asked, " → "),
            match overtaken.len() {
                1 => "once".to_owned(),
                n => format!("{n} times"),
            },
            a.who,
            b.who
        ),
    });
    lines
}

fn list(items: &[String], separator: &str) -> String {
    const SHOWN: usize = 10;
    if items.len() <= SHOWN {
        return items.join(separator);
    }
    format!(
        "{}{separator}… ({} in all)",
        items[..SHOWN].join(separator),
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

    #[test]
    fn the_verdict_names_who_overlapped() {
        let turns = [
            turn("p1", 0.0, 0.0, 2.0),
            turn("p2", 0.0, 0.1, 1.0),
            turn("p3", 0.0, 2.5, 3.0),
        ];
        let v = verdict(&turns).join(" ");
        assert!(
            v.contains("NOT serial") && v.contains("p1 & p2") && !v.contains("p3"),
            "{v}"
        );
    }

    #[test]
    fn the_verdict_compares_asking_and_getting() {
        let fair = [turn("p2", 0.0, 0.0, 1.0), turn("p1", 0.1, 1.0, 2.0)];
        let v = verdict(&fair).join(" ");
        assert!(
            v.contains("not the order of the code") && v.contains("same order"),
            "{v}"
        );
        let unfair = [
            turn("p1", 0.0, 0.0, 1.0),
            turn("p2", 0.1, 2.0, 3.0),
            turn("p3", 0.2, 1.0, 2.0),
        ];
        let v = verdict(&unfair).join(" ");
        assert!(
            v.contains("once a later asker") && v.contains("p2 asked before p3"),
            "{v}"
        );
        let joined = [turn("p1", 0.0, 0.0, 1.0), turn("p2", 1.0, 1.0, 2.0)];
        assert!(verdict(&joined).join(" ").contains("Nobody had to wait"));
    }

    #[test]
    fn many_turns_make_a_summary() {
        let turns: Vec<Turn> = (0..30)
            .map(|i| turn(&format!("p{i}"), 0.0, i as f64, i as f64 + 1.0))
            .collect();
        let lines = timeline(&turns);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("at most 1 printing at once"),
            "{}",
            lines[0]
        );
    }
}
