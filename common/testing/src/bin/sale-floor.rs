//! The floor under a locked sale: the same system calls as `ticket-locked`,
//! and nothing else. N children each `open` the lock file, `flock` it, read
//! ticket.json, write the count less one to a new file, `rename` it over
//! ticket.json, and `_exit`; the parent waits for them all. No trace, no
//! output, no checks: what the lesson costs beyond this is its own.
#![allow(unsafe_code)] // fork and _exit, bare, is what is being measured

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use nix::libc;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() -> ExitCode {
    let usage =
        "usage: sale-floor DIR BUYERS TICKETS   (a locked sale in DIR, bare; prints the time)";
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(buyers), Some(tickets)) = (
        args.get(1),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
        args.get(3).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    if let Err(e) = fs::write(
        dir.join("ticket.json"),
        format!("{{\"count\":{tickets}}}\n"),
    ) {
        eprintln!("sale-floor: {e}");
        return ExitCode::FAILURE;
    }
    let began = Instant::now();
    let mut children = Vec::with_capacity(buyers);
    for _ in 0..buyers {
        // SAFETY: single-threaded; the child only makes system calls, then _exit.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let status = if buy(dir).is_ok() { 0 } else { 1 };
                // SAFETY: ends the child at once.
                unsafe { libc::_exit(status) }
            }
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(e) => {
                eprintln!("sale-floor: fork: {e}");
                break;
            }
        }
    }
    for child in &children {
        let _ = waitpid(*child, None);
    }
    let ms = began.elapsed().as_secs_f64() * 1e3;
    println!("{} buyers in {ms:.1} ms", children.len());
    ExitCode::SUCCESS
}

fn buy(dir: &Path) -> std::io::Result<()> {
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("ticket.json.lock"))?;
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut text = String::new();
    File::open(dir.join("ticket.json"))?.read_to_string(&mut text)?;
    let count: u64 = text
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    if count > 0 {
        let new = dir.join(format!(".ticket.json.{}.tmp", std::process::id()));
        File::create(&new)?.write_all(format!("{{\"count\":{}}}\n", count - 1).as_bytes())?;
        fs::rename(&new, dir.join("ticket.json"))?;
    }
    Ok(())
}
