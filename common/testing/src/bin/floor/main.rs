//! The floors under the lessons' costs. Each is a bare program making the
//! system calls a lesson's work needs, and no more: the forks, the lock's
//! `open`, `flock` and unlock, one `write` per line printed and per trace
//! record, the sale's reads, writes and `rename`, and the waits. What a
//! lesson costs beyond its floor is its own. `scripts/bench.sh` runs each
//! lesson and its floor in turn, and says how far apart they are.
//!
//! ```text
//! floor printer [--lock] N              printer-v1 (printer-v3 with --lock), N workers
//! floor flood N                         zombie --flood N --cpu-ms 0
//! floor sale [--no-lock] [--same-calls] DIR N TICKETS
//!                                       ticket-locked (ticket-unsafe with --no-lock);
//!                                       --same-calls: with the calls the lessons'
//!                                       guarantees add (see sale.rs)
//! ```
#![allow(unsafe_code)] // fork, _exit, flock and a signal handler, bare, are what is measured

// The benchmark measures Linux's system calls (the zombie's floor uses
// its prctl and setgroups): elsewhere there is no floor to run.
#[cfg(target_os = "linux")]
mod bare;
#[cfg(target_os = "linux")]
mod flood;
#[cfg(target_os = "linux")]
mod printer;
#[cfg(target_os = "linux")]
mod sale;

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("floor: the benchmark's floors run on Linux only");
    std::process::ExitCode::from(2)
}

#[cfg(target_os = "linux")]
use std::path::Path;
#[cfg(target_os = "linux")]
use std::process::ExitCode;

#[cfg(target_os = "linux")]
const USAGE: &str = "usage: floor printer [--lock] N | floor flood N | floor sale [--no-lock] [--same-calls] DIR N TICKETS";

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let number = |a: &str| a.parse::<usize>().ok().filter(|&n| n > 0);
    let ran = match args.as_slice() {
        ["printer", n] => number(n).map(|n| printer::run(n, false)),
        ["printer", "--lock", n] => number(n).map(|n| printer::run(n, true)),
        ["flood", n] => number(n).map(flood::run),
        ["sale", flags @ .., dir, n, tickets]
            if !dir.starts_with('-')
                && flags
                    .iter()
                    .all(|f| ["--no-lock", "--same-calls"].contains(f)) =>
        {
            let locked = !flags.contains(&"--no-lock");
            let same_calls = flags.contains(&"--same-calls");
            number(n)
                .zip(tickets.parse().ok())
                .map(|(n, t)| sale::run(Path::new(dir), n, t, locked, same_calls))
        }
        _ => None,
    };
    match ran {
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Some(Ok(true)) => ExitCode::SUCCESS,
        Some(Ok(false)) => {
            eprintln!("floor: a child failed");
            ExitCode::FAILURE
        }
        Some(Err(e)) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}
