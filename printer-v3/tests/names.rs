//! With `--pause`, the first colleague to hold the lock holds it until
//! Enter. What the learner is told to look with then shows this run alone:
//! `ps` names the colleagues p1, p2, p3 as the log does, and `/proc/locks`
//! is searched for this run's lock file only, by its inode. Linux: `/proc`.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::log::read_trace;
use lesson_testing::{Piped, Scratch, kernel_names, locks_shown_by, look_command, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

/// A run paused on its lock, its scratch directory in a `TMPDIR` of its own.
struct Paused {
    lesson: Piped,
    tmp: Scratch,
    /// The colleague that holds the lock, and waits for Enter.
    holder: i32,
    look: String,
    /// The inode of its lock file.
    inode: u64,
}

fn paused(tmp: Scratch) -> Paused {
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    let trace = tmp.path("trace.jsonl");
    // `env` execs the lesson: the same pid.
    let args = ["--pause", "--speed", "20", "--trace", &trace];
    let mut lesson = start_piped("env", &[&[tmpdir.as_str(), LESSON], &args[..]].concat());
    // "  0.012s   18001 p2        PAUSED: p2 still holds the lock; …"
    let line = lesson.wait_for("PAUSED", 1);
    let holder = line
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line}"));
    let look = look_command(&lesson.lines()).expect("a hint");
    // The lesson's scratch directory, lesson-PID-…, holds the lock file.
    let scratch = std::fs::read_dir(tmp.path(""))
        .expect("TMPDIR")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("lesson-"))
        .expect("the lesson's scratch directory");
    let inode = std::fs::metadata(scratch.path().join("lock-0"))
        .expect("the lock file")
        .ino();
    Paused {
        lesson,
        tmp,
        holder,
        look,
        inode,
    }
}

/// Two runs at once, both paused on their lock, each with its other two
/// colleagues blocked waiting for it: each run's hint lists its own lock
/// (its holder, then a `->` line for each colleague waiting) and nothing of
/// the other run's; its `ps` and `/proc/PID/comm` name the colleagues as
/// the log does, and the lesson keeps the program's name.
#[test]
fn each_run_s_hint_finds_its_own_lock_and_names_its_colleagues() {
    let runs = [paused(Scratch::new()), paused(Scratch::new())];
    assert_ne!(runs[0].inode, runs[1].inode);
    for run in &runs {
        let deadline = Instant::now() + Duration::from_secs(30);
        let locks = loop {
            let locks = locks_shown_by(&run.look);
            if locks.iter().filter(|l| l.waiting).count() == 2 || Instant::now() > deadline {
                break locks;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let all = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        let context = format!("{}\n{locks:#?}\n/proc/locks:\n{all}", run.look);
        assert!(locks.iter().all(|l| l.inode == run.inode), "{context}");
        let holders: Vec<i32> = locks.iter().filter(|l| !l.waiting).map(|l| l.pid).collect();
        assert_eq!(holders, [run.holder], "{context}");

        let trace = run.tmp.path("trace.jsonl");
        let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let seen = kernel_names(run.lesson.pid(), &records);
        let mut colleagues: Vec<&str> = Vec::new();
        for (pid, who, comm) in &seen {
            let expected = if who == "main" { "printer-v3" } else { who };
            assert_eq!(comm, expected, "pid {pid}: {seen:?}");
            if who != "main" {
                colleagues.push(who);
            }
        }
        colleagues.sort_unstable();
        assert_eq!(colleagues, ["p1", "p2", "p3"], "{seen:?}");
        let waiters: Vec<i32> = locks.iter().filter(|l| l.waiting).map(|l| l.pid).collect();
        for pid in &waiters {
            assert!(
                seen.iter().any(|(p, who, _)| p == pid && who != "main"),
                "{context}"
            );
        }

        let out = Command::new("sh")
            .args(["-c", &run.look])
            .output()
            .expect("running the hint");
        let shown = String::from_utf8_lossy(&out.stdout);
        // "  PID STAT WCHAN          COMMAND" then "18001 S    do_sys_poll    p2"
        for (pid, who, _) in seen.iter().filter(|(_, who, _)| who != "main") {
            let listed = shown.lines().any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.first() == Some(&pid.to_string().as_str())
                    && fields.last() == Some(&who.as_str())
            });
            assert!(listed, "{pid} {who}\n{}\n{shown}", run.look);
        }
    }
    for mut run in runs {
        run.lesson.enter();
        run.lesson.close_stdin();
        let status = run.lesson.finish();
        assert_eq!(status.code(), Some(0), "{}", run.lesson.output());
    }
}
