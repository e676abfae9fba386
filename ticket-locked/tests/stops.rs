//! Stopping a sale: Ctrl-C while it is held at a pause, and SIGHUP to its
//! whole process group, mid-sale.

use lesson_testing::stops;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

#[test]
fn a_stopped_sale_reckons_what_its_buyers_reported() {
    stops::a_stopped_sale_reckons_what_its_buyers_reported(LESSON, true);
}

#[test]
fn a_hangup_of_the_whole_sale_leaves_no_file_behind() {
    stops::a_hangup_of_the_whole_sale_leaves_no_file_behind(LESSON);
}

#[test]
fn a_full_trace_disk_leaves_the_reckoning_true() {
    stops::a_full_trace_disk_leaves_the_reckoning_true(LESSON, true);
}
