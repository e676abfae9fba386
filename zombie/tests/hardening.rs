//! The zombie lesson under hostile conditions: its main process killed
//! during the flood, Ctrl-C during the flood, too few descriptors, a
//! process limit too low for the flood, SIGCHLD ignored as it starts.

use std::time::{Duration, Instant};

use common::system::{ProcessInfo, children_of, processes};
use lesson_testing::{
    Scratch, refuses_beyond_the_process_limit, refuses_too_few_descriptors, run_ignoring_sigchld,
    start, start_in,
};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

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

/// The flood's parent, which changed its user, still gets SIGTERM when the
/// lesson is killed outright (SIGKILL): it reaps its zombies and ends, and
/// leaves none of them to its adopter.
#[test]
fn sigkill_of_the_main_process_during_the_flood_ends_the_flood_s_parent() {
    let tmp = Scratch::new();
    let lesson = start_in(
        &tmp,
        LESSON,
        &["--speed", "1", "--flood", "30", "--cpu-ms", "0"],
    );
    lesson.wait_for("flood", 1);
    let parents: Vec<ProcessInfo> = children_of(lesson.pid())
        .into_iter()
        .filter(|p| !p.is_zombie())
        .collect();
    assert_eq!(parents.len(), 1, "the flood's parent alone: {parents:#?}");
    let parent = parents[0].pid;
    lesson.signal(Signal::SIGKILL);
    let running = still_running_after(lesson.pid(), Duration::from_secs(5));
    assert!(running.is_empty(), "still running 5 s on: {running:#?}");
    let (run, left) = lesson.finish_leaving();
    assert_eq!(run.status.code(), None, "{}", run.output());
    assert!(
        left.iter().all(|p| p.pid == parent && p.is_zombie()),
        "only the parent's own zombie (pid {parent}) may be left: {left:#?}"
    );
}

/// Ctrl-C during the flood stops the lesson there: one line says so, part 3
/// never starts, and no zombie is left to be reaped as an adopted orphan.
#[test]
fn ctrl_c_during_the_flood_stops_in_one_line_and_leaves_nothing() {
    let lesson = start(LESSON, &["--speed", "1", "--flood", "30", "--cpu-ms", "0"]);
    lesson.wait_for("flood", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
    assert!(!run.stdout.contains("── 3."), "{}", run.output());
    // Part 1's "reaped pid N (wait4)" is the only one allowed.
    let reaped = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|l| l.contains("reaped pid") && !l.contains("(wait4)"))
        .count();
    assert_eq!(reaped, 0, "{}", run.output());
}

/// Too few descriptors would fail the lesson half-way: it refuses to start.
#[test]
fn too_few_descriptors_are_refused_at_the_start() {
    refuses_too_few_descriptors(LESSON);
}

/// Root ignores process limits, so the lesson runs as nobody. A flood of
/// 49 under a limit of 50 processes would leave its user no room: it is
/// refused before any child starts.
#[test]
fn a_flood_beyond_the_process_limit_is_refused_before_any_child_starts() {
    refuses_beyond_the_process_limit(LESSON, &["--flood", "49"]);
}

/// Two floods of one unprivileged user at once: each one's process limit
/// counts the other's zombies too, so a fork may fail sooner than planned,
/// or one more may still work. Neither fails: each says what it saw.
#[test]
fn two_floods_of_one_user_at_once_both_say_what_they_saw() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: only root can run the lesson as the user nobody");
        return;
    }
    let dir = Scratch::new();
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let program = lesson_testing::runnable_by_anyone(LESSON);
    let flood = || {
        let mut command = std::process::Command::new(&program);
        command
            .args(["--speed", "max", "--flood", "600", "--cpu-ms", "0"])
            .env("TMPDIR", dir.path(""))
            .env_remove("LESSON_SPEED")
            .uid(lesson_testing::NOBODY)
            .gid(lesson_testing::NOBODY);
        // Started as every lesson is (a copy just made may be "busy" for a
        // moment), and each checked to leave nothing behind.
        lesson_testing::output(&mut command)
    };
    let floods: Vec<_> = std::thread::scope(|scope| {
        let both = [scope.spawn(flood), scope.spawn(flood)];
        both.map(|f| f.join().expect("a flood's thread")).into()
    });
    for out in floods {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            [
                "one more fork fails with EAGAIN",
                "already fails with EAGAIN",
                "did not hold (my user runs"
            ]
            .iter()
            .any(|seen| text.contains(seen)),
            "{text}"
        );
    }
}

/// An Enter awaited from `/dev/zero` never comes: past 1024 bytes the line
/// goes on as Enter would, not read for good.
#[test]
fn a_pause_fed_a_line_that_never_ends_goes_on() {
    lesson_testing::a_pause_fed_a_line_that_never_ends_goes_on(
        LESSON,
        &["--pause", "--speed", "max", "--flood", "3"],
    );
}

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    lesson_testing::refuses_too_little_address_space(LESSON, &[]);
}

/// Started with SIGCHLD ignored (a shell's `trap '' CHLD`, kept through
/// `exec`), the kernel would reap each child as it ends: the lesson puts
/// SIGCHLD back to its default first, so its child is still a zombie, in
/// state Z, until it is reaped.
#[test]
fn started_with_sigchld_ignored_it_still_shows_a_zombie() {
    let run = run_ignoring_sigchld(LESSON, &["--speed", "max", "--flood", "3", "--cpu-ms", "0"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let kill: Vec<_> = run.events("kill").collect();
    assert_eq!(kill.len(), 1, "{}", run.output());
    assert_eq!(kill[0].fields["state"], "Z", "{}", run.output());
}
