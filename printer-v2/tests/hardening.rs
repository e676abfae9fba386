//! Version 2 stopped by Ctrl-C: one line says what the stop did.

use lesson_testing::start;
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v2");

/// Ctrl-C while p1 prints kills p1, the one child running: the one line on
/// standard error says so, and never that no child was left to reap.
#[test]
fn ctrl_c_says_in_one_line_that_it_killed_the_child_running() {
    // p1 prints for 0.5 to 1.5 s: SIGINT comes while it prints.
    let lesson = start(LESSON, &["--speed", "2"]);
    lesson.wait_for("start", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
    assert!(
        run.stderr
            .contains("stopped by SIGINT; the one child left was killed by it"),
        "{}",
        run.output()
    );
    assert!(
        !run.stderr.contains("no child was left to reap"),
        "{}",
        run.output()
    );
}

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    lesson_testing::refuses_too_little_address_space(LESSON, &[]);
}
