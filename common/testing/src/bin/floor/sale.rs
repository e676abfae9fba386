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
//! With `--same-calls`, the parent asks how SIGCHLD is taken before each
//! fork, and each buyer also makes the system calls a lesson's buyer makes
//! for what the lessons guarantee, where it makes them: it names itself,
//! ignores SIGXFSZ, asks for its parent's death signal and checks its
//! parent; `fstat`s each file it opens, and refuses to follow a link to the
//! lock file; holds the stop signals back around the replacement; locks the
//! new file and gives it the old one's owner, mode and extended attributes.
//! Only the lesson's `close`s are left to `_exit`, which does the same
//! work. What a lesson costs beyond this floor is its code's, not its
//! guarantees' kernel work.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

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
        if same_calls {
            sigchld_disposition();
        }
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
    lessons_calls_under: Option<u32>,
) -> ! {
    // Every file stays open until _exit closes it: no close(2).
    let mut open = Vec::new();
    let status = match buy(out, who, file, lock, &new, &mut open, lessons_calls_under) {
        Ok(true) => 0,
        Ok(false) => SOLD_OUT,
        Err(_) => 1,
    };
    exit_now(status)
}

/// `sigaction(SIGCHLD, NULL, &old)`: a lesson asks before each fork how it
/// takes SIGCHLD, to hold the signals back around it where a handler could
/// reap the newborn before it is listed.
fn sigchld_disposition() {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: with no new action, sigaction only writes the current one.
    unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), old.as_mut_ptr()) };
}

/// One buyer's sale; with `lessons_calls_under` (its parent's pid), also
/// the calls a lesson's buyer adds, where it makes them.
fn buy(
    out: &Out,
    who: &str,
    file: &Path,
    lock: Option<&Path>,
    new: &Path,
    open: &mut Vec<File>,
    lessons_calls_under: Option<u32>,
) -> io::Result<bool> {
    let checked = lessons_calls_under.is_some();
    if let Some(parent) = lessons_calls_under {
        born_as_a_lessons_child(who, parent)?;
    }
    out.record(who, "sleep", "\"seconds\":1")?;
    let seen = count(open_in(open, open_as_read(file, checked)?))?;
    out.record(who, "search", &format!("\"count\":{seen}"))?;
    out.line(who, &format!("sees {seen} tickets left"))?;
    if let Some(lock) = lock {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let lock = open_checked(&mut options, lock, checked, libc::O_NOFOLLOW)?;
        flock(open_in(open, lock), libc::LOCK_EX)?;
    }
    let count = count(open_in(open, open_as_read(file, checked)?))?;
    let bought = if count == 0 {
        out.record(who, "sold_out", "")?;
        out.line(who, "finds them sold out")?;
        false
    } else {
        out.record(who, "sleep", "\"seconds\":2")?;
        let (written, held) = match checked {
            false => (replace(file, new, count - 1)?, None),
            true => {
                // The stop signals held back until the sale is recorded.
                let held = hold_back_stop_signals()?;
                let old = open
                    .last()
                    .ok_or_else(|| io::Error::other("nothing read"))?;
                let written = replace_as_a_lesson(file, old, new, count - 1)?;
                // A lesson's `bought` record, made while the signals are
                // held, asks the kernel for its parent (`getppid`).
                let _ = std::os::unix::process::parent_id();
                (written, Some(held))
            }
        };
        open.push(written);
        out.record(who, "bought", &format!("\"left\":{}", count - 1))?;
        if let Some(old_mask) = held {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None)?;
        }
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

/// A lesson's child as it starts: `prctl(PR_SET_NAME)`, SIGXFSZ ignored,
/// `prctl(PR_SET_PDEATHSIG)` and the `getppid` that checks it.
fn born_as_a_lessons_child(who: &str, parent: u32) -> io::Result<()> {
    let name = std::ffi::CString::new(who).map_err(io::Error::other)?;
    // SAFETY: system calls with arguments that live through each call.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    match std::os::unix::process::parent_id() == parent {
        true => Ok(()),
        false => Err(io::Error::other("orphaned at birth")),
    }
}

/// `open` for reading, checked as `open_checked` says.
fn open_as_read(path: &Path, checked: bool) -> io::Result<File> {
    open_checked(OpenOptions::new().read(true), path, checked, 0)
}

/// `open`; `checked`, as the lessons open a file to refuse a FIFO: with
/// `O_NONBLOCK`, `O_NOCTTY` and `flags`, then `fstat`.
fn open_checked(
    options: &mut OpenOptions,
    path: &Path,
    checked: bool,
    flags: i32,
) -> io::Result<File> {
    if !checked {
        return options.open(path);
    }
    let file = options
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)?;
    file.metadata()?;
    Ok(file)
}

/// `rt_sigprocmask`: the stop signals held back; returns the mask before.
fn hold_back_stop_signals() -> io::Result<SigSet> {
    let held: SigSet = [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ]
    .into_iter()
    .collect();
    let mut old_mask = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut old_mask))?;
    Ok(old_mask)
}

/// [`replace`] as a lesson's sale makes it: `statx` of `file` and
/// `flistxattr` of `old`, the version read; the new file made 0600 and
/// `flock`ed, given the old one's owner (`fchown`) and mode (`fchmod`), its
/// own attributes listed; then written and renamed.
fn replace_as_a_lesson(file: &Path, old: &File, new: &Path, count: u64) -> io::Result<File> {
    let meta = fs::metadata(file)?;
    let mut names = [0 as libc::c_char; 256];
    // SAFETY: flistxattr into a buffer of the length it is given.
    unsafe { libc::flistxattr(old.as_raw_fd(), names.as_mut_ptr(), names.len()) };
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
    written.write_all(format!("{{\"count\":{count}}}\n").as_bytes())?;
    fs::rename(new, file)?;
    Ok(written)
}
