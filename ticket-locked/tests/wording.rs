//! The ticket office's words: where the count came from, how many tickets
//! and buyers in good grammar, and what `--pause` holds while the others
//! wait for the lock.

use std::time::{Duration, Instant};

use lesson_testing::{Scratch, run, start_piped};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-locked");

/// The numbers written right before the word `word` (not a longer word):
/// `numbers_before("1 ticket, 11 tickets", "tickets")` is `[11]`.
fn numbers_before(text: &str, word: &str) -> Vec<u64> {
    text.match_indices(word)
        .filter(|(at, _)| {
            let next = text[at + word.len()..].chars().next();
            !next.is_some_and(char::is_alphanumeric) && text[..*at].ends_with(' ')
        })
        .filter_map(|(at, _)| {
            let before = &text[..at - 1];
            let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            before[before.len() - digits..].parse().ok()
        })
        .collect()
}

/// A ticket file left by an earlier run is named as such, with the option
/// that restocks it; a missing one is said not to have existed; and one
/// ticket, one buyer are singular ("1 ticket", "1 buyer was").
#[test]
fn the_stock_says_where_it_came_from_and_counts_in_good_grammar() {
    assert_eq!(
        numbers_before("1 ticket, 11 tickets, 1 tickets", "tickets"),
        [11, 1]
    );
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let first = run(
        LESSON,
        &["--speed", "max", "--file", &file, "--tickets", "3"],
    );
    assert_eq!(first.code(), Some(0), "{}", first.output());
    assert!(first.stdout.contains("did not exist"), "{}", first.output());
    let again = run(LESSON, &["--speed", "max", "--file", &file]);
    assert_eq!(again.code(), Some(0), "{}", again.output());
    let stock = again.stdout.lines().find(|l| l.contains("earlier run"));
    assert!(
        stock.is_some_and(|l| l.contains(&file) && l.contains("--tickets")),
        "{}",
        again.output()
    );

    let one = dir.path("one.json");
    let run = run(
        LESSON,
        &[
            "--speed",
            "max",
            "--file",
            &one,
            "--tickets",
            "1",
            "--buyers",
            "1",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let out = &run.stdout;
    assert!(
        out.contains("1 ticket") && out.contains("1 buyer was"),
        "{}",
        run.output()
    );
    assert!(!numbers_before(out, "tickets").contains(&1), "{out}");
    assert!(!numbers_before(out, "buyers").contains(&1), "{out}");
}

/// The processes of `/proc/locks` waiting for the `flock` on the file of
/// inode `inode`, or `None` where there is no `/proc/locks`.
fn flock_waiters(inode: u64) -> Option<usize> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    Some(
        locks
            .lines()
            .filter(|line| {
                // "1: -> FLOCK  ADVISORY  WRITE 13488 fe:00:10150058 0 EOF"
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(1..3) == Some(&["->", "FLOCK"][..])
                    && fields
                        .get(6)
                        .and_then(|f| f.rsplit(':').next())
                        .and_then(|i| i.parse::<u64>().ok())
                        == Some(inode)
            })
            .count(),
    )
}

/// `--pause` holds the first buyer to get the lock before it lets go: it
/// still holds the lock while the other three queue for it, until Enter.
/// Then the sale ends and every ticket is accounted for.
#[test]
fn pause_holds_the_lock_while_the_others_wait() {
    use std::os::unix::fs::MetadataExt;
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let mut lesson = start_piped(
        LESSON,
        &[
            "--pause",
            "--speed",
            "20",
            "--buyers",
            "4",
            "--tickets",
            "2",
            "--file",
            &file,
        ],
    );
    let paused = lesson.wait_for("PAUSED", 1);
    assert!(lesson.running(), "{}", lesson.output());
    // "  0.159s   13489 buyer-4   PAUSED: buyer-4 still holds the lock; …"
    let fields: Vec<&str> = paused.split_whitespace().collect();
    let holder: i32 = fields
        .get(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {paused}"));
    let lock = format!("{file}.lock");
    if let Some(waiting) = std::fs::metadata(&lock)
        .ok()
        .and_then(|m| flock_waiters(m.ino()))
    {
        assert_eq!(lesson_testing::lock_holder(&lock), Some(holder), "{paused}");
        // The others are still looking (a sleep each), then block in flock.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut waiting = waiting;
        while waiting < 3 {
            assert!(
                Instant::now() < deadline && lesson.running(),
                "{waiting} waiting for the lock\n{}\n{}",
                std::fs::read_to_string("/proc/locks").unwrap_or_default(),
                lesson.output()
            );
            std::thread::sleep(Duration::from_millis(10));
            waiting = flock_waiters(std::fs::metadata(&lock).map_or(0, |m| m.ino())).unwrap_or(0);
        }
        assert_eq!(waiting, 3, "{}", lesson.output());
        assert_eq!(lesson_testing::lock_holder(&lock), Some(holder));
    } else {
        println!("no /proc/locks here: checked only that the lesson holds");
    }
    assert!(lesson.running(), "{}", lesson.output());
    lesson.enter();
    lesson.close_stdin();
    let status = lesson.finish();
    assert_eq!(status.code(), Some(0), "{}", lesson.output());
    assert!(
        lesson.lines().contains("Every ticket is accounted for"),
        "{}",
        lesson.output()
    );
}
