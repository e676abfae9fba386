//! `--schedule` and `--every-schedule` with the lock: every schedule sells
//! exactly, the lock makes some impossible, and a lock opened before fork
//! lets every schedule of the unlocked office through.

use lesson_testing::schedules::{offices, turns};
use lesson_testing::{Scratch, run};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

#[test]
fn every_schedule_of_three_buyers_is_the_models() {
    offices::every_schedule_matches_the_model(LESSON, 3, 1, true, true, &[]);
}

#[test]
fn every_schedule_of_two_buyers_and_two_tickets_is_the_models() {
    offices::every_schedule_matches_the_model(LESSON, 2, 2, true, true, &[]);
}

/// Here the kernel's choice of the next holder changes the turns: every
/// schedule run is still one of the model's, with its sale.
#[test]
fn every_schedule_of_three_buyers_and_two_tickets_is_one_of_the_models() {
    offices::every_schedule_matches_the_model(LESSON, 3, 2, true, false, &[]);
}

#[test]
fn a_lock_opened_before_fork_oversells_as_without_one() {
    let extra = ["--lock-opened-before-fork"];
    offices::every_schedule_matches_the_model(LESSON, 3, 1, false, true, &extra);
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = [
        "--file",
        &file,
        "--buyers",
        "2",
        "--tickets",
        "1",
        "--every-schedule",
    ];
    let done = run(LESSON, &[&args[..], &extra[..]].concat());
    for says in ["one open file description", "flock(2)", "OVERSOLD"] {
        let says = says.replace("OVERSOLD", "oversold (");
        assert!(done.stdout.contains(&says), "{says}: {}", done.output());
    }
}

#[test]
fn an_impossible_schedule_is_named_and_not_run() {
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
        "1,2,2",
    ];
    let done = run(LESSON, &args);
    assert_eq!(done.code(), Some(1), "{}", done.output());
    let says = "turn 3 is buyer-2's, and buyer-2 is waiting for the lock that buyer-1 holds";
    assert!(done.stderr.contains(says), "{}", done.output());
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.output());
    assert_eq!(turns(&done.records), [1, 2], "turn 3 was not given");
    let cut = done
        .events("impossible")
        .next()
        .expect("an impossible record");
    assert_eq!(
        (cut.fields["turn"].as_u64(), cut.fields["why"].as_str()),
        (Some(3), Some("waiting"))
    );
    assert_eq!(done.events("bought").count(), 0, "{}", done.output());
    let text = std::fs::read_to_string(&file).expect("the file");
    assert!(text.contains("\"count\":1"), "nothing sold: {text}");
}

#[test]
fn a_schedule_is_followed_and_replayed() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    // buyer-1 holds the lock at its second point; buyer-2 reads, then waits.
    let args = [
        "--file",
        &file,
        "--buyers",
        "2",
        "--tickets",
        "1",
        "--schedule",
        "1,2,1",
    ];
    let done = run(LESSON, &args);
    assert_eq!(done.code(), Some(0), "{}", done.output());
    assert_eq!(turns(&done.records), [1, 2, 1]);
    let got = done
        .events("got_lock")
        .map(|r| r.who.as_str())
        .collect::<Vec<_>>();
    assert_eq!(got, ["buyer-2"], "{}", done.output());
    assert_eq!(
        done.events("sold_out").next().map(|r| r.who.as_str()),
        Some("buyer-2")
    );
}

#[test]
fn ctrl_c_stops_every_schedule() {
    offices::ctrl_c_stops_every_schedule(LESSON);
}

#[test]
fn large_sizes_are_refused() {
    offices::large_sizes_are_refused(LESSON);
}

/// None oversells under the lock (choice 1); opened before fork, some do
/// (choice 2), and the lock kept nobody apart (choice 2).
#[test]
fn the_quiz_asks_about_the_schedules_and_the_lock_opened_before_fork() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = [
        "--file",
        &file,
        "--buyers",
        "3",
        "--tickets",
        "1",
        "--every-schedule",
    ];
    lesson_testing::quiz_scores_all(LESSON, &args, &[1]);
    let shared = [&args[..], &["--lock-opened-before-fork"]].concat();
    lesson_testing::quiz_scores_all(LESSON, &shared, &[2, 2]);
}

/// A plain sale with the lock opened before fork, made to oversell by its
/// schedule, says why in its reckoning.
#[test]
fn a_plain_sale_with_the_lock_opened_before_fork_names_the_cause() {
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
        "--lock-opened-before-fork",
    ];
    let done = run(LESSON, &args);
    assert_eq!(done.code(), Some(0), "{}", done.output());
    for says in ["OVERSOLD", "one open file description", "flock(2)"] {
        assert!(done.stdout.contains(says), "{says}: {}", done.output());
    }
}
