//! The `ppid` of main's records is the parent the kernel gives it, also
//! once the parent that started it has died and it was adopted. A test
//! binary of its own: it makes this test process a subreaper, which adopts
//! the lesson, and no other test's orphans may come to it. Linux only:
//! elsewhere there is no subreaper, and no signal of a parent's death.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::log::read_trace;
use lesson_testing::Scratch;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

#[test]
fn an_adopted_main_records_its_new_parent() {
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let tmp = Scratch::new();
    let trace = tmp.path("trace.jsonl");
    let file = tmp.write("ticket.json", "{\"count\": 1}\n");
    // sh starts the lesson and ends once its standard input does.
    let mut sh = Command::new("sh")
        .args([
            "-c",
            r#""$@" >/dev/null 2>&1 </dev/null & read _ || :"#,
            "sh",
            LESSON,
        ])
        .args([
            "--file", &file, "--buyers", "2", "--speed", "1", "--trace", &trace,
        ])
        .env("TMPDIR", tmp.path(""))
        .env_remove("LESSON_SPEED")
        .env_remove("LESSON_SEED")
        .env_remove("LESSON_TRACE")
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh");
    let sh_pid = sh.id() as i32;
    let records = || read_trace(std::path::Path::new(&trace)).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Both buyers started: main records each as it reaps it, later.
    while records().iter().filter(|r| r.event == "spawn").count() < 2 {
        assert!(Instant::now() < deadline, "no 2 buyers in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = sh.stdin.take().map(|mut input| input.flush());
    assert!(sh.wait().expect("waiting for sh").success());
    let lesson = records()
        .iter()
        .find(|r| r.who == "main")
        .expect("a record of main")
        .pid;
    // Adopted by this process: reaped here once it has ended.
    let ended = waitpid(Pid::from_raw(lesson), None).expect("waiting for the lesson");
    assert!(
        matches!(ended, WaitStatus::Exited(_, 0)),
        "{ended:?}: {:?}",
        records()
    );
    let main: Vec<i32> = records()
        .iter()
        .filter(|r| r.who == "main")
        .map(|r| r.ppid)
        .collect();
    assert_eq!(main.first(), Some(&sh_pid), "{main:?}");
    assert_eq!(main.last(), Some(&(std::process::id() as i32)), "{main:?}");
}
