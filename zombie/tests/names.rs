//! `ps` names the zombie lesson's processes as its log does: each child by
//! the name the log gives it, the lesson itself by the program's name.
//! Linux: elsewhere a child keeps the program's name.
#![cfg(target_os = "linux")]

use std::process::Command;

use common::log::read_trace;
use lesson_testing::{Scratch, kernel_names, look_command, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

/// What `command` prints, run in `sh` as pasted into a terminal.
fn shell(command: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .unwrap_or_else(|e| panic!("sh -c {command}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Paused at the zombie, then at the flood: each child still in the process
/// table has its log name in `/proc/PID/comm`, the lesson keeps the
/// program's, and each step's hint shows the names of the log: `[child]
/// <defunct>`, then the zombies z1, z2 and z3 under the parent.
#[test]
fn ps_names_each_process_as_the_log_does() {
    let tmp = Scratch::new();
    let trace = tmp.path("trace.jsonl");
    let args = ["--pause", "--speed", "20", "--flood", "3", "--cpu-ms", "0"];
    let mut lesson = start_piped(LESSON, &[&args[..], &["--trace", &trace]].concat());
    let names = |lesson: &lesson_testing::Piped| {
        let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        kernel_names(lesson.pid(), &records)
    };

    lesson.wait_for("PAUSED", 1);
    let seen = names(&lesson);
    let main = seen.iter().find(|(_, who, _)| who == "main");
    assert_eq!(
        main.map(|(_, _, comm)| comm.as_str()),
        Some("zombie"),
        "{seen:?}"
    );
    let child = seen.iter().find(|(_, who, _)| who == "child");
    assert_eq!(
        child.map(|(_, _, comm)| comm.as_str()),
        Some("child"),
        "{seen:?}"
    );
    let look = look_command(&lesson.lines()).expect("a hint");
    let shown = shell(&look);
    assert!(shown.contains("[child] <defunct>"), "{look}\n{shown}");
    lesson.enter();

    lesson.wait_for("PAUSED", 2);
    let seen = names(&lesson);
    assert!(seen.iter().any(|(_, who, _)| who == "parent"), "{seen:?}");
    for (pid, who, comm) in &seen {
        let expected = if who == "main" { "zombie" } else { who };
        assert_eq!(comm, expected, "pid {pid}: {seen:?}");
    }
    let look = look_command(&lesson.lines()).expect("a hint");
    let shown = shell(&look);
    for z in ["z1", "z2", "z3"] {
        // "18458 18457 Z    z1"
        let listed = shown.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2).is_some_and(|stat| stat.starts_with('Z')) && fields.get(3) == Some(&z)
        });
        assert!(listed, "{look}\n{shown}");
    }
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
}
