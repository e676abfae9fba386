//! Under `--pause`, the unlocked office holds its first write-back: a buyer
//! with a count in hand that it read before its network delay, about to
//! write it over whatever the file says now.

use lesson_testing::{Scratch, run};

const LESSON: &str = env!("CARGO_BIN_EXE_ticket-unsafe");

#[test]
fn pause_holds_the_first_write_back_with_its_stale_count() {
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    // Standard input closed: the pause holds, and goes on at its end.
    let run = run(
        LESSON,
        &[
            "--file",
            &file,
            "--tickets",
            "3",
            "--speed",
            "20",
            "--pause",
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let paused: Vec<_> = run.events("pause").collect();
    assert_eq!(paused.len(), 1, "{}", run.output());
    assert_eq!(paused[0].fields["step"], "write");
    let who = &paused[0].who;
    assert!(who.starts_with("buyer-"), "{}", run.output());
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("PAUSED:"))
        .unwrap_or_else(|| panic!("{}", run.output()));
    // What it was about to write is what it wrote, and what it then said.
    let about = line
        .split_once(&format!("{who} is about to write back {{\"count\":"))
        .and_then(|(_, rest)| rest.split_once('}'))
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.contains("the file says {\"count\":"), "{line}");
    let bought = run
        .by(who)
        .find(|r| r.event == "bought")
        .unwrap_or_else(|| panic!("{who} bought nothing\n{}", run.output()));
    assert_eq!(bought.fields["left"].as_u64(), Some(about), "{line}");
    assert!(
        run.stdout
            .contains(&format!("look from another terminal: cat {file}")),
        "{}",
        run.output()
    );
}
