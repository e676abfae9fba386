//! What version 2 says is true of the run it describes: joined, nobody
//! waits, and the order is the code's.

use common::timeline::{overlaps, turns};
use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

/// At `--speed max` and at `--speed 20`, version 2's timeline draws nobody
/// waiting (no `·`, no "waiting" in the legend), its verdict says the order
/// is the code's and nobody waited (and the trace agrees), and at speed 20
/// the time it took is about the sum of the prints.
#[test]
fn joined_colleagues_print_in_code_order_and_nobody_waits() {
    for speed in ["max", "20"] {
        let run = run(LESSON, &["--workers", "3", "--speed", speed]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        let out = &run.stdout;
        let from = out
            .find("Timeline")
            .unwrap_or_else(|| panic!("no timeline\n{}", run.output()));
        let to = out[from..]
            .find("Verdict")
            .map(|i| from + i)
            .unwrap_or_else(|| panic!("no verdict\n{}", run.output()));
        let timeline = &out[from..to];
        let legend = timeline.lines().next().unwrap_or_default();
        assert!(!timeline.contains('·'), "--speed {speed}\n{timeline}");
        assert!(!legend.contains("waiting"), "--speed {speed}: {legend}");
        let verdict = &out[to..];
        assert!(
            verdict.contains("the order of the code") && verdict.contains("nobody waited"),
            "--speed {speed}\n{}",
            run.output()
        );
        let mut turns = turns(&run.records);
        assert!(overlaps(&turns).is_empty(), "{turns:#?}");
        turns.sort_by(|a, b| a.start.total_cmp(&b.start));
        let order: Vec<&str> = turns.iter().map(|t| t.who.as_str()).collect();
        assert_eq!(order, ["p1", "p2", "p3"], "the code's order");
        if speed == "20" {
            let time = out.lines().find(|l| l.starts_with("Time:"));
            assert!(
                time.is_some_and(|t| t.contains("about their sum")),
                "{}",
                run.output()
            );
        }
    }
}
