//! Stopping a sale: Ctrl-C while it is held at a pause, SIGHUP to its
//! whole process group, mid-sale, and SIGTERM to one started with its
//! signals blocked; and not SIGHUP, SIGINT or SIGQUIT to one started to
//! ignore them.

use lesson_testing::stops;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

#[test]
fn a_stopped_sale_reckons_what_its_buyers_reported() {
    stops::a_stopped_sale_reckons_what_its_buyers_reported(LESSON, true);
}

#[test]
fn blocked_stop_signals_stop_it_all_the_same() {
    let dir = lesson_testing::Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--file", &file, "--buyers", "3", "--speed", "1"];
    stops::blocked_stop_signals_stop_it_all_the_same(LESSON, &args, "search");
}

#[test]
fn ignored_terminal_signals_stay_ignored() {
    let dir = lesson_testing::Scratch::new();
    let file = dir.path("ticket.json");
    let args = ["--file", &file, "--buyers", "3", "--speed", "5"];
    stops::ignored_terminal_signals_stay_ignored(LESSON, &args);
}

#[test]
fn a_hangup_of_the_whole_sale_leaves_no_file_behind() {
    stops::a_hangup_of_the_whole_sale_leaves_no_file_behind(LESSON);
}

#[test]
fn a_full_trace_disk_leaves_the_reckoning_true() {
    stops::a_full_trace_disk_leaves_the_reckoning_true(LESSON, true);
}

/// SIGXFSZ, sent again and again to every buyer, one waiting in `flock`
/// among them: a child ignores it, so the sale goes on as if none came.
#[test]
fn a_sigxfsz_to_the_buyers_changes_nothing() {
    use lesson_testing::{Scratch, start_in};
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::time::{Duration, Instant};

    let tmp = Scratch::new();
    let file = tmp.write("ticket.json", "{\"count\": 3}\n");
    let args = ["--file", &file, "--buyers", "3", "--speed", "5"];
    let lesson = start_in(&tmp, LESSON, &args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lesson.records().iter().any(|r| r.event == "summary") {
        assert!(Instant::now() < deadline, "no summary in 60 s");
        for child in common::system::children_of(lesson.pid()) {
            let _ = kill(Pid::from_raw(child.pid), Signal::SIGXFSZ);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = lesson.finish();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("bought").count(), 3, "{}", run.output());
    let left = std::fs::read_to_string(&file).expect("the ticket file");
    assert_eq!(left, "{\"count\": 0}\n", "{}", run.output());
}
