//! Stops: every signal that ends a process by default ends a lesson the way
//! SIGTERM does (children reaped, nothing left, one line, exit 128 + n); a
//! stop wakes a stopped child; a stopped sale still reckons.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use common::log::read_trace;
use common::system::children_of;

use crate::{Scratch, start, start_in, start_in_blocking, start_piped};

/// The signals a lesson stops on, other than SIGINT, as a test sends them.
const STOPS: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
];

/// What a scratch directory holds besides the ticket file and its lock: a
/// temporary file or a run's private directory left behind.
fn leftovers(dir: &Scratch, keep: &[&str]) -> Vec<String> {
    let names = std::fs::read_dir(dir.path("")).expect("scratch directory");
    names
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

/// Each stop signal, sent to the lesson's main process once `event` was
/// recorded `count` times: exit 128 + n, one line naming the signal, no
/// process and no file left.
pub fn every_stop_signal_ends_it_as_sigterm_does(
    program: &str,
    args: &[&str],
    event: &str,
    count: usize,
) {
    for signal in STOPS {
        let tmp = Scratch::new();
        let lesson = start_in(&tmp, program, args);
        lesson.wait_for(event, count);
        lesson.signal(signal);
        let run = lesson.finish();
        assert_eq!(
            run.code(),
            Some(128 + signal as i32),
            "{signal}\n{}",
            run.output()
        );
        assert_eq!(run.stderr.lines().count(), 1, "{signal}\n{}", run.output());
        assert!(
            run.stderr.contains(&format!("stopped by {signal}")),
            "{signal}\n{}",
            run.output()
        );
        assert_eq!(leftovers(&tmp, &[]), Vec::<String>::new(), "{signal}");
    }
}

/// Started with the signals it relies on blocked (a signal mask is kept
/// through `exec`; GNU env's `--block-signal` leaves one), the lesson
/// unblocks them: SIGTERM stops it as ever, and its children end of the
/// SIGTERM passed on, none killed after the grace. Skipped where `env` has
/// no `--block-signal` (before coreutils 8.31, macOS).
pub fn blocked_stop_signals_stop_it_all_the_same(program: &str, args: &[&str], event: &str) {
    if !env_blocks_signals() {
        return;
    }
    let tmp = Scratch::new();
    let lesson = start_in_blocking(&tmp, "INT,TERM,HUP,QUIT,CHLD,URG", program, args);
    lesson.wait_for(event, 1);
    lesson.signal(Signal::SIGTERM);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(143), "{}", run.output());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
    assert!(
        run.stderr.contains("stopped by SIGTERM"),
        "{}",
        run.output()
    );
    assert!(!run.stderr.contains("SIGKILL"), "{}", run.output());
    assert_eq!(leftovers(&tmp, &[]), Vec::<String>::new());
}

/// Whether `env` takes `--block-signal` (GNU coreutils 8.31 on); says so
/// where it does not, for a test that is then skipped.
pub fn env_blocks_signals() -> bool {
    let blocks = std::process::Command::new("env")
        .args(["--block-signal=TERM", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !blocks {
        eprintln!("skipped: this env has no --block-signal");
    }
    blocks
}

/// Started with SIGHUP, SIGINT and SIGQUIT ignored (`nohup`, a script's
/// `&` job; bash's `trap ''`, which `exec` keeps), the lesson leaves them
/// ignored, and so do its children: sent to its whole process group while
/// it waits at a pause, they stop nothing, and the SIGTERM sent after them
/// names the stop. Were one handled, it would: the kernel hands pending
/// signals over lowest number first.
pub fn ignored_terminal_signals_stay_ignored(program: &str, args: &[&str]) {
    let tmp = Scratch::new();
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    let script = r#"trap '' HUP INT QUIT; exec env "$0" "$@""#;
    let lesson_args = [
        &["-c", script, tmpdir.as_str(), program],
        args,
        &["--pause"],
    ]
    .concat();
    let mut lesson = start_piped("bash", &lesson_args);
    lesson.wait_for("PAUSED", 1);
    let group = Pid::from_raw(lesson.pid());
    for signal in [Signal::SIGHUP, Signal::SIGINT, Signal::SIGQUIT] {
        killpg(group, signal).expect("killpg");
    }
    kill(group, Signal::SIGTERM).expect("kill");
    let status = lesson.finish();
    let output = lesson.output();
    assert_eq!(status.code(), Some(143), "{output}");
    assert!(output.contains("stopped by SIGTERM"), "{output}");
    for name in ["SIGHUP", "SIGINT", "SIGQUIT"] {
        assert!(!output.contains(name), "{name}\n{output}");
    }
    assert_eq!(leftovers(&tmp, &[]), Vec::<String>::new());
}

/// SIGINT, then SIGTERM at once: one stop, under the first one's name.
pub fn two_stops_in_a_row_are_one(program: &str, args: &[&str], event: &str) {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, program, args);
    lesson.wait_for(event, 1);
    lesson.signal(Signal::SIGINT);
    lesson.signal(Signal::SIGTERM);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
    assert!(run.stderr.contains("stopped by SIGINT"), "{}", run.output());
}

/// Every child stopped (SIGSTOP), then SIGTERM to the lesson: the stop is
/// passed on with SIGCONT, which wakes them, and they end of it.
pub fn a_stop_wakes_stopped_children(program: &str, args: &[&str], event: &str) {
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, program, args);
    lesson.wait_for(event, 1);
    let children = children_of(lesson.pid());
    assert!(!children.is_empty(), "no child to stop");
    for child in &children {
        let _ = kill(Pid::from_raw(child.pid), Signal::SIGSTOP);
    }
    lesson.signal(Signal::SIGTERM);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(143), "{}", run.output());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
}

/// SIGQUIT sent to one child alone, as `kill -QUIT` does (Ctrl-\ reaches
/// every process of the job): the child ends of it, as a program with no
/// handler does, but leaves no core file where `ulimit -c` would let it
/// (checked where `core_pattern` names a file in the working directory and
/// the hard limit allows one); the lesson says how it ended.
pub fn a_core_signal_ends_a_child_without_a_core_file(program: &str, args: &[&str], event: &str) {
    let tmp = Scratch::new();
    let dir = tmp.path("");
    // As large a core file as this user may allow (the hard limit).
    let script =
        r#"ulimit -c "$(ulimit -H -c)" && cd "$1" && shift && exec env TMPDIR="$PWD" "$@""#;
    let lesson = start(
        "sh",
        &[&["-c", script, "sh", dir.as_str(), program], args].concat(),
    );
    lesson.wait_for(event, 1);
    let child = children_of(lesson.pid())
        .last()
        .expect("no child to signal")
        .pid;
    kill(Pid::from_raw(child), Signal::SIGQUIT).expect("kill -QUIT");
    let run = lesson.finish();
    assert!(
        run.stderr
            .contains(&format!("(pid {child}) was killed by SIGQUIT")),
        "{}",
        run.output()
    );
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE)
        .map_or(0, |(_, hard)| hard);
    if pattern.starts_with('|') || pattern.contains('/') || hard == 0 {
        eprintln!("core files not checked: core_pattern is {pattern:?}, ulimit -H -c {hard}");
    } else {
        assert_eq!(
            leftovers(&tmp, &[]),
            Vec::<String>::new(),
            "{}",
            run.output()
        );
    }
}

/// The cgroup v1 freezer, where there is one: a frozen process runs again
/// for no signal, SIGCONT included, and dies of SIGKILL only once thawed.
const FREEZER: &str = "/sys/fs/cgroup/freezer";

/// A child that does not end when the stop is passed on (frozen, here) is
/// killed after the grace period, which the line names.
pub fn a_child_that_does_not_end_is_killed_after_a_grace(
    program: &str,
    args: &[&str],
    event: &str,
) {
    if !Path::new(FREEZER).join("freezer.state").exists() && !Path::new(FREEZER).exists() {
        eprintln!("skipped: no cgroup freezer at {FREEZER}");
        return;
    }
    let group = Path::new(FREEZER).join(format!("lesson-test-{}", std::process::id()));
    if std::fs::create_dir(&group).is_err() {
        eprintln!("skipped: cannot make a freezer cgroup here");
        return;
    }
    let write = |file: &str, text: &str| std::fs::write(group.join(file), text);
    let tmp = Scratch::new();
    let lesson = start_in(&tmp, program, args);
    lesson.wait_for(event, 1);
    let child = children_of(lesson.pid())[0].pid;
    write("cgroup.procs", &child.to_string()).expect("moving the child into the freezer");
    write("freezer.state", "FROZEN").expect("freezing");
    lesson.signal(Signal::SIGTERM);
    // The line that says it is killed comes after the grace; then thaw, so
    // that the SIGKILL it got can end it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let said = loop {
        let run_err = lesson.stderr_so_far();
        if run_err.contains("killed (SIGKILL)") {
            break run_err;
        }
        assert!(
            Instant::now() < deadline,
            "no grace line in 30 s: {run_err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    write("freezer.state", "THAWED").expect("thawing");
    let run = lesson.finish();
    let _ = std::fs::remove_dir(&group);
    assert!(said.contains("had not ended 5 s after SIGTERM"), "{said}");
    assert_eq!(run.code(), Some(143), "{}", run.output());
    // Only the frozen one: the others ended of the SIGTERM, in time.
    let killed = run
        .stderr
        .lines()
        .filter(|l| l.contains("killed (SIGKILL)"));
    assert_eq!(killed.count(), 1, "{}", run.output());
}

/// Ctrl-C while a sale is held at `--pause` (the buyers' work goes on
/// around it): every buyer that renamed its count into place recorded it
/// before it ended, and the stopped sale reckons the file against them.
/// Without a lock (`locked` false), more may be reported than left the
/// file; with one, exactly as many.
pub fn a_stopped_sale_reckons_what_its_buyers_reported(program: &str, locked: bool) {
    let tmp = Scratch::new();
    let file = tmp.write("ticket.json", r#"{"count": 10}"#);
    let trace = tmp.path("trace.jsonl");
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    let args = [
        tmpdir.as_str(),
        program,
        "--file",
        &file,
        "--buyers",
        "6",
        "--speed",
        "20",
        "--pause",
        "--trace",
        &trace,
    ];
    let mut lesson = start_piped("env", &args);
    lesson.wait_for("PAUSED", 1);
    let bought = if locked { 1 } else { 2 };
    lesson.wait_for("bought a ticket", bought);
    kill(Pid::from_raw(lesson.pid()), Signal::SIGINT).expect("kill");
    let status = lesson.finish();
    assert_eq!(status.code(), Some(130), "{}", lesson.output());
    let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let reported = records.iter().filter(|r| r.event == "bought").count() as u64;
    let text = std::fs::read_to_string(&file).expect("ticket file");
    let left: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let taken = 10 - left["count"].as_u64().expect("count");
    let summary = records
        .iter()
        .find(|r| r.event == "summary")
        .expect("summary");
    assert_eq!(summary.fields["stopped"], "SIGINT");
    assert_eq!(summary.fields["bought"], reported);
    assert!(
        lesson.lines().contains("Reckoning, stopped by SIGINT"),
        "{}",
        lesson.output()
    );
    if locked {
        assert_eq!(taken, reported, "{}", lesson.output());
    } else {
        assert!(reported >= taken, "{}", lesson.output());
    }
    let keep = ["ticket.json", "ticket.json.lock", "trace.jsonl"];
    assert_eq!(leftovers(&tmp, &keep), Vec::<String>::new());
}

/// SIGHUP to a sale's whole process group (the terminal closed), mid-sale:
/// the buyers it killed leave no temporary file, the lesson reckons.
pub fn a_hangup_of_the_whole_sale_leaves_no_file_behind(program: &str) {
    for _ in 0..5 {
        let tmp = Scratch::new();
        let file = tmp.write("ticket.json", r#"{"count": 1000}"#);
        let args = [
            "--file",
            file.as_str(),
            "--buyers",
            "1000",
            "--speed",
            "max",
        ];
        let lesson = start_in(&tmp, program, &args);
        lesson.wait_for("bought", 3);
        let _ = killpg(Pid::from_raw(lesson.pid()), Signal::SIGHUP);
        let run = lesson.finish();
        assert_eq!(run.code(), Some(129), "{}", run.output());
        assert!(
            run.stdout.contains("Reckoning, stopped by SIGHUP"),
            "{}",
            run.output()
        );
        let keep = ["ticket.json", "ticket.json.lock"];
        assert_eq!(leftovers(&tmp, &keep), Vec::<String>::new());
    }
}

/// A small file system of its own (tmpfs, 48 KB), where root may mount one:
/// the trace fills it half-way through the lesson. Unmounted when dropped.
struct FullSoon(Scratch);

impl FullSoon {
    fn new() -> Option<FullSoon> {
        let dir = Scratch::new();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=48k", "tmpfs", &dir.path("")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(FullSoon(dir))
    }
}

impl Drop for FullSoon {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path(""))
            .status();
    }
}

/// The trace's disk fills mid-sale: the buyers' statuses still say how each
/// ended, so the reckoning is true, and the lesson ends in one line saying
/// the trace could not be written (exit 1), not one line of error a buyer.
pub fn a_full_trace_disk_leaves_the_reckoning_true(program: &str, locked: bool) {
    let Some(full) = FullSoon::new() else {
        eprintln!("skipped: cannot mount a small tmpfs here (root only)");
        return;
    };
    let tmp = Scratch::new();
    let file = tmp.write("ticket.json", r#"{"count": 300}"#);
    let trace = full.0.path("trace.jsonl");
    let args = [
        "--file", &file, "--buyers", "200", "--speed", "max", "--trace", &trace,
    ];
    let out = std::process::Command::new(program)
        .args(args)
        .env_remove("LESSON_SPEED")
        .output()
        .expect("running the lesson");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot write the trace"), "{stderr}");
    assert!(
        stdout.contains("200 buyers were told \"bought\""),
        "{stdout}"
    );
    if locked {
        assert!(stdout.contains("Every ticket is accounted for"), "{stdout}");
    }
}

/// The same for a printer: no timeline is drawn from a trace that lost
/// records; one line says so.
pub fn a_full_trace_disk_draws_no_timeline(program: &str) {
    let Some(full) = FullSoon::new() else {
        eprintln!("skipped: cannot mount a small tmpfs here (root only)");
        return;
    };
    let trace = full.0.path("trace.jsonl");
    let args = ["--workers", "300", "--speed", "max", "--trace", &trace];
    let out = std::process::Command::new(program)
        .args(args)
        .env_remove("LESSON_SPEED")
        .output()
        .expect("running the lesson");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("the timeline would be incomplete"),
        "{stderr}"
    );
}
