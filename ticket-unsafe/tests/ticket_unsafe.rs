//! Without a lock, tickets are oversold, and not by luck.

use lesson_testing::{Scratch, check_usage, run};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-unsafe");

/// Every buyer reads the count at 1, 2 or 3 time units (its `search`
/// sleep) and writes it back 1 to 3 units later, so no write lands before
/// unit 2 and every read is over by unit 3. A reader at unit 3 can follow at
/// most two writes made one after the other (read at 1 and written at 2,
/// then read at 2 and written at 3): it sees 1 ticket at least. Selling out
/// would take a third write before the last read, at unit 4 or later: never.
/// So all six buy, whatever the draws. A unit is 100 ms at speed 10, far
/// more than any scheduling delay.
#[test]
fn six_buyers_for_three_tickets_all_buy() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let run = run(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "3",
            "--buyers",
            "6",
            "--speed",
            "10",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let summary = &run.events("summary").next().expect("a summary").fields;
    assert_eq!(summary["initial"], 3);
    assert_eq!(summary["bought"], 6, "{}", run.output());
    assert_eq!(run.events("bought").count(), 6);
    assert!(
        run.events("search")
            .all(|r| r.fields["count"].as_u64() >= Some(1))
    );
    assert!(
        run.stdout
            .contains("OVERSOLD: 6 buyers hold a ticket, but only 3 existed"),
        "{}",
        run.output()
    );
}

#[test]
fn a_broken_file_is_refused_and_kept() {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", "{\"count\": \"three\"}");
    let run = run(LESSON, &["--file", &file, "--speed", "max"]);
    assert_eq!(run.code(), Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
    assert!(
        run.stderr.contains(&file) && run.stderr.contains("not a whole number"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "{\"count\": \"three\"}"
    );
}

#[test]
fn usage() {
    check_usage(
        LESSON,
        env!("CARGO_PKG_DESCRIPTION"),
        &[
            &["--buyers", "0"],
            &["--buyers", "many"],
            &["--tickets", "-1"],
            &["--runs", "0"],
        ],
    );
}

/// Each ticket lesson writes the file with its own code: this one too keeps
/// the file's other fields, where they were.
#[test]
fn other_fields_of_the_file_survive_where_they_were() {
    let dir = Scratch::new();
    let file = dir.write(
        "ticket.json",
        r#"{"event": "concert", "count": 2, "seats": ["A1", "A2"]}"#,
    );
    let run = run(
        LESSON,
        &["--file", &file, "--buyers", "1", "--speed", "max"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let after = std::fs::read_to_string(&file).expect("read");
    // Byte for byte, its spaces too: only the count's text changes.
    assert_eq!(
        after,
        r#"{"event": "concert", "count": 1, "seats": ["A1", "A2"]}"#
    );
}
