//! Version 3 under hostile conditions: its main process killed outright, two
//! runs on one trace, a full filesystem, the scratch directories of dead
//! runs, too few descriptors.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::log::read_trace;
use common::system::{ProcessInfo, processes};
use common::timeline::{overlaps, turns};
use lesson_testing::{Scratch, left_behind, output, refuses_too_few_descriptors, run, start_in};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v3");

/// The processes of the group `pgid` still running (not zombies) once
/// `limit` has passed, or none as soon as there are none.
fn still_running_after(pgid: i32, limit: Duration) -> Vec<ProcessInfo> {
    let deadline = Instant::now() + limit;
    loop {
        let running: Vec<ProcessInfo> = processes()
            .into_iter()
            .filter(|p| p.pgid == pgid && !p.is_zombie())
            .collect();
        if running.is_empty() || Instant::now() > deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lesson with `args`, whatever `LESSON_*` variables this test has.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(LESSON);
    command.args(args);
    for name in ["LESSON_SPEED", "LESSON_SEED", "LESSON_TRACE"] {
        command.env_remove(name);
    }
    command
}

/// The names in `dir` of the lessons' scratch directories.
fn scratch_dirs(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("lesson-"))
        .collect()
}

/// SIGKILL cannot be caught, so the main process cannot pass it on: its
/// children, which asked for SIGTERM on their parent's death, must end of it.
#[test]
fn sigkill_of_the_main_process_leaves_no_child_running() {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, LESSON, &["--workers", "4", "--speed", "1"]);
    lesson.wait_for("ask", 4);
    lesson.signal(Signal::SIGKILL);
    let running = still_running_after(lesson.pid(), Duration::from_secs(5));
    assert!(running.is_empty(), "still running 5 s on: {running:#?}");
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.status.code(), None, "{}", run.output());
    assert!(left.iter().all(ProcessInfo::is_zombie), "{left:#?}");
}

/// A trace being written by one run is refused to a second, which would
/// empty it under the first: the first ends with a whole, serial trace.
#[test]
fn a_second_run_on_the_same_trace_is_refused_and_the_first_is_unharmed() {
    let dir = Scratch::new();
    let trace = dir.path("shared.jsonl");
    let (out, err) = (dir.path("first.out"), dir.path("first.err"));
    let create = |p: &str| File::create(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let args = ["--workers", "3", "--speed", "4", "--trace", &trace];
    let mut first = command(&args)
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .stdin(Stdio::null())
        .stdout(create(&out))
        .stderr(create(&err))
        .process_group(0)
        .spawn()
        .expect("starting the first run");
    std::thread::sleep(Duration::from_millis(300));
    let second = output(&mut command(&args));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = first.try_wait().expect("waiting") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = killpg(Pid::from_raw(first.id() as i32), Signal::SIGKILL);
            let _ = first.wait();
            panic!("the first run lasted over 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("being written by another run"), "{stderr}");
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&out), read(&err));
    let first_output = format!("exit: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(status.code(), Some(0), "{first_output}");
    assert!(stdout.contains("Verdict: serial"), "{first_output}");
    assert!(!stderr.contains("panic"), "{first_output}");
    let left = left_behind(first.id() as i32);
    assert!(left.is_empty(), "{left:#?}");
    let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let turns = turns(&records);
    assert_eq!(turns.len(), 3, "{records:#?}");
    assert!(overlaps(&turns).is_empty(), "{turns:#?}");
}

/// Unmounts the file system mounted on its directory when dropped.
struct Mounted(String);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The lesson reads its verdict back from the trace in its scratch
/// directory: a trace it could not write is an error, not a verdict on
/// an empty trace ("Nobody printed anything").
#[test]
fn the_default_trace_on_a_full_filesystem_is_an_error() {
    let dir = Scratch::new();
    let tmp = dir.path("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs", &tmp])
        .stderr(Stdio::null())
        .status();
    if !mount.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root, or CAP_SYS_ADMIN)");
        return;
    }
    let _mounted = Mounted(tmp.clone());
    let mut fill = File::create(format!("{tmp}/fill")).expect("creating the filler");
    let full = loop {
        if let Err(e) = std::io::Write::write_all(&mut fill, &[0; 1024]) {
            break e;
        }
    };
    assert_eq!(full.raw_os_error(), Some(nix::libc::ENOSPC), "{full}");
    let out = output(command(&["--speed", "max"]).env("TMPDIR", &tmp));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let all = format!("exit: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(stderr.contains("No space left"), "{all}");
    assert!(!stdout.contains("Verdict"), "{all}");
    assert!(!stdout.contains("Nobody printed"), "{all}");
}

/// A run killed by SIGKILL cannot remove its scratch directory: the next
/// run removes it. A run that ends removes its own.
#[test]
fn the_next_run_removes_the_scratch_directory_of_a_killed_run() {
    let dir = Scratch::new();
    let tmp = dir.path("");
    let lesson = start_in(&dir, LESSON, &["--workers", "4", "--speed", "1"]);
    lesson.wait_for("ask", 1);
    lesson.signal(Signal::SIGKILL);
    let pid = lesson.pid();
    let running = still_running_after(pid, Duration::from_secs(5));
    assert!(running.is_empty(), "{running:#?}");
    drop(lesson.finish_leaving());
    let prefix = format!("lesson-{pid}-");
    let dirs = scratch_dirs(&tmp);
    assert!(
        dirs.len() == 1 && dirs[0].starts_with(&prefix),
        "the killed run's directory: {dirs:?}"
    );
    let out = output(command(&["--workers", "2", "--speed", "max"]).env("TMPDIR", &tmp));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let dirs = scratch_dirs(&tmp);
    assert!(dirs.is_empty(), "neither is left: {dirs:?}");
}

/// Too few descriptors would fail the lesson half-way: it refuses to start.
#[test]
fn too_few_descriptors_are_refused_at_the_start() {
    refuses_too_few_descriptors(LESSON);
}

/// A directory named as a lesson's scratch directory, but holding what no
/// lesson puts there, is not removed by the next run.
#[test]
fn a_directory_a_lesson_did_not_make_is_left_alone() {
    let tmp = Scratch::new();
    let foreign = std::path::Path::new(&tmp.path("lesson-999999-1")).join("notes");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("f"), "mine").expect("write");
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    let run = run("env", &[tmpdir.as_str(), LESSON, "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(
        std::fs::read_to_string(foreign.join("f")).expect("kept"),
        "mine"
    );
}
