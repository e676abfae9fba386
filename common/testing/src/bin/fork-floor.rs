//! The floor under every lesson's cost: fork N children that exit at once,
//! then reap them all, and print how long that took. `scripts/bench.sh`
//! compares the lessons against it.
#![allow(unsafe_code)] // fork and _exit, bare, is what is being measured

use std::process::ExitCode;
use std::time::Instant;

use nix::libc;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() -> ExitCode {
    let usage =
        "usage: fork-floor N   (fork N children that exit at once, reap them, print the time)";
    let Some(n) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let began = Instant::now();
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        // SAFETY: single-threaded; the child does nothing but _exit.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => unsafe { libc::_exit(0) },
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(e) => {
                eprintln!("fork-floor: fork: {e}");
                break;
            }
        }
    }
    for child in &children {
        if let Err(e) = waitpid(*child, None) {
            eprintln!("fork-floor: waitpid {child}: {e}");
        }
    }
    let ms = began.elapsed().as_secs_f64() * 1e3;
    println!(
        "{} children forked, exited and reaped in {ms:.1} ms",
        children.len()
    );
    if children.len() == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
