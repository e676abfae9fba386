//! Ctrl-C while a child that has children of its own is waiting (part 2's
//! parent, over its zombies): the lesson stops in one line, as it does for
//! any child, and leaves nothing.

use lesson_testing::{Scratch, start_in};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

#[test]
fn ctrl_c_over_a_parent_of_zombies_is_one_line() {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, LESSON, &["--speed", "1", "--flood", "3"]);
    // The parent holds its zombies and waits to be killed.
    lesson.wait_for("flood", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    let stops: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(stops.len(), 1, "{}", run.output());
    assert!(
        stops[0].contains(" main ") && stops[0].contains("stopped by SIGINT"),
        "{}",
        run.output()
    );
}
