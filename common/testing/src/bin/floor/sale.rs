//! The floor of ticket-locked, and with `--no-lock` of ticket-unsafe, in
//! the directory of their ticket.json. Per buyer: the parent forks it,
//! writes its `spawn` record, reaps it (`wait4`) and writes its `join`
//! record. The buyer writes a `sleep` record; looks (`open`, `read`),
//! writes a `search` record and a line; [`open`s the lock file and `flock`s
//! it]; reads again (`open`, `read`); if a ticket is left, writes a `sleep`
//! record, the count less one to a new file (`open`, `write`) and `rename`s
//! it over ticket.json, then a `bought` record and a line, else a
//! `sold_out` record and a line; [unlocks]; `_exit`s. A buyer who bought
//! costs 18 system calls, the parent's 4 included, 21 with the lock; one
//! who found them sold out 14, 17. Once per run: the scratch directory
//! and the trace, the `begin` (and `lock`) record, the stock (read the old
//! file, write a new one, `rename`), the `sale` and `summary` records, the
//! reckoning's read and the lines around the sale.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use nix::libc;
use nix::sys::wait::{WaitStatus, waitpid};

use crate::bare::{Out, exit_now, flock, fork};

/// The exit status of a buyer who found the tickets sold out, as the lessons'.
const SOLD_OUT: i32 = 3;

pub fn run(dir: &Path, buyers: usize, tickets: u64, locked: bool) -> io::Result<bool> {
    let out = Out::new()?;
    let lesson = if locked {
        "ticket-locked"
    } else {
        "ticket-unsafe"
    };
    out.record("main", "begin", &format!("\"lesson\":\"{lesson} floor\""))?;
    let file = dir.join("ticket.json");
    let lock = dir.join("ticket.json.lock");
    if locked {
        out.record("main", "lock", &format!("\"path\":{lock:?}"))?;
    }
    let pid = std::process::id();
    out.line(
        "main",
        &format!("{lesson} floor starts: pid {pid}, {buyers} buyers"),
    )?;
    // The stock is written as every sale is: a new file renamed over the old.
    let _ = File::open(&file).and_then(|mut f| f.read(&mut [0; 256]));
    replace(&file, &temporary(dir, 0), tickets)?;
    out.line(
        "main",
        &format!("{}: put {tickets} tickets in it", file.display()),
    )?;
    out.record(
        "main",
        "sale",
        &format!("\"run\":1,\"initial\":{tickets},\"buyers\":{buyers}"),
    )?;
    let mut children = Vec::with_capacity(buyers);
    for i in 1..=buyers {
        let who = format!("buyer-{i}");
        match fork()? {
            None => buyer(
                &out,
                &who,
                &file,
                locked.then_some(lock.as_path()),
                temporary(dir, i),
            ),
            Some(child) => {
                children.push(child);
                out.record(
                    "main",
                    "spawn",
                    &format!("\"of\":{child},\"name\":\"{who}\""),
                )?;
            }
        }
    }
    let (mut bought, mut sold_out, mut failed) = (0, 0, 0);
    for child in children {
        match waitpid(child, None)? {
            WaitStatus::Exited(_, 0) => bought += 1,
            WaitStatus::Exited(_, SOLD_OUT) => sold_out += 1,
            _ => failed += 1,
        }
        out.record("main", "join", &format!("\"of\":{child}"))?;
    }
    let left = File::open(&file).and_then(|mut f| count(&mut f))?;
    let fields = format!(
        "\"initial\":{tickets},\"left\":{left},\"bought\":{bought},\"sold_out\":{sold_out},\"errors\":{failed}"
    );
    out.record("main", "summary", &fields)?;
    out.plain("")?;
    out.plain(&format!(
        "Reckoning: {tickets} tickets at the start, the file says {left} left; {bought} buyers were told \
         \"bought\", {sold_out} \"sold out\", {failed} failed."
    ))?;
    out.finish()?;
    Ok(failed == 0)
}

/// A name for the new file of buyer `i` (0: the stock), unique to this run.
fn temporary(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!(".ticket.json.floor-{}-{i}.tmp", std::process::id()))
}

/// `open` a new file, `write` the count to it, `rename` it over `file`.
fn replace(file: &Path, new: &Path, count: u64) -> io::Result<File> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(new)?;
    f.write_all(format!("{{\"count\":{count}}}\n").as_bytes())?;
    fs::rename(new, file)?;
    Ok(f)
}

/// The count in a ticket file, from one `read`.
fn count(file: &mut File) -> io::Result<u64> {
    let mut buf = [0; 256];
    let n = file.read(&mut buf)?;
    let digits: String = buf[..n]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    digits
        .parse()
        .map_err(|_| io::Error::other("no count in the ticket file"))
}

fn buyer(out: &Out, who: &str, file: &Path, lock: Option<&Path>, new: PathBuf) -> ! {
    // Every file stays open until _exit closes it: no close(2).
    let mut open = Vec::new();
    let status = match buy(out, who, file, lock, &new, &mut open) {
        Ok(true) => 0,
        Ok(false) => SOLD_OUT,
        Err(_) => 1,
    };
    exit_now(status)
}

fn buy(
    out: &Out,
    who: &str,
    file: &Path,
    lock: Option<&Path>,
    new: &Path,
    open: &mut Vec<File>,
) -> io::Result<bool> {
    out.record(who, "sleep", "\"seconds\":1")?;
    let seen = count(open_in(open, File::open(file)?))?;
    out.record(who, "search", &format!("\"count\":{seen}"))?;
    out.line(who, &format!("sees {seen} tickets left"))?;
    if let Some(lock) = lock {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock)?;
        flock(open_in(open, lock), libc::LOCK_EX)?;
    }
    let count = count(open_in(open, File::open(file)?))?;
    let bought = if count == 0 {
        out.record(who, "sold_out", "")?;
        out.line(who, "finds them sold out")?;
        false
    } else {
        out.record(who, "sleep", "\"seconds\":2")?;
        let written = replace(file, new, count - 1)?;
        open.push(written);
        out.record(who, "bought", &format!("\"left\":{}", count - 1))?;
        out.line(who, &format!("bought a ticket; {} left", count - 1))?;
        true
    };
    if lock.is_some() {
        flock(&open[1], libc::LOCK_UN)?;
    }
    Ok(bought)
}

/// Keeps `file` open in `open`, and lends it back.
fn open_in(open: &mut Vec<File>, file: File) -> &mut File {
    open.push(file);
    let last = open.len() - 1;
    &mut open[last]
}
