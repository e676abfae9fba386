//! Version 1 given odd traces, bad values, broken outputs and a process
//! limit: each is refused in one line or handled, never a hang or a panic.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use lesson_testing::{Scratch, left_behind, output, refuses_beyond_the_process_limit, run};
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};

const LESSON: &str = env!("CARGO_BIN_EXE_printer-v1");

/// The lesson with `args`, whatever `LESSON_*` variables this test has.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(LESSON);
    command.args(args);
    for name in ["LESSON_SPEED", "LESSON_SEED", "LESSON_TRACE"] {
        command.env_remove(name);
    }
    command
}

/// Starts `command` in a process group of its own, as `lesson_testing`
/// does, with the standard output and error it was given.
fn spawn(command: &mut Command) -> Child {
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_child_subreaper(true).expect("becoming a subreaper");
    command
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the lesson")
}

/// Waits for `child` to end, and collects what it printed to the pipes it
/// still has; fails, instead of hanging, if it lasts over `limit`. Checks
/// that it left nothing in its process group.
fn finish(child: Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let Ok(out) = receiver.recv_timeout(limit) else {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        panic!("the lesson ran over {limit:?}");
    };
    let out = out.expect("waiting for the lesson");
    let left = left_behind(pid);
    assert!(left.is_empty(), "left behind: {left:#?}");
    out
}

/// Its exit status, standard output and error, for assertion messages.
fn all(out: &Output) -> String {
    format!(
        "exit: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `/dev/null` takes a copy of the trace; the lesson reads back its own.
#[test]
fn a_trace_to_dev_null_works() {
    let out = output(&mut command(&["--speed", "max", "--trace", "/dev/null"]));
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verdict"),
        "{}",
        all(&out)
    );
}

/// A FIFO as the trace would block the lesson until a reader came: it is
/// refused at once.
#[test]
fn a_fifo_as_the_trace_is_refused_at_once() {
    let dir = Scratch::new();
    let fifo = dir.path("fifo");
    mkfifo(fifo.as_str(), Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let child = spawn(
        command(&["--speed", "max", "--trace", &fifo])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = finish(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert_eq!(stderr.lines().count(), 1, "{}", all(&out));
    assert!(stderr.contains("FIFO"), "{}", all(&out));
}

/// A speed below 0.01 or above 1000 is refused, however it is written.
#[test]
fn speeds_out_of_range_are_refused_in_one_line() {
    for speed in ["1e-300", "5e-324", "0.001", "1001"] {
        let out = output(&mut command(&["--speed", speed]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{speed}: {}", all(&out));
        assert_eq!(stderr.lines().count(), 1, "{speed}: {}", all(&out));
        assert!(out.stdout.is_empty(), "{speed}: {}", all(&out));
    }
}

/// `--panic-in` takes only the name of one of the lesson's processes, and
/// the refusal lists them.
#[test]
fn panic_in_a_process_that_does_not_exist_is_refused_with_the_names() {
    let out = output(&mut command(&["--speed", "max", "--panic-in", "nosuch"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert_eq!(stderr.lines().count(), 1, "{}", all(&out));
    assert!(stderr.contains("p1, p2, p3"), "{}", all(&out));
    let run = run(LESSON, &["--speed", "max", "--panic-in", "p2"]);
    assert_eq!(run.code(), Some(1), "p2 panicked\n{}", run.output());
    assert!(
        run.stderr.contains("p2 panics on purpose")
            && run.stderr.contains("p2 (pid")
            && run.stderr.contains("panicked"),
        "{}",
        run.output()
    );
}

/// Output that cannot be written (a full disk) is an error, said in one
/// line on standard error.
#[test]
fn an_unwritable_output_is_an_error_in_one_line() {
    let full = File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let child = spawn(
        command(&["--speed", "max"])
            .stdout(Stdio::from(full))
            .stderr(Stdio::piped()),
    );
    let out = finish(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert_eq!(stderr.lines().count(), 1, "{}", all(&out));
    assert!(stderr.contains("cannot write the output"), "{}", all(&out));
}

/// `| head -n 1`: the reader goes away while the colleagues still print.
/// The lesson neither hangs nor panics, and leaves nobody behind.
#[test]
fn an_output_closed_early_neither_hangs_nor_panics() {
    // Each print lasts 0.1 to 0.3 s: the pipe is closed before they end.
    let mut child = spawn(
        command(&["--workers", "3", "--speed", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("reading a line");
    drop(reader);
    let out = finish(child, Duration::from_secs(30));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{line}{}",
        all(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panic"), "{line}{}", all(&out));
}

/// Root ignores process limits, so the lesson runs as nobody. With 49
/// colleagues it would reach the limit of 50 processes half-way: it refuses
/// before it starts any.
#[test]
fn colleagues_beyond_the_process_limit_are_refused_before_any_starts() {
    refuses_beyond_the_process_limit(LESSON, &["--workers", "49"]);
}

/// An empty `LESSON_*` variable counts as unset, as an empty locale
/// variable does: the default speed, a seed drawn, the language of the
/// locale, no trace but the lesson's own; not a usage error. One that is
/// set is still read.
#[test]
fn empty_lesson_variables_count_as_unset() {
    let mut empty = command(&["--workers", "1"]);
    for name in ["LESSON_LANG", "LESSON_SPEED", "LESSON_SEED", "LESSON_TRACE"] {
        empty.env(name, "");
    }
    empty
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    let out = output(&mut empty);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(out.stderr.is_empty(), "{}", all(&out));
    assert!(
        stdout.contains("printer-v1 starts: pid") && stdout.contains(", speed 1, seed "),
        "{}",
        all(&out)
    );
    let set = output(command(&["--speed", "max"]).env("LESSON_SEED", "7"));
    assert_eq!(set.status.code(), Some(0), "{}", all(&set));
    let stdout = String::from_utf8_lossy(&set.stdout);
    assert!(stdout.contains(", seed 7 "), "{}", all(&set));
}

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    lesson_testing::refuses_too_little_address_space(LESSON, &[]);
}
