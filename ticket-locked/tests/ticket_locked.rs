//! With the purchase under a lock, every ticket is accounted for: with a
//! thousand buyers, when a buyer is killed holding the lock, when another
//! sale runs on the same file, and when the file is bad.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use lesson_testing::{NOBODY, Run, Scratch, check_usage, output, run, runnable_by_anyone, start};
use serde_json::Value;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

fn summary(run: &Run) -> &serde_json::Map<String, Value> {
    &run.events("summary").last().expect("a summary").fields
}

#[test]
fn a_thousand_buyers_never_oversell_nor_read_a_torn_file() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "500",
            "--buyers",
            "1000",
            "--speed",
            "max",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(
        (&s["bought"], &s["sold_out"], &s["errors"], &s["left"]),
        (&500.into(), &500.into(), &0.into(), &0.into())
    );
    assert_eq!(
        run.events("error").count(),
        0,
        "nobody met a half-written file"
    );
    assert_eq!(run.events("search").count(), 1000);
}

#[test]
fn a_missing_file_starts_with_three_tickets() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run(LESSON, &["--file", &file, "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let s = summary(&run);
    assert_eq!(
        (&s["initial"], &s["bought"], &s["sold_out"]),
        (&3.into(), &3.into(), &3.into())
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read").trim(),
        r#"{"count":0}"#
    );
}

#[test]
fn a_durable_sale_counts_the_same() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "4",
            "--buyers",
            "5",
            "--fsync",
            "--speed",
            "max",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(
        (&summary(&run)["bought"], &summary(&run)["left"]),
        (&4.into(), &0.into())
    );
    let names: Vec<String> = std::fs::read_dir(dir.path(""))
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the file and its lock are left: {names:?}"
    );
}

#[test]
fn other_fields_of_the_file_survive_where_they_were() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    std::fs::write(
        &file,
        r#"{"event": "concert", "count": 2, "seats": ["A1", "A2"]}"#,
    )
    .expect("write");
    let run = run(
        LESSON,
        &["--file", &file, "--buyers", "3", "--speed", "max"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let after = std::fs::read_to_string(&file).expect("read");
    // Byte for byte, its spaces too: only the count's text changes.
    assert_eq!(
        after,
        r#"{"event": "concert", "count": 0, "seats": ["A1", "A2"]}"#
    );
}

#[test]
fn every_bad_file_is_refused_in_one_line_and_left_byte_for_byte() {
    let dir = Scratch::new();
    for (i, (bytes, says)) in [
        (&b"{\"tickets\": 3}"[..], "no \"count\""),
        (b"{\"count\": -2}", "negative"),
        (b"{\"count\": 1.5}", "not a whole number"),
        (b"{\"count\": \"3\"}", "not a whole number"),
        (b"{\"count\": 99999999999}", "more than"),
        (b"count = 3", "not JSON"),
        (b"", "empty"),
        (b"\xff\xfe{", "not JSON"),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.write(&format!("bad-{i}.json"), bytes);
        for extra in [&[][..], &["--tickets", "5"]] {
            let mut args = vec!["--file", file.as_str(), "--speed", "max"];
            args.extend_from_slice(extra);
            let run = run(LESSON, &args);
            assert_eq!(run.code(), Some(1), "{}", run.output());
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
            assert!(
                run.stderr.contains(&file) && run.stderr.contains(says),
                "{says}: {}",
                run.stderr
            );
            assert_eq!(
                std::fs::read(&file).expect("read"),
                bytes,
                "{says}: the file was changed"
            );
            assert_eq!(run.events("search").count(), 0, "no buyer started");
        }
    }
    let run = run(LESSON, &["--file", &dir.path(""), "--speed", "max"]);
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr.contains("it is a directory"), "{}", run.stderr);
}

#[test]
fn bad_options_are_refused_and_the_file_left_alone() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", "{\"count\": 4}");
    for args in [
        &["--buyers", "0"][..],
        &["--buyers", "4001"],
        &["--buyers", "x"],
        &["--tickets", "2.5"],
    ] {
        let out = output(Command::new(LESSON).args(args).args(["--file", &file]));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "{\"count\": 4}"
        );
    }
}

/// Root reads any file, so the lesson runs as the user nobody here, from a
/// copy it can reach wherever the checkout is.
#[test]
fn an_unreadable_file_is_refused_and_kept() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", "{\"count\": 4}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut command = Command::new(LESSON);
    if nix::unistd::getuid().is_root() {
        std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        command = Command::new(runnable_by_anyone(LESSON));
        command.uid(NOBODY).gid(NOBODY);
    }
    command.args(["--file", &file, "--speed", "max"]);
    let out = output(&mut command);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&file) && err.contains("Permission denied"),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "{\"count\": 4}"
    );
}

#[test]
fn a_file_gone_bad_mid_sale_stops_the_buyers_and_is_kept() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    // Each buyer looks at the file after 0.5 to 1.5 s: the garbage is there first.
    let lesson = start(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "3",
            "--buyers",
            "4",
            "--speed",
            "2",
        ],
    );
    lesson.wait_for("sale", 1);
    std::fs::write(&file, "garbage").expect("write");
    let run = lesson.finish();
    assert_eq!(run.code(), Some(1), "{}", run.output());
    assert_eq!(run.events("error").count(), 4, "{}", run.output());
    assert_eq!(run.events("bought").count(), 0);
    assert!(
        run.stderr.contains("went bad during the sale"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "garbage");
}

/// Needs `/proc/locks` to find who holds the lock.
#[cfg(target_os = "linux")]
mod killed {
    use std::time::{Duration, Instant};

    use lesson_testing::{Scratch, lock_holder, start};
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    use super::{LESSON, summary};

    /// The holder is killed just after it took the lock, in the 0.5 to 1.5 s it
    /// holds it before writing, and so is a buyer waiting for it: no ticket may
    /// be lost or sold by them, and the others must go on.
    #[test]
    fn killing_the_lock_holder_loses_no_ticket_and_blocks_nobody() {
        let dir = Scratch::new();
        let file = dir.path("ticket.json");
        let lock = format!("{file}.lock");
        let lesson = start(
            LESSON,
            &[
                "--file",
                &file,
                "--tickets",
                "3",
                "--buyers",
                "6",
                "--speed",
                "2",
            ],
        );
        lesson.wait_for("search", 1);
        let first = wait_for_holder(&lock, None);
        let second = wait_for_holder(&lock, Some(first));
        kill(Pid::from_raw(second), Signal::SIGKILL).expect("kill");
        // And one that has not had the lock yet (the first has just written).
        let waiting = common::system::children_of(lesson.pid())
            .into_iter()
            .find(|p| !p.is_zombie() && p.pid != first && p.pid != second)
            .expect("a buyer still waiting");
        kill(Pid::from_raw(waiting.pid), Signal::SIGKILL).expect("kill");
        let run = lesson.finish();
        assert_eq!(
            run.code(),
            Some(1),
            "a killed buyer fails the lesson\n{}",
            run.output()
        );
        let s = summary(&run);
        assert_eq!(s["errors"], 2, "{}", run.output());
        let (bought, left) = (
            s["bought"].as_u64().unwrap_or(0),
            s["left"].as_u64().unwrap_or(99),
        );
        assert_eq!(bought + left, 3, "{}", run.output());
        assert_eq!(
            bought,
            3,
            "the others bought every ticket\n{}",
            run.output()
        );
        assert!(
            run.stderr.contains("was killed by SIGKILL"),
            "{}",
            run.stderr
        );
    }

    /// Waits for a process other than `not` to hold the lock on `lock`.
    fn wait_for_holder(lock: &str, not: Option<i32>) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(pid) = lock_holder(lock).filter(|&p| Some(p) != not) {
                return pid;
            }
            assert!(Instant::now() < deadline, "nobody took the lock");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn two_sales_on_one_file_exclude_each_other() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", "{\"count\": 40}");
    let args = ["--file", &file, "--buyers", "30", "--speed", "max"];
    let (one, two) = (start(LESSON, &args), start(LESSON, &args));
    let (one, two) = (one.finish(), two.finish());
    let bought = |r: &Run| summary(r)["bought"].as_u64().unwrap_or(0);
    assert_eq!(
        bought(&one) + bought(&two),
        40,
        "{}\n{}",
        one.output(),
        two.output()
    );
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    assert_eq!(after["count"], 0);
}

#[test]
fn repeated_sales_never_oversell() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "20",
            "--buyers",
            "50",
            "--runs",
            "5",
            "--speed",
            "max",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(run.events("summary").count(), 5);
    assert!(
        run.events("summary")
            .all(|r| r.fields["bought"] == 20 && r.fields["left"] == 0)
    );
    assert!(
        run.stdout.contains("0 of 5 runs oversold"),
        "{}",
        run.stdout
    );
    assert_eq!(run.events("bought").count(), 100, "quiet, yet traced");
    assert!(
        !run.stdout.contains("bought a ticket"),
        "repeated sales print no buyer lines"
    );
}

#[test]
fn usage() {
    check_usage(
        LESSON,
        env!("CARGO_PKG_DESCRIPTION"),
        &[&["--buyers", "0"], &["--fsync=yes"]],
    );
}
