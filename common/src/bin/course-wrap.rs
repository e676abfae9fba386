//! Wraps what the walkthrough (`scripts/run_all.sh`) says, read on standard
//! input, as the lessons wrap theirs: to the width of the terminal standard
//! output is, if it is one. `--command` takes commands, one a line (a leading
//! `$ ` is the prompt), and breaks each only as it pastes.

use std::io::{BufRead, Write};

use common::wrap;

fn main() {
    let commands = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--command") => true,
        Some(other) => {
            eprintln!("course-wrap: unknown argument '{other}' (usage: course-wrap [--command])");
            std::process::exit(2);
        }
    };
    let width = wrap::terminal_width();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap_or_else(|e| {
            eprintln!("course-wrap: reading standard input: {e}");
            std::process::exit(1)
        });
        let prompt = if line.starts_with("$ ") { 2 } else { 0 };
        let rest = " ".repeat(prompt + 4);
        let lines = match width {
            None => vec![line],
            Some(w) if commands => wrap::command(&line[prompt..], &line[..prompt], &rest, w),
            Some(w) => wrap::wrap(&line, w),
        };
        // A closed pipe (`| head`) ends it quietly.
        if lines.iter().any(|l| writeln!(out, "{l}").is_err()) {
            return;
        }
    }
    let _ = out.flush();
}
