//! `--schedule` and `--every-schedule` without a lock: every schedule is a
//! real sale, and they are exactly those of a model of the buyers' steps.

use lesson_testing::schedules::offices;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-unsafe");

#[test]
fn every_schedule_of_three_buyers_is_the_models() {
    offices::every_schedule_matches_the_model(LESSON, 3, 1, false, true, &[]);
}

#[test]
fn every_schedule_of_two_buyers_and_two_tickets_is_the_models() {
    offices::every_schedule_matches_the_model(LESSON, 2, 2, false, true, &[]);
}

#[test]
fn a_schedule_is_followed_and_replayed() {
    offices::a_schedule_is_followed_and_replayed(LESSON);
}

#[test]
fn ctrl_c_stops_every_schedule() {
    offices::ctrl_c_stops_every_schedule(LESSON);
}

#[test]
fn large_sizes_are_refused() {
    offices::large_sizes_are_refused(LESSON);
}

#[test]
fn a_panic_asked_for_is_named_as_the_cause() {
    offices::a_panic_asked_for_is_named_as_the_cause(LESSON);
}

/// Asked how many of the schedules oversell: some, not all (choice 2).
#[test]
fn the_quiz_asks_how_many_schedules_oversell() {
    let dir = lesson_testing::Scratch::new();
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
    lesson_testing::quiz_scores_all(LESSON, &args, &[2]);
}
