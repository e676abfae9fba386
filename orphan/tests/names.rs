//! `ps` and `pstree` name the orphan lesson's processes as its log does: C
//! as C, and the lesson itself, main in the log, by the program's name.
//! Linux: elsewhere a child keeps the program's name.
#![cfg(target_os = "linux")]

use std::process::Command;

use common::log::read_trace;
use lesson_testing::{Scratch, kernel_names, look_command, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

/// Paused in C, the orphan: `/proc/PID/comm` of C is C, of the lesson
/// orphan, the pause says so, and the hint's `ps` and `pstree` show them so.
#[test]
fn ps_and_pstree_name_c_and_the_lesson_as_the_log_does() {
    let tmp = Scratch::new();
    let trace = tmp.path("trace.jsonl");
    let mut lesson = start_piped(LESSON, &["--pause", "--speed", "20", "--trace", &trace]);
    let paused = lesson.wait_for("PAUSED", 1);
    let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let seen = kernel_names(lesson.pid(), &records);
    let comm = |name: &str| {
        seen.iter()
            .find(|(_, who, _)| who == name)
            .map(|(pid, _, comm)| (*pid, comm.clone()))
            .unwrap_or_else(|| panic!("no {name} in {seen:?}"))
    };
    let (main, main_comm) = comm("main");
    let (c, c_comm) = comm("C");
    assert_eq!((main_comm.as_str(), c_comm.as_str()), ("orphan", "C"));
    assert!(
        paused.contains("main in the log") && paused.contains("program's name, orphan"),
        "{paused}"
    );

    let look = look_command(&lesson.lines()).expect("a hint");
    // pstree cuts its lines to COLUMNS (132 with no terminal).
    let out = Command::new("sh")
        .args(["-c", &look])
        .env("COLUMNS", "1000")
        .output()
        .expect("running the hint");
    let shown = String::from_utf8_lossy(&out.stdout);
    // "  PID  PPID STAT COMMAND" then "18502 18500 S    C"
    let listed = shown.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.first() == Some(&c.to_string().as_str()) && fields.last() == Some(&"C")
    });
    assert!(listed, "{look}\n{shown}");
    let has_pstree = Command::new("pstree").arg("-V").output().is_ok();
    if has_pstree {
        // "systemd(1)───…───orphan(18500)───C(18502)", "---" with no terminal.
        let tree = |line: &str| format!("orphan({main}){line}C({c})");
        assert!(
            shown.contains(&tree("───")) || shown.contains(&tree("---")),
            "{look}\n{shown}"
        );
    }
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
}
