//! The robust parts of a small file shared by processes: reading it whole
//! without ever blocking on what is not a regular file, and replacing it
//! whole, so that a reader sees the old file or the new one, never half of
//! one, with the old file's mode and owner.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use nix::libc;

use crate::error::anyhow;
use crate::error::{Context, Result};
use crate::signals;

/// The largest file [`read_small`] reads: a ticket file is a line of JSON.
pub(crate) const MAX_SIZE: u64 = 1 << 20;

/// Whether [`replace`] makes each write durable against a power cut.
static DURABLE: AtomicBool = AtomicBool::new(false);

/// From now on, in this process and the children it starts, [`replace`]
/// also `fsync`s the new file and its directory (`--fsync`).
pub(crate) fn durable(on: bool) {
    DURABLE.store(on, Ordering::SeqCst);
}

/// Reads the small regular file `path` whole; the error names the file and
/// says what is wrong.
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

/// Whether [`open_checked`] follows a symbolic link to its target.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Follow {
    Links,
    /// `O_NOFOLLOW`: a link is refused (`ELOOP`), never followed to make
    /// or lock its target.
    Not,
}

/// Opens `path` as `options` say, with `O_NONBLOCK` (a FIFO put in its
/// place is refused at once, not waited on for a writer or a reader) and
/// `O_NOCTTY` (a terminal does not become ours), then `fstat`s what it
/// opened: see [`regular`].
pub(crate) fn open_checked(
    path: &Path,
    options: &mut OpenOptions,
    follow: Follow,
) -> io::Result<(File, Metadata)> {
    let nofollow = match follow {
        Follow::Links => 0,
        Follow::Not => libc::O_NOFOLLOW,
    };
    let file = options
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | nofollow)
        .open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// Refuses what is not a regular file: "WHAT: it is a FIFO (a named pipe),
/// not a regular file".
pub(crate) fn regular(meta: &Metadata, what: &str) -> Result<()> {
    match meta.is_file() {
        true => Ok(()),
        false => Err(anyhow!(tr!("{}: {}, not a regular file", what, kind(meta)))),
    }
}

/// "it is a FIFO", for a file that is not a regular one.
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

/// Replaces the file `path` with `bytes`: they are written to a new file
/// beside it, with a name nobody can guess and the old file's mode and
/// owner, which `rename` then puts in its place in one step.
///
/// SIGINT and SIGTERM are held back meanwhile, so that a process stopped
/// by one leaves no half-made file: it dies just after, the file replaced.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let old_mask = signals::hold_back()?;
    let done = write_and_rename(path, bytes);
    signals::restore(&old_mask);
    done.context(tr!("writing {}", path.display()))
}

fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let durable = DURABLE.load(Ordering::SeqCst);
    let dir = directory(path);
    let mut new = tempfile::Builder::new()
        .prefix(&format!(
            "{}{}.",
            temporary_prefix(path),
            std::process::id()
        ))
        .rand_bytes(RANDOM)
        .suffix(TEMPORARY)
        .tempfile_in(&dir)?;
    // Held until this process closes it or dies: see `sweep`.
    flock(new.as_file(), libc::LOCK_EX)?;
    match fs::metadata(path) {
        Ok(old) => {
            // Only root may give a file away; anyone else keeps it as theirs.
            let _ = std::os::unix::fs::fchown(new.as_file(), Some(old.uid()), Some(old.gid()));
            new.as_file().set_permissions(old.permissions())?;
        }
        // A new file gets the mode any new file gets (0666 less the umask),
        // not the temporary file's private 0600.
        Err(_) => {
            let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
            nix::sys::stat::umask(umask);
            #[allow(clippy::useless_conversion)] // mode_t is u16 on macOS
            let mode = 0o666 & !u32::from(umask.bits());
            new.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))?;
        }
    }
    new.write_all(bytes)?;
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
/// (SIGKILL cannot be held back) left behind: files named as [`replace`]
/// names them (`.ticket.json.PID.RANDOM.lesson-tmp`), that nobody holds an
/// `flock` on any more, and whose writer is gone or that are over a second
/// old (a writer of another run, between making one and locking it).
pub(crate) fn sweep(path: &Path) {
    let prefix = temporary_prefix(path);
    let writer = |name: &str| {
        let (pid, random) = name
            .strip_prefix(&prefix)?
            .strip_suffix(TEMPORARY)?
            .split_once('.')?;
        let ours = random.len() == RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric());
        ours.then(|| pid.parse::<i32>().ok())?
    };
    let old = |m: &Metadata| {
        m.modified()
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(1))
    };
    remove_dead(&directory(path), writer, |file, gone| {
        let unheld =
            open_checked(file, OpenOptions::new().read(true), Follow::Not).and_then(|(f, meta)| {
                flock(&f, libc::LOCK_EX | libc::LOCK_NB)?;
                Ok(meta.is_file() && (gone || old(&meta)))
            });
        unheld.unwrap_or(false)
    });
}

/// Removes what dead runs left in `dir`: each entry whose name `owner`
/// reads a process id from, and that `left` takes for a leftover, given
/// its path and whether that process is gone (or a zombie). A directory
/// goes with all it holds.
pub(crate) fn remove_dead(
    dir: &Path,
    owner: impl Fn(&str) -> Option<i32>,
    left: impl Fn(&Path, bool) -> bool,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = owner(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let gone = crate::system::process(pid).is_none_or(|p| p.is_zombie());
        if left(&entry.path(), gone) {
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(entry.path()),
                _ => fs::remove_file(entry.path()),
            };
        }
    }
}

/// `flock(fd, operation)`.
pub(crate) fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock takes any descriptor; this one is open.
        match unsafe { libc::flock(file.as_raw_fd(), operation) } {
            0 => return Ok(()),
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            _ => return Err(io::Error::last_os_error()),
        }
    }
}

/// The directory `path` is in.
pub(crate) fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The new versions of `path` are named `.ticket.json.PID.RANDOM` and
/// [`TEMPORARY`], with the writer's pid and [`RANDOM`] letters and digits:
/// a name nobody can guess, and that nobody else is likely to use.
const RANDOM: usize = 8;
const TEMPORARY: &str = ".lesson-tmp";

/// How the new versions of `path` begin: `.ticket.json.`.
fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    format!(".{name}.")
}
