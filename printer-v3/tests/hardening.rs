//! Version 3 under hostile conditions: its main process killed outright, two
//! runs on one trace, a full filesystem, the scratch directories of dead
//! runs, too few descriptors, a umask that spares not even the owner.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::log::read_trace;
use common::system::{ProcessInfo, processes};
use common::timeline::{overlaps, turns};
use lesson_testing::{
    Scratch, left_behind, output, refuses_too_few_descriptors, run,
    runs_under_a_umask_that_spares_not_the_owner, start_in,
};
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

/// Whether a run is alive is told by the lock its processes hold on its
/// scratch directory, which every pid namespace sees alike, not by the pid
/// in its name, which means nothing in another: a run started in a pid
/// namespace of its own, with the same `TMPDIR`, leaves a live run's
/// directory alone. Skipped, and says so, where `unshare` cannot make one.
#[test]
fn a_run_in_another_pid_namespace_leaves_a_live_runs_directory_alone() {
    let namespace = ["--pid", "--fork", "--mount-proc"];
    let works = Command::new("unshare").args(namespace).arg("true").output();
    if !works.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: unshare --pid --fork --mount-proc fails here (needs root)");
        return;
    }
    let dir = Scratch::new();
    let tmp = dir.path("");
    // Two prints of 1 to 3 s each: the second run is over long before.
    let lesson = start_in(&dir, LESSON, &["--workers", "2", "--speed", "1"]);
    lesson.wait_for("ask", 1);
    let mine = scratch_dirs(&tmp);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let out = output(
        Command::new("unshare")
            .args(namespace)
            .args(["env", &format!("TMPDIR={tmp}"), LESSON, "--speed", "max"])
            .env_remove("LESSON_TRACE"),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        scratch_dirs(&tmp).contains(&mine[0]),
        "the run in another pid namespace removed the live run's directory"
    );
    let run = lesson.finish();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(run.stdout.contains("Verdict: serial"), "{}", run.output());
    assert!(scratch_dirs(&tmp).is_empty(), "{:?}", scratch_dirs(&tmp));
}

/// A directory named and filled as a run's is that of a dead run when no
/// process holds its lock, whatever the pid in its name (here this test's
/// own, alive), and is removed by the next run; one whose lock is held (here
/// by this test) is kept. So is one a run is making (`.lesson-…`, locked
/// and renamed within an instant), unless a killed run left it empty over
/// a minute ago.
#[test]
fn a_run_is_dead_when_nobody_holds_its_lock_whatever_its_pid() {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::DirBuilderExt;
    let dir = Scratch::new();
    let tmp = dir.path("");
    let alive = std::process::id();
    let make = |name: &str, files: &[&str]| {
        let path = dir.path(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        for file in files {
            std::fs::write(format!("{path}/{file}"), "").expect("write");
        }
        path
    };
    let files = ["trace.jsonl", "lock-0"];
    let dead = make(&format!("lesson-{alive}-dead01"), &files);
    let held = make(&format!("lesson-{alive}-held01"), &files);
    let staged_old = make(&format!(".lesson-{alive}-old001"), &[]);
    let staged_new = make(&format!(".lesson-{alive}-new001"), &[]);
    let touched = Command::new("touch")
        .args(["-d", "2 minutes ago", &staged_old])
        .status();
    assert!(touched.is_ok_and(|s| s.success()), "touch -d");
    let lock = File::open(&held).expect("opening the directory");
    let _lock = Flock::lock(lock, FlockArg::LockExclusiveNonblock).expect("flock");
    let out = output(command(&["--speed", "max"]).env("TMPDIR", &tmp));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let exists = |p: &str| std::path::Path::new(p).exists();
    assert!(!exists(&dead), "the dead run's directory is removed");
    assert!(
        !exists(&staged_old),
        "so is an old one a killed run was making"
    );
    assert!(exists(&held), "the live run's directory is kept");
    assert!(exists(&staged_new), "and so is one being made");
}

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    lesson_testing::refuses_too_little_address_space(LESSON, &[]);
}

/// `--pause` held by the lock's first holder, fed `/dev/zero`: it goes on.
#[test]
fn a_pause_in_a_child_fed_a_line_that_never_ends_goes_on() {
    lesson_testing::a_pause_fed_a_line_that_never_ends_goes_on(
        LESSON,
        &["--pause", "--speed", "max"],
    );
}

/// Each child opens the lock file again: a umask of 277 would have made it
/// unwritable, and the trace unreadable, to the lesson itself.
#[test]
fn under_umask_277_it_runs_and_leaves_nothing() {
    runs_under_a_umask_that_spares_not_the_owner(LESSON, &[]);
}
