//! Found by attacking the ticket office: each case refused cleanly, or
//! cleaned up, with nothing made or left that should not be.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::process::Command;

use lesson_testing::tickets::{is_root, lesson, names};
use lesson_testing::{NOBODY, Scratch, output, run, runnable_by_anyone};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

/// A `--trace` that is a symbolic link to a file not made yet (here the
/// lock file, then the ticket file) is refused with exit 2: opening it
/// would make the lesson's own file, and hang the buyers on its lock.
#[test]
fn a_trace_linked_to_a_file_not_made_yet_is_refused() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    for target in [format!("{file}.lock"), file.clone()] {
        let trace = dir.path("trace");
        let _ = fs::remove_file(&trace);
        symlink(&target, &trace).expect("symlink");
        let out = output(&mut lesson(
            LESSON,
            &["--file", &file, "--trace", &trace, "--speed", "max"],
        ));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!fs::exists(&target).expect("exists"), "{target} was made");
    }
}

/// The temporary files of buyers killed by SIGKILL mid-write are removed
/// after the sale, however soon it ends; nothing else is.
#[test]
fn temporary_files_of_killed_writers_are_swept() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", "{\"count\": 5}\n");
    // As a writer killed mid-write leaves them: a dead pid, no lock held.
    let dead = dir.path(".ticket.json.999999.AbCd1234.lesson-tmp");
    fs::write(&dead, "{\"count\": 4").expect("write");
    let other = dir.write(".ticket.json.backup.tmp", "mine");
    let run = run(
        LESSON,
        &["--file", &file, "--buyers", "2", "--speed", "max"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(!fs::exists(&dead).expect("exists"), "{:?}", names(&dir));
    assert_eq!(fs::read_to_string(&other).expect("kept"), "mine");
}

/// In a sticky directory (as /tmp is), a file of another user cannot be
/// replaced: refused before any buyer starts, in one line, file unchanged.
#[test]
fn a_file_of_another_user_in_a_sticky_directory_is_refused_up_front() {
    if !is_root() {
        return;
    }
    let dir = Scratch::new();
    fs::set_permissions(dir.path(""), fs::Permissions::from_mode(0o1777)).expect("chmod");
    let file = dir.write("ticket.json", "{\"count\": 3}\n");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).expect("chmod");
    let mut command = Command::new(runnable_by_anyone(LESSON));
    command
        .args(["--file", &file, "--speed", "max"])
        .uid(NOBODY)
        .gid(NOBODY)
        .env("TMPDIR", dir.path(""));
    let out = output(&mut command);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sticky"), "{err}");
    assert_eq!(fs::read_to_string(&file).expect("read"), "{\"count\": 3}\n");
}
