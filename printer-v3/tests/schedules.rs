//! `--schedule` and `--every-schedule`: each colleague passes one sleep
//! point, its printing, and the schedule orders them.

use lesson_testing::run;
use lesson_testing::schedules::printers;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

/// The lock lets only its holder reach its sleep point: one run, in the
/// order the kernel gave the lock, and the three turns it cut off.
#[test]
fn the_lock_allows_the_kernels_order_only() {
    let (done, runs) = printers::every_run(LESSON, &[]);
    assert_eq!(runs.len(), 1, "{}", done.output());
    assert!(!runs[0].1, "nobody overlapped: {}", done.output());
    let every = done
        .events("every_schedule")
        .next()
        .expect("every_schedule");
    assert_eq!(every.fields["impossible"], 3, "{}", done.output());
}

/// The lock opened once before fork: every order runs, and overlaps.
#[test]
fn a_lock_opened_before_fork_lets_every_order_overlap() {
    let (done, runs) = printers::every_run(LESSON, &["--lock-opened-before-fork"]);
    let orders: Vec<Vec<u32>> = runs.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(orders, printers::all_orders(), "{}", done.output());
    assert!(
        runs.iter().all(|(_, overlapped)| *overlapped),
        "{}",
        done.output()
    );
    for says in ["one open file description", "flock(2)"] {
        assert!(done.stdout.contains(says), "{says}: {}", done.output());
    }
}

#[test]
fn a_turn_for_a_colleague_waiting_for_the_lock_is_refused() {
    let done = run(LESSON, &["--workers", "2", "--schedule", "2,1"]);
    // p1 or p2 got the lock first: the kernel chose; the other waits.
    let first = done.events("start").next().map(|r| r.who.clone());
    match first.as_deref() {
        Some("p1") => {
            assert_eq!(done.code(), Some(1), "{}", done.output());
            assert!(
                done.stderr
                    .contains("is waiting for the lock that p1 holds"),
                "{}",
                done.output()
            );
        }
        _ => assert_eq!(done.code(), Some(0), "{}", done.output()),
    }
}

/// Asked in how many orders two print at once; judged from every run.
#[test]
fn the_quiz_asks_how_many_orders_overlap() {
    lesson_testing::quiz_scores_all(LESSON, &["--workers", "3", "--every-schedule"], &[1]);
}
