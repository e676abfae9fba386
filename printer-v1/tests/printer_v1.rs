//! Version 1's claim: with nothing to order them, the colleagues print at
//! the same time.

use common::timeline::{overlaps, turns};
use lesson_testing::{check_usage, run};

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

#[test]
fn three_colleagues_print_at_the_same_time() {
    // Each print lasts 0.1 to 0.3 s; all three start within a few ms.
    let run = run(LESSON, &["--workers", "3", "--speed", "10"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let turns = turns(&run.records);
    assert_eq!(turns.len(), 3, "{}", run.output());
    assert!(!overlaps(&turns).is_empty(), "{turns:#?}");
    assert!(
        run.stdout.contains("Verdict: NOT serial"),
        "{}",
        run.output()
    );
}

#[test]
fn every_line_names_the_process_and_its_pid() {
    let run = run(LESSON, &["--speed", "max"]);
    for r in run.events("start") {
        let line = format!("{:>7} {:<9} starts printing", r.pid, r.who);
        assert!(run.stdout.contains(&line), "no '{line}' in\n{}", run.stdout);
    }
}

#[test]
fn a_seed_replays_every_process_s_draws() {
    // What each drew, as the trace's `sleep` events say.
    let draws = || {
        let run = run(LESSON, &["--workers", "4", "--speed", "20", "--seed", "42"]);
        assert_eq!(turns(&run.records).len(), 4, "{}", run.output());
        let mut draws: Vec<(String, u64)> = run
            .events("sleep")
            .map(|r| {
                (
                    r.who.clone(),
                    r.fields["seconds"].as_u64().expect("seconds"),
                )
            })
            .collect();
        draws.sort();
        draws
    };
    let first = draws();
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|(_, n)| (1..=3).contains(n)), "{first:?}");
    assert_eq!(first, draws());
}

#[test]
fn usage() {
    check_usage(
        LESSON,
        env!("CARGO_PKG_DESCRIPTION"),
        &[
            &["--workers", "0"],
            &["--workers", "many"],
            &["--speed", "0"],
            &["--seed", "-1"],
        ],
    );
}
