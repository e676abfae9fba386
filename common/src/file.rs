//! A small file shared by processes: read whole without ever blocking on
//! what is not a regular file, and replaced whole (a reader sees the old
//! file or the new one, never half of one), keeping its mode and owner.

use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::libc;

use crate::error::{Context, Result, anyhow};
use crate::signals;

/// A ticket file is a line of JSON.
const MAX_SIZE: u64 = 1 << 20;

/// `--fsync`, for this process and the children it starts.
static DURABLE: AtomicBool = AtomicBool::new(false);

pub(crate) fn durable(on: bool) {
    DURABLE.store(on, Ordering::SeqCst);
}

pub(crate) fn read_small(path: &Path) -> Result<Vec<u8>> {
    let name = path.display();
    let cannot = |e: io::Error| anyhow!(tr!("{}: cannot read it: {}", name, describe(&e)));
    let (file, meta) =
        open_checked(path, OpenOptions::new().read(true), Follow::Links).map_err(cannot)?;
    regular(&meta, &name.to_string())?;
    if meta.len() > MAX_SIZE {
        return Err(anyhow!(tr!(
            "{}: it holds {} bytes, too many for a ticket file (at most {})",
            name,
            meta.len(),
            MAX_SIZE
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

#[derive(Debug, Clone, Copy)]
#[repr(i32)]
pub(crate) enum Follow {
    Links = 0,
    /// A link is refused (`ELOOP`), never followed to make or lock its target.
    Not = libc::O_NOFOLLOW,
}

/// Opens `path` with `O_NONBLOCK` (a FIFO put in its place is refused at
/// once, not waited on for a writer or a reader) and `O_NOCTTY` (a terminal
/// does not become ours), then `fstat`s what it opened: see [`regular`].
pub(crate) fn open_checked(
    path: &Path,
    options: &mut OpenOptions,
    follow: Follow,
) -> io::Result<(File, Metadata)> {
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY | follow as i32;
    let file = options.custom_flags(flags).open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// "WHAT: it is a FIFO (a named pipe), not a regular file".
pub(crate) fn regular(meta: &Metadata, what: &str) -> Result<()> {
    match meta.is_file() {
        true => Ok(()),
        false => Err(anyhow!(tr!("{}: {}, not a regular file", what, kind(meta)))),
    }
}

pub(crate) fn kind(meta: &Metadata) -> String {
    let t = meta.file_type();
    match () {
        _ if t.is_dir() => tr!("it is a directory"),
        _ if t.is_fifo() => tr!("it is a FIFO (a named pipe)"),
        _ if t.is_char_device() || t.is_block_device() => tr!("it is a device"),
        _ if t.is_socket() => tr!("it is a socket"),
        _ => tr!("it is not a file"),
    }
}

fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EISDIR) => tr!("it is a directory"),
        Some(libc::EMFILE | libc::ENFILE) => tr!("too many open files"),
        Some(libc::ENXIO) => tr!("it is a socket, or a device with nothing behind it"),
        _ => e.kind().to_string().to_lowercase(),
    }
}

/// Replaces the file `path` with `bytes`, written to a new file beside it
/// that `rename` then puts in its place in one step. SIGINT and SIGTERM are
/// held back meanwhile, so that a process stopped by one leaves no half-made
/// file: it dies just after, the file replaced.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let old_mask = signals::hold_back()?;
    let done = write_and_rename(path, bytes);
    signals::restore(&old_mask);
    done.context(tr!("writing {}", path.display()))
}

fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, old) = (directory(path), fs::metadata(path).ok());
    let prefix = format!("{}{}.", temporary_prefix(path), std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(RANDOM).suffix(TEMPORARY);
    if old.is_none() {
        // Not the temporary file's private 0600: the mode any new file gets
        // (0666 less the umask).
        builder.permissions(Permissions::from_mode(0o666));
    }
    let mut new = builder.tempfile_in(&dir)?;
    // Held until this process closes it or dies: see `sweep`.
    flock(new.as_file(), libc::LOCK_EX)?;
    if let Some(old) = old {
        // Only root may give a file away; anyone else keeps it as theirs.
        let _ = std::os::unix::fs::fchown(new.as_file(), Some(old.uid()), Some(old.gid()));
        new.as_file().set_permissions(old.permissions())?;
    }
    new.write_all(bytes)?;
    let durable = DURABLE.load(Ordering::SeqCst);
    if durable {
        new.as_file().sync_all()?;
    }
    new.persist(path).map_err(|e| e.error)?;
    if durable {
        File::open(&dir)?.sync_all()?;
    }
    Ok(())
}

/// Removes the new versions of `path` that writers killed mid-write
/// (SIGKILL cannot be held back) left behind: named as [`replace`] names
/// them, that nobody holds an `flock` on any more, and whose writer is gone
/// or that are over a second old (a writer of another run, between making
/// one and locking it).
pub(crate) fn sweep(path: &Path) {
    let prefix = temporary_prefix(path);
    let writer = |name: &str| {
        let name = name.strip_prefix(&prefix)?.strip_suffix(TEMPORARY)?;
        let (pid, random) = name.split_once('.')?;
        let ours = random.len() == RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric());
        ours.then(|| pid.parse::<i32>().ok())?
    };
    remove_dead(&directory(path), |name, file| {
        let Some(pid) = writer(name) else {
            return false;
        };
        let gone = crate::system::process(pid).is_none_or(|p| p.is_zombie());
        open_checked(file, OpenOptions::new().read(true), Follow::Not)
            .and_then(|(f, meta)| {
                flock(&f, libc::LOCK_EX | libc::LOCK_NB)?;
                let age = meta.modified().ok().and_then(|t| t.elapsed().ok());
                Ok(meta.is_file() && (gone || age > Some(Duration::from_secs(1))))
            })
            .unwrap_or(false)
    });
}

/// Removes what dead runs left in `dir`: each entry that `left` takes for a
/// leftover, given its name and its path. A directory goes with all it holds.
pub(crate) fn remove_dead(dir: &Path, left: impl Fn(&str, &Path) -> bool) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if left(&entry.file_name().to_string_lossy(), &entry.path()) {
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(entry.path()),
                _ => fs::remove_file(entry.path()),
            };
        }
    }
}

/// `flock(fd, operation)`, again when a signal cuts it.
pub(crate) fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: flock takes any descriptor; this one is open.
    while unsafe { libc::flock(file.as_raw_fd(), operation) } != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

pub(crate) fn directory(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    parent.unwrap_or(Path::new(".")).to_owned()
}

/// The new versions of `path` are named `.ticket.json.PID.RANDOM` and
/// [`TEMPORARY`], with the writer's pid and [`RANDOM`] letters and digits:
/// a name nobody can guess, and that nobody else is likely to use.
const RANDOM: usize = 8;
const TEMPORARY: &str = ".lesson-tmp";

fn temporary_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or("file".as_ref());
    format!(".{}.", name.to_string_lossy())
}
