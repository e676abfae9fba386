//! Wraps what the walkthrough (`scripts/run_all.sh`) says to the width of
//! the terminal its standard output is, as the lessons wrap theirs: reads
//! standard input, and writes each line of it wrapped. Output that is no
//! terminal gets the lines as they are.
//!
//! `course-wrap` wraps prose; `course-wrap --command` takes commands, one a
//! line (a leading `$ ` is the prompt), and breaks each only as it pastes:
//! at a space between arguments, with a backslash at the end of each line
//! it goes on from.

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
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("course-wrap: reading standard input: {e}");
                std::process::exit(1);
            }
        };
        let lines = match width {
            None => vec![line],
            Some(width) if commands => {
                let (prompt, command) = line.split_at(if line.starts_with("$ ") { 2 } else { 0 });
                wrap::command(command, prompt, &" ".repeat(prompt.len() + 4), width)
            }
            Some(width) => wrap::wrap(&line, width),
        };
        for line in lines {
            // A closed pipe (`| head`) ends it quietly.
            if writeln!(out, "{line}").is_err() {
                return;
            }
        }
    }
    let _ = out.flush();
}
