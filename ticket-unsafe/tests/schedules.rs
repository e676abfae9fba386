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
