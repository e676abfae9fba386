//! What the locked ticket office refuses, and what it keeps: a refused run
//! exits 1 or 2 with one line naming the file and leaves it byte for byte;
//! a sale keeps the file's mode, owner, symbolic link and lock, and leaves
//! no temporary file behind.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use lesson_testing::tickets::{
    self, assert_refused, chmod, count, is_root, lesson, names, refused, snapshot, summary,
    temporary_files,
};
use lesson_testing::{NOBODY, Run, Scratch, run, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

/// `--trace` naming the ticket file (itself, through a symbolic link or a
/// hard link, by `LESSON_TRACE`) or its lock file is refused with exit 2
/// before anything is written.
#[test]
fn a_trace_naming_the_ticket_file_or_its_lock_is_refused_before_any_write() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 5, "keep": "me"}"#);
    symlink(&file, dir.path("symlink")).expect("symlink");
    fs::hard_link(&file, dir.path("hardlink")).expect("link");
    let (before, files) = (snapshot(&file), names(&dir));
    let lock = format!("{file}.lock");
    let dotted = dir.path("./ticket.json.lock");
    for trace in [
        &file,
        &dir.path("symlink"),
        &dir.path("hardlink"),
        &lock,
        &dotted,
    ] {
        let mut command = lesson(
            LESSON,
            &["--file", &file, "--speed", "max", "--trace", trace],
        );
        refused(&mut command, &[2], &file, &["--trace"]);
        assert_eq!(snapshot(&file), before, "--trace {trace}");
        assert_eq!(names(&dir), files, "--trace {trace} wrote a file");
    }
    let mut command = lesson(LESSON, &["--file", &file, "--speed", "max"]);
    refused(command.env("LESSON_TRACE", &file), &[2], &file, &["trace"]);
    assert_eq!(snapshot(&file), before, "LESSON_TRACE");
    assert_eq!(names(&dir), files, "LESSON_TRACE wrote a file");
    // The lock file once it exists, as a previous sale leaves it.
    fs::write(&lock, "").expect("write");
    let lock_before = snapshot(&lock);
    let mut command = lesson(
        LESSON,
        &["--file", &file, "--speed", "max", "--trace", &lock],
    );
    refused(&mut command, &[2], &lock, &["--trace"]);
    assert_eq!((snapshot(&file), snapshot(&lock)), (before, lock_before));
}

/// A sale keeps the mode of the file it replaces: 0600 stays 0600.
#[test]
fn a_sale_keeps_the_mode_of_the_file() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    chmod(&file, 0o600);
    let run = run(LESSON, &["--file", &file, "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!((count(&file), snapshot(&file).mode & 0o7777), (0, 0o600));
}

/// Root selling from a file of nobody's leaves it nobody's, with its mode.
#[test]
fn a_sale_by_root_keeps_the_owner_of_the_file() {
    if !is_root() {
        return;
    }
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    chmod(&file, 0o640);
    nix::unistd::chown(file.as_str(), Some(NOBODY.into()), Some(NOBODY.into())).expect("chown");
    let run = run(LESSON, &["--file", &file, "--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let after = snapshot(&file);
    assert_eq!(count(&file), 0);
    assert_eq!(
        (after.owner, after.mode & 0o7777),
        ((NOBODY, NOBODY), 0o640)
    );
}

/// A read-only file (0444, nobody's, in a directory anyone may write) is
/// refused to nobody before any buyer starts, and left as it was.
#[test]
fn a_read_only_file_is_refused_before_any_buyer_starts() {
    tickets::refuses_a_read_only_file(LESSON);
}

/// A sale through a symbolic link updates the real file, leaves the link a
/// link, and locks `real.json.lock`, beside the real file.
#[test]
fn a_symlinked_ticket_file_stays_a_link_and_is_locked_by_its_real_name() {
    let dir = Scratch::new();
    let real = dir.write("real.json", r#"{"count": 9}"#);
    let link = dir.path("ticket.json");
    symlink("real.json", &link).expect("symlink");
    let args = [
        "--file",
        &link,
        "--tickets",
        "3",
        "--buyers",
        "2",
        "--speed",
        "max",
    ];
    let run = run(LESSON, &args);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(
        fs::read_link(&link).expect("still a link"),
        PathBuf::from("real.json")
    );
    assert_eq!(
        fs::read_to_string(&real).expect("read").trim(),
        r#"{"count": 1}"#
    );
    let files = names(&dir);
    assert!(files.contains("real.json.lock"), "{files:?}");
    assert!(!files.contains("ticket.json.lock"), "{files:?}");
}

/// Two sales at once, one through the link and one through the real name,
/// share one lock: 40 tickets, 60 buyers, exactly 40 sold.
#[test]
fn sales_through_the_link_and_the_real_name_exclude_each_other() {
    let dir = Scratch::new();
    let real = dir.write("real.json", r#"{"count": 40}"#);
    let link = dir.path("ticket.json");
    symlink(&real, &link).expect("symlink");
    let sale = |file: &str| {
        start(
            LESSON,
            &["--file", file, "--buyers", "30", "--speed", "max"],
        )
    };
    let (one, two) = (sale(&link), sale(&real));
    let (one, two) = (one.finish(), two.finish());
    let bought = |r: &Run| summary(r)["bought"].as_u64().unwrap_or(0);
    let both = format!("{}\n{}", one.output(), two.output());
    assert_eq!(bought(&one) + bought(&two), 40, "{both}");
    assert_eq!(count(&real), 0, "{both}");
    assert!(fs::symlink_metadata(&link).expect("link").is_symlink());
}

/// A lock file that is a symbolic link is refused, and its target is not
/// created.
#[test]
fn a_lock_file_that_is_a_symlink_is_refused_and_not_followed() {
    let dir = Scratch::new();
    let real = dir.write("real.json", r#"{"count": 3}"#);
    let link = dir.path("ticket.json");
    symlink("real.json", &link).expect("symlink");
    let target = dir.path("target-that-does-not-exist");
    let lock = dir.path("real.json.lock");
    symlink(&target, &lock).expect("symlink");
    let (before, lock_before) = (snapshot(&real), snapshot(&lock));
    let run = run(LESSON, &["--file", &link, "--speed", "max"]);
    assert_refused(run.code(), &run.stderr, &[1, 2], &lock, &["symbolic link"]);
    assert!(
        !fs::exists(&target).expect("exists"),
        "the target was created"
    );
    assert_eq!((snapshot(&real), snapshot(&lock)), (before, lock_before));
    assert!(fs::symlink_metadata(&link).expect("link").is_symlink());
    assert_eq!(run.events("search").count(), 0);
}

/// A FIFO is refused at once (not waited on), a device and a file over
/// 1 MiB too, each saying what is wrong, and left as it was.
#[test]
fn a_fifo_a_device_and_a_huge_file_are_refused_at_once() {
    tickets::refuses_a_fifo_a_device_and_a_huge_file(LESSON);
}

/// When the lock file cannot be made (a directory has its name), the sale
/// fails with exit 1 before it creates or changes the ticket file.
#[test]
fn a_lock_file_that_cannot_be_made_stops_the_sale_before_any_write() {
    let dir = Scratch::new();
    fs::create_dir_all(dir.path("lk/ticket.json.lock")).expect("mkdir");
    let file = dir.path("lk/ticket.json");
    let args = ["--file", &file, "--tickets", "9", "--speed", "max"];
    let run1 = run(LESSON, &args);
    assert_refused(run1.code(), &run1.stderr, &[1], &file, &["lock"]);
    assert!(!fs::exists(&file).expect("exists"), "{file} was created");
    fs::write(&file, r#"{"count": 3}"#).expect("write");
    let before = snapshot(&file);
    let run2 = run(LESSON, &args);
    assert_refused(run2.code(), &run2.stderr, &[1], &file, &["lock"]);
    assert_eq!(snapshot(&file), before);
}

/// Files and links planted under the temporary names a sale might use (its
/// likely next pids, and 1 to 2000) stop no sale, and no link is followed.
#[test]
fn planted_temporary_names_do_not_stop_a_sale() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let target = dir.path("planted-target");
    let last = fs::read_to_string("/proc/sys/kernel/ns_last_pid").unwrap_or_default();
    let last: u32 = last.trim().parse().unwrap_or(0);
    for n in last + 1..=last + 300 {
        symlink(&target, dir.path(&format!(".ticket.json.{n}.tmp"))).expect("symlink");
    }
    for n in 1..=2000 {
        let name = dir.path(&format!(".ticket.json.{n}.tmp"));
        if fs::symlink_metadata(&name).is_err() {
            fs::write(&name, "planted").expect("write");
            // Old, so that only the name tells them from a dead writer's.
            let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            let planted = fs::File::options().write(true).open(&name).expect("open");
            planted.set_modified(hour_ago).expect("set_modified");
        }
    }
    let before = names(&dir);
    let args = [
        "--file",
        &file,
        "--tickets",
        "3",
        "--buyers",
        "6",
        "--speed",
        "max",
    ];
    let run = run(LESSON, &args);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert_eq!(summary(&run)["bought"], 3, "{}", run.output());
    assert_eq!(count(&file), 0);
    assert!(
        !fs::exists(&target).expect("exists"),
        "a planted link was followed"
    );
    let after = names(&dir);
    let gone: Vec<_> = before.difference(&after).collect();
    assert!(
        gone.is_empty(),
        "files not the lesson's were removed: {gone:?}"
    );
}

/// A sale stopped by SIGTERM while buyers write leaves no temporary file,
/// and a whole ticket file: a count from 0 to 50, with no ticket sold twice.
#[test]
fn a_sale_stopped_by_sigterm_leaves_no_temporary_file() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let args = [
        "--file",
        &file,
        "--tickets",
        "50",
        "--buyers",
        "50",
        "--speed",
        "20",
    ];
    let lesson = start(LESSON, &args);
    lesson.wait_for("bought", 1);
    lesson.signal(Signal::SIGTERM);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(143), "{}", run.output());
    assert_eq!(temporary_files(&dir), Vec::<String>::new());
    let left = count(&file);
    let bought = run.events("bought").count() as u64;
    assert!(
        left + bought <= 50,
        "{left} left + {bought} bought\n{}",
        run.output()
    );
}

/// A key given twice, at the top or nested, is refused, the file kept.
#[test]
fn a_duplicate_key_is_refused() {
    tickets::refuses_a_duplicate_key(LESSON);
}

/// A speed out of range (even one that rounds to 0) and a `--panic-in` with
/// no such process are refused with exit 2 in one line, nothing written.
#[test]
fn bad_option_values_are_refused_and_nothing_is_written() {
    tickets::refuses_bad_option_values(LESSON);
}

/// Every value other than `count` comes back as written, numbers included.
#[test]
fn other_values_come_back_as_written() {
    tickets::keeps_every_other_value_as_written(LESSON);
}

/// A new version that would be too large is refused before any write.
#[test]
fn a_file_it_would_refuse_is_never_written() {
    tickets::never_writes_a_file_it_would_refuse(LESSON);
}

/// A POSIX ACL and other extended attributes survive a sale.
#[test]
fn an_acl_and_other_extended_attributes_are_kept() {
    tickets::keeps_an_acl_and_other_extended_attributes(LESSON);
}

/// An attribute the new version could not carry is refused up front.
#[test]
fn an_attribute_that_cannot_be_copied_is_refused() {
    tickets::refuses_attributes_it_cannot_copy(LESSON);
}

/// With `--fsync`, a directory that cannot be flushed fails no sale.
#[test]
fn a_durable_sale_stands_where_the_directory_cannot_be_flushed() {
    tickets::a_durable_sale_stands_where_the_directory_cannot_be_flushed(LESSON);
}

/// Append-only and immutable files are refused before any buyer starts.
#[test]
fn append_only_and_immutable_files_are_refused() {
    tickets::refuses_append_only_and_immutable_files(LESSON);
}

/// A path too long for the system is refused up front, shown cut short.
#[test]
fn a_path_too_long_is_refused() {
    tickets::refuses_a_path_too_long(LESSON);
}

/// Bad counts and deep nesting are named for what they are.
#[test]
fn bad_counts_are_named_for_what_they_are() {
    tickets::refuses_bad_counts_in_words_that_fit(LESSON);
}

/// No two processes share the random part of their temporary names.
#[test]
fn temporary_names_differ_in_every_process() {
    tickets::temporary_names_differ_in_every_process(LESSON);
}

/// A full disk is refused before the first write, in one line.
#[test]
fn a_full_disk_is_refused_before_the_first_write() {
    tickets::refuses_a_full_disk_before_the_first_write(LESSON);
}

/// A file removed mid-sale is said gone in the system's words.
#[test]
fn a_file_removed_mid_sale_is_said_in_the_systems_words() {
    tickets::a_file_removed_mid_sale_is_said_in_the_systems_words(LESSON);
}

/// Too little address space (`ulimit -v`) would abort the lesson half-way:
/// it refuses to start, and runs with what it says it needs.
#[test]
fn too_little_address_space_is_refused_at_the_start() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    lesson_testing::refuses_too_little_address_space(LESSON, &["--file", &file]);
}
