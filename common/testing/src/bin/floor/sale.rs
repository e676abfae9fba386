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
//!
//! With `--same-calls`, each buyer also makes the system calls a lesson's
//! buyer makes for what the lessons guarantee, in the lesson's order (see
//! [`buy_with_the_lessons_calls`]): it names itself, ignores SIGXFSZ, asks
//! for its parent's death signal and checks its parent; `fstat`s each file
//! it opens, refuses to follow a link to the lock file; holds the stop
//! signals back around the replacement; locks the new file and gives it
//! the old one's owner, mode and extended attributes; and closes what a
//! lesson's buyer closes. What a lesson costs beyond this floor is its code's, not its
//! guarantees' kernel work.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};

use crate::bare::{Out, exit_now, flock, fork};

/// The exit status of a buyer who found the tickets sold out, as the lessons'.
const SOLD_OUT: i32 = 3;

pub fn run(
    dir: &Path,
    buyers: usize,
    tickets: u64,
    locked: bool,
    same_calls: bool,
) -> io::Result<bool> {
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
                same_calls.then_some(pid),
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

fn buyer(
    out: &Out,
    who: &str,
    file: &Path,
    lock: Option<&Path>,
    new: PathBuf,
    same_calls_under: Option<u32>,
) -> ! {
    // Every file stays open until _exit closes it: no close(2) (with
    // --same-calls, those a lesson's buyer closes are closed).
    let mut open = Vec::new();
    let bought = match same_calls_under {
        Some(parent) => buy_with_the_lessons_calls(out, who, file, lock, &new, parent),
        None => buy(out, who, file, lock, &new, &mut open),
    };
    let status = match bought {
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

/// [`buy`], with the system calls a lesson's buyer adds to it, in its order.
fn buy_with_the_lessons_calls(
    out: &Out,
    who: &str,
    file: &Path,
    lock: Option<&Path>,
    new: &Path,
    parent: u32,
) -> io::Result<bool> {
    // Born: prctl(PR_SET_NAME), SIGXFSZ ignored, prctl(PR_SET_PDEATHSIG),
    // getppid; then getpid for the first record.
    let name = std::ffi::CString::new(who).map_err(io::Error::other)?;
    // SAFETY: system calls with arguments that live through each call.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    if std::os::unix::process::parent_id() != parent {
        return Err(io::Error::other("orphaned at birth"));
    }
    out.record(who, "sleep", "\"seconds\":1")?;
    // Each file opened is fstat'ed, as the lessons do to refuse a FIFO.
    let open_checked = |path: &Path, options: &mut OpenOptions, flags: i32| {
        let file = options
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
            .open(path)?;
        let _ = file.metadata()?;
        Ok::<File, io::Error>(file)
    };
    let mut seen_in = open_checked(file, OpenOptions::new().read(true), 0)?;
    let seen = count(&mut seen_in)?;
    out.record(who, "search", &format!("\"count\":{seen}"))?;
    out.line(who, &format!("sees {seen} tickets left"))?;
    let lock = match lock {
        Some(lock) => {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            let lock = open_checked(lock, &mut options, libc::O_NOFOLLOW)?;
            flock(&lock, libc::LOCK_EX)?;
            Some(lock)
        }
        None => None,
    };
    let mut read = open_checked(file, OpenOptions::new().read(true), 0)?;
    let count = count(&mut read)?;
    drop(seen_in);
    let bought = if count == 0 {
        out.record(who, "sold_out", "")?;
        out.line(who, "finds them sold out")?;
        // Left for _exit to close, as a lesson's buyer leaves it.
        std::mem::forget(read);
        false
    } else {
        out.record(who, "sleep", "\"seconds\":2")?;
        // The stop signals held back until the sale is recorded.
        let mut held = SigSet::empty();
        for signal in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            held.add(signal);
        }
        let mut old_mask = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut old_mask))?;
        let meta = fs::metadata(file)?;
        let mut names = [0 as libc::c_char; 256];
        // SAFETY: flistxattr into a buffer of the length it is given.
        unsafe { libc::flistxattr(read.as_raw_fd(), names.as_mut_ptr(), names.len()) };
        drop(read);
        let mut written = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(new)?;
        flock(&written, libc::LOCK_EX)?;
        let _ = std::os::unix::fs::fchown(&written, Some(meta.uid()), Some(meta.gid()));
        written.set_permissions(meta.permissions())?;
        // SAFETY: as above.
        unsafe { libc::flistxattr(written.as_raw_fd(), names.as_mut_ptr(), names.len()) };
        written.write_all(format!("{{\"count\":{}}}\n", count - 1).as_bytes())?;
        fs::rename(new, file)?;
        drop(written);
        let _ = std::os::unix::process::parent_id();
        out.record(who, "bought", &format!("\"left\":{}", count - 1))?;
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None)?;
        out.line(who, &format!("bought a ticket; {} left", count - 1))?;
        true
    };
    if let Some(lock) = lock {
        flock(&lock, libc::LOCK_UN)?;
    }
    Ok(bought)
}
