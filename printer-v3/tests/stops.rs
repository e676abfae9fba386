//! Stopping printer-v3: by any signal that ends a process by default, by two
//! at once, with its children stopped or frozen, started with its signals
//! blocked; and not by SIGHUP, SIGINT or SIGQUIT it was started to ignore.

use lesson_testing::stops;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

const SLOW: &[&str] = &["--speed", "1", "--workers", "3"];

#[test]
fn every_stop_signal_ends_it_as_sigterm_does() {
    stops::every_stop_signal_ends_it_as_sigterm_does(LESSON, SLOW, "start", 1);
}

#[test]
fn blocked_stop_signals_stop_it_all_the_same() {
    stops::blocked_stop_signals_stop_it_all_the_same(LESSON, SLOW, "start");
}

#[test]
fn ignored_terminal_signals_stay_ignored() {
    stops::ignored_terminal_signals_stay_ignored(LESSON, SLOW);
}

#[test]
fn two_stops_in_a_row_are_one() {
    stops::two_stops_in_a_row_are_one(LESSON, SLOW, "start");
}

#[test]
fn a_core_signal_ends_a_child_without_a_core_file() {
    stops::a_core_signal_ends_a_child_without_a_core_file(LESSON, SLOW, "start");
}

#[test]
fn a_stop_wakes_stopped_children() {
    stops::a_stop_wakes_stopped_children(LESSON, SLOW, "start");
}

#[test]
fn a_child_that_does_not_end_is_killed_after_a_grace() {
    stops::a_child_that_does_not_end_is_killed_after_a_grace(LESSON, SLOW, "start");
}

#[test]
fn a_full_trace_disk_draws_no_timeline() {
    stops::a_full_trace_disk_draws_no_timeline(LESSON);
}
