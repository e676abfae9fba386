//! The orphan lesson killed outright (SIGKILL): its orphan C is the one
//! child meant to outlive its parent, and it still ends on its own.

use std::time::{Duration, Instant};

use common::system::process;
use lesson_testing::{Running, Scratch, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

/// `start` with the lesson's scratch directory in `tmp` (`TMPDIR`): one
/// that a run killed by SIGKILL leaves behind stays out of the shared one.
fn start_in(tmp: &Scratch, args: &[&str]) -> Running {
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    // `env` execs the lesson: the same pid, and `start` still adds its --trace.
    start("env", &[&[tmpdir.as_str(), LESSON], args].concat())
}

/// C asked for no signal on its parent's death, so killing the lesson
/// does not end it: it runs to its own end, within the 1 to 3 s it sleeps.
#[test]
fn after_sigkill_of_the_main_process_the_orphan_ends_on_its_own() {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, &["--speed", "1"]);
    lesson.wait_for("adopted", 1);
    let c = lesson
        .records()
        .into_iter()
        .find(|r| r.event == "adopted")
        .expect("C reported its adoption")
        .pid;
    lesson.signal(Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while process(c).is_some_and(|p| !p.is_zombie()) {
        assert!(Instant::now() < deadline, "C (pid {c}) still runs 10 s on");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.status.code(), None, "{}", run.output());
    assert!(
        run.by("C").any(|r| r.event == "exit"),
        "C ended on its own, not killed\n{}",
        run.output()
    );
    assert!(
        left.iter().all(|p| p.pid == c && p.is_zombie()),
        "only C's zombie may be left: {left:#?}"
    );
}
