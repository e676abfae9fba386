//! The zombie lesson makes the invisible visible: `ps` shows the zombie as
//! it is, part 4 counts the zombies each real-world fix leaves, the flood
//! says how it confines itself, and `--pause` holds the steps worth a look.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::system;
use lesson_testing::{run, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

/// The number right after `after` in `line`.
fn number_after(line: &str, after: &str) -> i32 {
    line.split_once(after)
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
        .and_then(|digits: String| digits.parse().ok())
        .unwrap_or_else(|| panic!("no number after '{after}' in {line}"))
}

/// Part 1 shows what `ps` itself says of the dead child: its pid, state
/// `Z` and `<defunct>`; and `kill -9` leaves it in state Z.
#[test]
fn ps_shows_the_zombie_and_kill_9_leaves_it() {
    let run = run(LESSON, &["--speed", "max", "--flood", "3", "--cpu-ms", "0"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let child = run.by("child").next().expect("the child traced its exit");
    let pid = child.pid.to_string();
    let has_ps = Command::new("ps")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_ps {
        let shown = run.stdout.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "  0.226s   12286 main        12287 12286 Z    [child] <defunct>"
            fields.get(3) == Some(&pid.as_str())
                && fields[4..].iter().any(|f| f.starts_with('Z'))
                && line.contains("<defunct>")
        });
        assert!(shown, "no ps line for pid {pid}\n{}", run.output());
        stat_explained(&run.stdout, &pid);
        // The name in brackets is the one the log gives the child (Linux).
        if cfg!(target_os = "linux") {
            assert!(run.stdout.contains("[child] <defunct>"), "{}", run.output());
            assert!(run.stdout.contains("child: the name the child gave itself"));
        }
    } else {
        println!("skipped the ps part: ps is not installed here");
    }
    let kill: Vec<_> = run.events("kill").collect();
    assert_eq!(kill.len(), 1, "{}", run.output());
    assert_eq!(kill[0].fields["of"].as_i64(), Some(i64::from(child.pid)));
    assert_eq!(kill[0].fields["state"], "Z", "{}", run.output());
}

/// The STAT that `ps` printed for the zombie `pid` in `stdout`, checked to
/// be explained letter by letter, each letter once, in its order, and no
/// other: "STAT Z: …", "STAT +: …".
fn stat_explained(stdout: &str, pid: &str) -> String {
    let texts: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().skip(3).collect())
        .collect();
    // "  0.226s   12286 main        12287 12286 Z+   [child] <defunct>"
    let stat = texts
        .iter()
        .find(|t| t.first() == Some(&pid))
        .and_then(|t| t.get(2))
        .unwrap_or_else(|| panic!("no ps line for pid {pid}\n{stdout}"));
    let explained: String = texts
        .iter()
        .filter(|t| t.first() == Some(&"STAT"))
        .filter_map(|t| t.get(1)?.strip_suffix(':'))
        .collect();
    assert_eq!(&explained, stat, "{stdout}");
    stat.to_string()
}

/// In a terminal, the zombie is in the terminal's foreground process group
/// and `ps` says so with a `+`; the lesson explains the `+` then, and only
/// then (the run of the test above has no terminal, and no `+`). Needs
/// `script` (util-linux) for the terminal.
#[test]
fn the_plus_of_stat_is_explained_when_ps_shows_it() {
    let has_script = Command::new("script")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_script {
        println!("skipped: no `script` (util-linux) to give the lesson a terminal");
        return;
    }
    let inside = format!("stty cols 300 rows 50; exec '{LESSON}' --speed max --flood 3 --cpu-ms 0");
    let out = lesson_testing::output(
        Command::new("script")
            .args(["-qefc", &inside, "/dev/null"])
            .env("LESSON_LANG", "en"),
    );
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{}\n{text}", out.status);
    let pid = text
        .lines()
        .find(|l| l.contains(" child ") && l.contains("burns"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no line of the child\n{text}"));
    let stat = stat_explained(&text, pid);
    assert!(stat.contains('+'), "{text}");
    assert!(text.contains("foreground process group"), "{text}");
}

/// Part 4: waiting for each child, a SIGCHLD handler and ignoring SIGCHLD
/// each leave no zombie; the first had all five as zombies before it
/// waited, the handler reaped all five.
#[test]
fn part_4_counts_the_zombies_each_fix_leaves() {
    let run = run(LESSON, &["--speed", "max", "--flood", "3", "--cpu-ms", "0"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let fixes: Vec<_> = run.events("fix").collect();
    let ways: Vec<&str> = fixes
        .iter()
        .map(|r| r.fields["way"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(ways, ["wait", "sigchld", "ignore"], "{}", run.output());
    for fix in &fixes {
        assert_eq!(fix.fields["after"].as_i64(), Some(0), "{fix:?}");
    }
    assert_eq!(
        fixes[0].fields["before"].as_i64(),
        Some(5),
        "{:?}",
        fixes[0]
    );
    assert_eq!(
        fixes[1].fields["reaped"].as_i64(),
        Some(5),
        "{:?}",
        fixes[1]
    );
}

/// The flood's parent says how it makes fork fail: it sets RLIMIT_NPROC to
/// the processes its user already runs plus its --flood children, no more.
#[test]
fn the_flood_line_explains_its_numbers() {
    let flood = 3;
    let run = run(
        LESSON,
        &[
            "--speed",
            "max",
            "--flood",
            &flood.to_string(),
            "--cpu-ms",
            "0",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("RLIMIT_NPROC"))
        .unwrap_or_else(|| panic!("no RLIMIT_NPROC line\n{}", run.output()));
    assert!(
        line.contains("children") && line.contains("no more"),
        "{line}"
    );
    let limit = number_after(line.split_once("RLIMIT_NPROC").expect("said").1, " to ");
    let already = if line.contains(": me,") {
        1
    } else {
        assert!(line.contains("already runs"), "{line}");
        let (before, _) = line
            .split_once(" processes my user already runs")
            .expect("said");
        number_after(before, ": ")
    };
    assert_eq!(limit, already + flood, "{line}");
    if line.contains("a user of my own") {
        assert_eq!(
            already, 1,
            "a user of its own runs only this process: {line}"
        );
    }
}

/// `--pause` holds the zombie for a look (still in state Z, the lesson
/// still running) until Enter, then the flood until Enter; without
/// `--pause`, a standard input that never sends anything holds nothing.
#[test]
fn pause_holds_each_step_until_enter_and_only_with_pause() {
    let mut lesson = start_piped(
        LESSON,
        &["--pause", "--speed", "20", "--flood", "3", "--cpu-ms", "0"],
    );
    let paused = lesson.wait_for("PAUSED", 1);
    let zombie = number_after(&paused, "PAUSED: pid ");
    assert!(lesson.running(), "{}", lesson.output());
    let seen = system::process(zombie);
    assert!(
        seen.as_ref()
            .is_some_and(|p| p.is_zombie() && p.ppid == lesson.pid()),
        "pid {zombie} while paused: {seen:?}\n{}",
        lesson.output()
    );
    lesson.enter();
    let flood = lesson.wait_for("PAUSED", 2);
    assert!(flood.contains("zombies"), "{flood}");
    let parent = number_after(&flood, " under pid ");
    assert_eq!(
        system::zombies_of(parent).len(),
        3,
        "{flood}\n{}",
        lesson.output()
    );
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
    drop(lesson);

    let mut lesson = start_piped(LESSON, &["--speed", "max", "--flood", "3"]);
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
    assert!(!lesson.lines().contains("PAUSED"), "{}", lesson.output());
}

/// The flood's parent, signalled from another terminal while the flood is
/// paused: killed (SIGKILL), it leaves its zombies to this lesson, which
/// part 3 then reaps, all of them; stopped by a signal it catches
/// (SIGTERM), it reaps them itself as it ends, and part 3 finds no orphan
/// and reaps none that is gone. Either way nothing is left behind.
#[test]
fn a_flood_parent_signalled_during_the_pause_leaves_part_3_the_truth() {
    for (signal, orphans, code) in [
        (nix::sys::signal::Signal::SIGKILL, 3, 0),
        // The parent's end of a signal it did not expect is reported as a
        // failure, and so the lesson's status is 1.
        (nix::sys::signal::Signal::SIGTERM, 0, 1),
    ] {
        let mut lesson = start_piped(
            LESSON,
            &["--pause", "--speed", "20", "--flood", "3", "--cpu-ms", "0"],
        );
        lesson.wait_for("PAUSED", 1);
        lesson.enter();
        let flood = lesson.wait_for("PAUSED", 2);
        let parent = number_after(&flood, " under pid ");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(parent), signal).expect("kill");
        // Ended (a zombie of the lesson's, unreaped until part 3), having
        // reaped its own or not.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !system::process(parent).is_some_and(|p| p.is_zombie()) {
            assert!(Instant::now() < deadline, "{}", lesson.output());
            std::thread::sleep(Duration::from_millis(10));
        }
        lesson.enter();
        lesson.close_stdin();
        let status = lesson.finish();
        let output = lesson.output();
        assert_eq!(status.code(), Some(code), "{signal}: {output}");
        let said = format!("its {orphans} zombies are orphans now");
        assert!(output.contains(&said), "{signal}: {output}");
        if orphans > 0 {
            assert!(output.contains("zombies left: 0"), "{signal}: {output}");
        }
    }
}

/// A flood whose zombies fill more than a page of their parent's list of
/// children (a thousand pids) is seen whole: every zombie is adopted and
/// reaped in part 3, none is left for the last sweep to find.
#[test]
fn a_flood_of_a_thousand_is_seen_and_reaped_whole() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "1000", "--cpu-ms", "0"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let of = |event| {
        let pids = run.events(event).map(|r| r.fields["of"].as_i64());
        pids.collect::<std::collections::HashSet<_>>()
    };
    let (adopted, reaped) = (of("adopted"), of("reaped"));
    assert_eq!(adopted.len(), 1000, "{}", run.output());
    assert!(adopted.is_subset(&reaped), "{}", run.output());
    assert!(run.stderr.is_empty(), "{}", run.output());
}
