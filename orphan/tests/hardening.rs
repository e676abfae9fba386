//! The orphan lesson killed outright (SIGKILL): its orphan C is the one
//! child meant to outlive its parent, and it still ends: with the lesson
//! that adopted it, or on its own. And started with SIGCHLD ignored.

use std::time::{Duration, Instant};

use common::system::process;
use lesson_testing::{Running, Scratch, run_ignoring_sigchld, start_in};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

/// The pid of C, once it has reported its adoption and the lesson has
/// reaped P: killed before that, the lesson would leave P's zombie too.
fn adopted_c(lesson: &Running) -> i32 {
    lesson.wait_for("adopted", 1);
    lesson.wait_for("reaped", 1);
    lesson
        .records()
        .into_iter()
        .find(|r| r.event == "adopted")
        .expect("C reported its adoption")
        .pid
}

/// Waits (at most `within`) for `c` to be gone or a zombie.
fn ends_within(c: i32, within: Duration) {
    let deadline = Instant::now() + within;
    while process(c).is_some_and(|p| !p.is_zombie()) {
        assert!(
            Instant::now() < deadline,
            "C (pid {c}) still runs {within:?} on"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Adopted by the lesson, C asks again for SIGTERM on its (new) parent's
/// death: killing the lesson outright ends C with it, at once, though the
/// sleep C was in had up to 3 s to go.
#[test]
fn after_sigkill_of_the_main_process_its_adopted_orphan_goes_too() {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, LESSON, &["--speed", "1"]);
    let c = adopted_c(&lesson);
    lesson.signal(Signal::SIGKILL);
    ends_within(c, Duration::from_secs(2));
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.status.code(), None, "{}", run.output());
    assert!(
        !run.by("C").any(|r| r.event == "exit"),
        "C was ended with the lesson, not by itself\n{}",
        run.output()
    );
    assert!(
        left.iter().all(|p| p.pid == c && p.is_zombie()),
        "only C's zombie may be left: {left:#?}"
    );
}

/// Left to another adopter (`--no-subreaper`: here, this test process), C
/// asked for no signal on its parent's death: killing the lesson does not
/// end it, and it runs to its own end, within the 1 to 3 s it sleeps.
#[test]
fn after_sigkill_of_the_main_process_an_orphan_left_to_the_system_ends_on_its_own() {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, LESSON, &["--speed", "1", "--no-subreaper"]);
    let c = adopted_c(&lesson);
    lesson.signal(Signal::SIGKILL);
    ends_within(c, Duration::from_secs(10));
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

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    lesson_testing::refuses_too_little_address_space(LESSON, &[]);
}

/// `--pause` held by the child C, fed `/dev/zero`: it goes on.
#[test]
fn a_pause_in_a_child_fed_a_line_that_never_ends_goes_on() {
    lesson_testing::a_pause_fed_a_line_that_never_ends_goes_on(
        LESSON,
        &["--pause", "--speed", "max"],
    );
}

/// Started with SIGCHLD ignored (a shell's `trap '' CHLD`, kept through
/// `exec`), the kernel would reap P and C itself, and the lesson could learn
/// neither's exit: it puts SIGCHLD back to its default first.
#[test]
fn started_with_sigchld_ignored_it_still_reaps_its_orphan() {
    let run = run_ignoring_sigchld(LESSON, &["--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("adopted").count(), 1, "{}", run.output());
}
