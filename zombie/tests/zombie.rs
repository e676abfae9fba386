//! The zombie lesson's claims, checked on the process table: a dead child is
//! a zombie until reaped, the kernel keeps its status and CPU time, a parent
//! that never reaps piles zombies up, and killing it gets them reaped.

use common::log::Record;
use std::process::Command;

use lesson_testing::{Run, check_usage, output_leaving, run, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

fn of<'a>(run: &'a Run, event: &'a str, pid: i64) -> Vec<&'a Record> {
    run.events(event)
        .filter(|r| r.fields["of"].as_i64() == Some(pid))
        .collect()
}

#[test]
fn a_dead_child_is_seen_in_state_z_then_reaped_and_gone() {
    let run = run(LESSON, &["--speed", "max", "--flood", "3", "--cpu-ms", "0"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let child = run.by("child").next().expect("the child traced its exit");
    assert_eq!(child.event, "exit");
    assert_eq!(child.ppid, run.pid);
    let pid = i64::from(child.pid);
    let state = of(&run, "state", pid);
    let reaped = of(&run, "reaped", pid);
    assert_eq!((state.len(), reaped.len()), (1, 1), "{}", run.output());
    assert_eq!(state[0].fields["state"], "Z");
    assert!(state[0].t < reaped[0].t, "observed before it was reaped");
    assert_eq!(reaped[0].fields["status"], 7);
    assert_eq!(of(&run, "gone", pid).len(), 1, "{}", run.output());
    assert!(run.stdout.contains("<defunct>"), "{}", run.output());
}

#[test]
fn the_cpu_time_reaped_is_the_cpu_time_the_child_burned() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "1", "--cpu-ms", "300"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let child = run.by("child").next().expect("child").pid;
    let reaped = &of(&run, "reaped", i64::from(child))[0].fields;
    let cpu =
        reaped["user_ms"].as_f64().expect("user_ms") + reaped["sys_ms"].as_f64().expect("sys_ms");
    assert!(
        (295.0..=360.0).contains(&cpu),
        "reported {cpu} ms of CPU for 300 ms burned"
    );
}

#[test]
fn a_flood_of_zombies_is_adopted_and_reaped_once_the_parent_is_killed() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "50", "--cpu-ms", "0"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let counts: Vec<i64> = run
        .events("flood")
        .map(|r| r.fields["zombies"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(
        counts,
        [50, 0],
        "50 zombies under the parent, then none\n{}",
        run.output()
    );
    let adopted: Vec<&Record> = run.events("adopted").collect();
    assert_eq!(adopted.len(), 50);
    assert!(
        adopted.iter().all(|r| r.fields["by"] == run.pid),
        "the lesson adopted them"
    );
    let reaped = run
        .events("reaped")
        .filter(|r| adopted.iter().any(|a| a.fields["of"] == r.fields["of"]));
    assert_eq!(reaped.count(), 50, "and reaped every one");
}

#[cfg(target_os = "linux")]
#[test]
fn zombies_make_fork_fail_for_a_confined_parent() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "20", "--cpu-ms", "0"],
    );
    let refused: Vec<&Record> = run.events("fork_refused").collect();
    assert_eq!(refused.len(), 1, "{}", run.output());
    assert_eq!(refused[0].who, "parent");
    assert_eq!(refused[0].fields["error"], "EAGAIN");
}

/// The test process is a subreaper (see `lesson_testing`), so here it is
/// the system's adopter: one that, like this machine's pid 1, does not reap.
#[test]
fn without_a_subreaper_the_lesson_names_an_adopter_that_does_not_reap() {
    let lesson = start(
        LESSON,
        &[
            "--speed",
            "max",
            "--flood",
            "5",
            "--cpu-ms",
            "0",
            "--no-subreaper",
        ],
    );
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let me = std::process::id();
    let unreaped: Vec<&Record> = run.events("unreaped").collect();
    assert_eq!(unreaped.len(), 1, "{}", run.output());
    assert_eq!(unreaped[0].fields["by"], me);
    assert_eq!(unreaped[0].fields["zombies"], 5);
    assert!(run.events("adopted").all(|r| r.fields["by"] == me));
    assert!(run.stdout.contains("tini"), "{}", run.output());
    // It says what it saw, and for how long, not that the adopter never reaps.
    assert!(
        run.stdout.contains("s later, when I stop watching")
            && !run.stdout.contains("does not reap"),
        "{}",
        run.output()
    );
    assert_eq!(
        left.len(),
        5,
        "the five zombies, reaped by this test: {left:#?}"
    );
    assert!(left.iter().all(|p| p.is_zombie() && p.ppid == me as i32));
}

#[test]
fn ctrl_c_among_the_zombies_leaves_none_behind() {
    let lesson = start(LESSON, &["--speed", "1", "--flood", "30", "--cpu-ms", "0"]);
    lesson.wait_for("flood", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
}

/// `| head` closes the lesson's output early: printing must not fail the
/// lesson (it would be left waiting for the flood's parent, which waits
/// to be killed), and nothing may be left.
#[test]
fn a_closed_output_neither_hangs_the_lesson_nor_leaves_zombies() {
    let script = format!("{LESSON} --speed max --cpu-ms 0 | head -n 1");
    let (out, left) = output_leaving(Command::new("bash").args(["-c", &script]));
    assert_eq!(out.status.code(), Some(0));
    assert!(left.is_empty(), "{left:#?}");
}

#[test]
fn usage() {
    check_usage(
        LESSON,
        env!("CARGO_PKG_DESCRIPTION"),
        &[
            &["--flood", "0"],
            &["--flood", "4001"],
            &["--flood", "x"],
            &["--cpu-ms", "-5"],
        ],
    );
}
