//! The orphan lesson makes its adoption visible: it names the adopter's
//! command as a command, not as a state, and `--pause` holds C while the
//! lesson is its parent.

use common::system;
use lesson_testing::{run, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

/// The number right after `after` in `line`.
fn number_after(line: &str, after: &str) -> i32 {
    line.split_once(after)
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
        .and_then(|digits: String| digits.parse().ok())
        .unwrap_or_else(|| panic!("no number after '{after}' in {line}"))
}

/// The adoption line gives the adopter's pid, then who it is, and names its
/// command as a command ("its command: orphan"), never right after the pid
/// as `ps` shows a state ("pid 123 (orphan),"). With `--pause`, the lesson
/// holds in C while C's parent is the lesson, and goes on after Enter.
#[test]
fn the_adopter_s_command_is_named_and_pause_holds_the_orphan() {
    let run = run(LESSON, &["--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let adopted = run
        .events("adopted")
        .next()
        .expect("C reported its adoption");
    let new = adopted.fields["new"]
        .as_i64()
        .expect("the new parent's pid");
    let comm = adopted.fields["comm"].as_str().expect("its command");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("my parent is now pid {new}")))
        .unwrap_or_else(|| panic!("no adoption line\n{}", run.output()));
    assert!(!line.contains(&format!("pid {new} (")), "{line}");
    assert!(
        line.contains("(its command:") && line.contains(comm),
        "{line}"
    );

    let mut lesson = start_piped(LESSON, &["--pause", "--speed", "20"]);
    let paused = lesson.wait_for("PAUSED", 1);
    let c = number_after(&paused, "C (pid ");
    let fields: Vec<&str> = paused.split_whitespace().collect();
    assert_eq!(
        fields.get(1..3),
        Some(&[c.to_string().as_str(), "C"][..]),
        "C itself pauses: {paused}"
    );
    assert!(lesson.running(), "{}", lesson.output());
    let seen = system::process(c);
    assert!(
        seen.as_ref().is_some_and(|p| p.ppid == lesson.pid()),
        "C while paused: {seen:?}, the lesson is pid {}\n{}",
        lesson.pid(),
        lesson.output()
    );
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
    assert!(lesson.lines().contains("reaped C"), "{}", lesson.output());
}
