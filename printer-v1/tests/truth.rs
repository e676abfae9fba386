//! What version 1 says is true of the run it describes: it never claims an
//! order it does not have, and its time line matches the trace.

use common::timeline::{overlaps, turns};
use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

/// The first line of `text` that starts with `start`.
fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(start))
}

/// At `--speed max` nothing sleeps, and eight colleagues may well not meet:
/// version 1 then says it was only by chance (and how to see them meet),
/// never that it was serial, in the code's order or first come; and when
/// they did meet, it says "NOT serial".
#[test]
fn at_full_speed_no_overlap_is_called_chance_never_order() {
    for _ in 0..5 {
        let run = run(LESSON, &["--workers", "8", "--speed", "max"]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        let turns = turns(&run.records);
        assert_eq!(turns.len(), 8, "{}", run.output());
        let out = &run.stdout;
        if overlaps(&turns).is_empty() {
            assert!(line(out, "Verdict: serial").is_none(), "{}", run.output());
            for never in ["the order of the code", "first come"] {
                assert!(!out.contains(never), "says '{never}'\n{}", run.output());
            }
            assert!(
                out.contains("only by chance") && out.contains("--speed"),
                "{}",
                run.output()
            );
        } else {
            let verdict = line(out, "Verdict:").unwrap_or_default();
            assert!(verdict.contains("NOT serial"), "{}", run.output());
        }
    }
}

/// At `--speed 10` the colleagues print at the same time, so their printing
/// adds up to more than the time it all took: the time line says "less",
/// and whenever it says so, the trace agrees.
#[test]
fn overlapping_prints_take_less_than_their_sum() {
    let mut overlapped = 0;
    for _ in 0..3 {
        let run = run(LESSON, &["--workers", "3", "--speed", "10"]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        let turns = turns(&run.records);
        assert_eq!(turns.len(), 3, "{}", run.output());
        let time = line(&run.stdout, "Time:").unwrap_or_else(|| panic!("{}", run.output()));
        let busy: f64 = turns.iter().map(|t| t.end - t.start).sum();
        let first = turns.iter().map(|t| t.ask).fold(f64::INFINITY, f64::min);
        let last = turns.iter().map(|t| t.end).fold(0.0, f64::max);
        if !overlaps(&turns).is_empty() {
            overlapped += 1;
            assert!(time.contains("less"), "{time}\n{turns:#?}");
        }
        if time.contains("less") {
            assert!(
                busy > last - first,
                "printing {busy} s, elapsed {} s: {time}",
                last - first
            );
        }
    }
    assert!(
        overlapped > 0,
        "no run of version 1 overlapped at --speed 10"
    );
}
