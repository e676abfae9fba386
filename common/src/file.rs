//! A small file shared by processes: read whole without ever blocking on
//! what is not a regular file, and replaced whole (a reader sees the old
//! file or the new one, never half of one), keeping its mode, owner and
//! extended attributes (a POSIX ACL is one).

use std::ffi::{CStr, CString};
use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nix::libc;

use crate::error::{Context, Result, anyhow};
use crate::signals;

/// A ticket file is a line of JSON.
pub(crate) const MAX_SIZE: u64 = 1 << 20;

/// `--fsync`, for this process and the children it starts.
static DURABLE: AtomicBool = AtomicBool::new(false);

/// False once [`check_flush`] found that the directory cannot be flushed
/// (and said so): the writes then flush their files alone.
static FLUSH_DIRECTORY: AtomicBool = AtomicBool::new(true);

/// Keeps of the umask `exec` passed on only what it takes from group and
/// others: one that takes the owner's own bits too (`umask 277`) would
/// leave the lesson's directory, trace and locks, which it and each child
/// open again, unreadable or unwritable to it, and the run would fail
/// half-made. A file the lesson makes for the user (a missing ticket file,
/// the trace) is then theirs to read and write, and still nobody else's
/// where the umask says so.
pub(crate) fn spare_the_owner_in_umask() {
    use nix::sys::stat::{Mode, umask};
    let group_and_others = Mode::S_IRWXG | Mode::S_IRWXO;
    let inherited = umask(group_and_others);
    umask(inherited & group_and_others);
}

pub(crate) fn durable(on: bool) {
    DURABLE.store(on, Ordering::SeqCst);
}

pub(crate) fn read_small(path: &Path) -> Result<Vec<u8>> {
    let name = path.display();
    let cannot = |e: io::Error| anyhow!(tr!("{}: cannot read it: {}", name, describe(&e)));
    let (file, meta) =
        open_checked(path, OpenOptions::new().read(true), Follow::Links).map_err(cannot)?;
    regular(&meta, || name.to_string())?;
    if meta.len() > MAX_SIZE {
        return Err(anyhow!(tr!(
            "{}: it holds {} bytes, too many for a ticket file (at most {})",
            name,
            meta.len(),
            MAX_SIZE
        )));
    }
    let bytes = read_whole(&file, meta.len()).map_err(cannot)?;
    let inode = (meta.dev(), meta.ino());
    LAST_OPENED.with_borrow_mut(|last| *last = Some((path.to_owned(), file, inode)));
    Ok(bytes)
}

thread_local! {
    /// The file [`read_small`] read last, its path, still open, and its
    /// device and inode: a new version of it copies its extended attributes
    /// from it, if it is still the file at its path ([`existing`]), instead
    /// of opening it again.
    static LAST_OPENED: std::cell::RefCell<Option<(PathBuf, File, Inode)>> =
        const { std::cell::RefCell::new(None) };
}

/// A file's device and inode numbers: which file it is.
type Inode = (u64, u64);

/// The bytes of `file`, which `fstat` says holds `size`: in one `read`
/// where it does (a byte more is asked for, so that its end needs no second
/// one), to its end otherwise (it grew or shrank meanwhile).
fn read_whole(mut file: &File, size: u64) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; size.min(MAX_SIZE) as usize + 1];
    let n = loop {
        match file.read(&mut bytes) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => break read?,
        }
    };
    bytes.truncate(n);
    if n as u64 != size {
        file.take(MAX_SIZE + 1 - n as u64).read_to_end(&mut bytes)?;
    }
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

/// "WHAT: it is a FIFO (a named pipe), not a regular file"; `what` is only
/// spelled out for a file refused.
pub(crate) fn regular(meta: &Metadata, what: impl FnOnce() -> String) -> Result<()> {
    match meta.is_file() {
        true => Ok(()),
        false => Err(anyhow!(tr!(
            "{}: {}, not a regular file",
            what(),
            kind(meta)
        ))),
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

/// What went wrong, in the system's words ("No such file or directory", as
/// `strerror` says it), not Rust's names for kinds of error ("entity not
/// found"); a few in words that say more.
fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EISDIR) => tr!("it is a directory"),
        Some(libc::EMFILE | libc::ENFILE) => tr!("too many open files"),
        Some(libc::ENXIO) => tr!("it is a socket, or a device with nothing behind it"),
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => e.to_string(),
    }
}

/// Replaces the file `path` with `bytes`, written to a new file beside it
/// that `rename` then puts in its place in one step. The stop signals are
/// held back meanwhile, so that a process stopped by one leaves no half-made
/// file; once the file is replaced, until the process has recorded it (its
/// next trace record): it dies just after, having said what it did.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let old_mask = signals::hold_back()?;
    let done = write_and_rename(path, bytes);
    match done {
        Ok(()) => signals::restore_once_reported(old_mask),
        Err(_) => signals::restore(&old_mask),
    }
    done.with_context(|| tr!("writing {}", path.display()))
}

fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let old = existing(path)?;
    let mut new = new_version(path, old.as_ref())?;
    new.write_all(bytes)?;
    let durable = DURABLE.load(Ordering::SeqCst);
    if durable {
        new.as_file().sync_all()?;
    }
    new.persist(path).map_err(|e| e.error)?;
    // The file is replaced: whatever fails now, the sale stands.
    if durable && FLUSH_DIRECTORY.load(Ordering::SeqCst) {
        let dir = directory(path);
        if let Err(e) = File::open(&dir).and_then(|d| d.sync_all()) {
            crate::log::warn(tr!(
                "{}: written and renamed into place, but its directory {} could not be flushed \
                 to disk ({}): a power cut may still undo the rename",
                path.display(),
                dir.display(),
                describe(&e)
            ));
        }
    }
    Ok(())
}

/// An extended attribute, name and value: `user.note`, or a POSIX ACL
/// (`system.posix_acl_access`), what `ls -l` marks with a `+`.
type Attribute = (CString, Vec<u8>);

/// The file at `path` as a new version must copy it: its metadata and its
/// extended attributes; `None` if there is no file.
fn existing(path: &Path) -> io::Result<Option<(Metadata, Vec<Attribute>)>> {
    let read = LAST_OPENED.with_borrow_mut(|last| match last.take() {
        Some((read, file, inode)) if read == path => Some((file, inode)),
        _ => None,
    });
    if let Some((file, inode)) = read {
        // Its metadata as it is now, and still the file at `path` (not one
        // renamed there since): then its open descriptor serves.
        match fs::metadata(path) {
            Ok(now) if (now.dev(), now.ino()) == inode => {
                return Ok(Some((now, attributes(&file)?)));
            }
            // Another version renamed there since (a sale without a lock),
            // the one to copy: its attributes are asked for by its name, as
            // its metadata were, with no descriptor to open and close. Should
            // yet another be renamed in between, and an attribute listed be
            // gone (ENODATA), it is read through a descriptor, as below.
            Ok(now) => {
                if let Ok(attributes) = attributes_at(path) {
                    return Ok(Some((now, attributes)));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            _ => {}
        }
    }
    match open_checked(path, OpenOptions::new().read(true), Follow::Links) {
        Ok((file, meta)) => Ok(Some((meta, attributes(&file)?))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A new version of `path`, beside it, empty and locked: with the mode,
/// owner and extended attributes of `old`, the file it will replace.
fn new_version(
    path: &Path,
    old: Option<&(Metadata, Vec<Attribute>)>,
) -> io::Result<tempfile::NamedTempFile> {
    let mut tries = 0;
    let new = loop {
        let prefix = format!(
            "{}{}.{}",
            temporary_prefix(path),
            crate::signals::pid(),
            random()?
        );
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).rand_bytes(0).suffix(TEMPORARY);
        if old.is_none() {
            // Not the temporary file's private 0600: the mode any new file
            // gets (0666 less the umask).
            builder.permissions(Permissions::from_mode(0o666));
        }
        match builder.tempfile_in(directory(path)) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
            made => break made?,
        }
    };
    // Held until this process closes it or dies: see `sweep`.
    flock(new.as_file(), true)?;
    if let Some((meta, attributes)) = old {
        // Only root may give a file away; anyone else keeps it as theirs.
        let _ = std::os::unix::fs::fchown(new.as_file(), Some(meta.uid()), Some(meta.gid()));
        new.as_file().set_permissions(meta.permissions())?;
        // After the mode: a chmod would rewrite an ACL's mask.
        give(new.as_file(), attributes)?;
    }
    Ok(new)
}

/// [`RANDOM`] letters and digits, each process's own: drawn from a seed made
/// of a key the system gave once (see [`names_key`]), this process's pid and
/// a count of the names it drew. Not with a generator kept in memory
/// (`tempfile`'s own): `fork` copies it, and every buyer would draw the
/// names the others draw.
fn random() -> io::Result<String> {
    use rand::distr::Alphanumeric;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let mut seed = [0; 32];
    seed[..16].copy_from_slice(names_key()?);
    seed[16..24].copy_from_slice(&u64::from(signals::pid()).to_le_bytes());
    seed[24..].copy_from_slice(&DRAWN.fetch_add(1, Ordering::SeqCst).to_le_bytes());
    let mut rng = StdRng::from_seed(seed);
    Ok((0..RANDOM)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect())
}

/// The key the names of new versions are drawn with, asked of the system
/// (`getrandom`) by the first process that wants it. Main asks before it
/// forks the buyers ([`crate::sale::hold`]), which then keep it with the rest
/// of its memory instead of each asking for one; another user, who cannot
/// read that memory, cannot foresee a name.
pub(crate) fn names_key() -> io::Result<&'static [u8; 16]> {
    use rand::TryRng;
    static KEY: OnceLock<[u8; 16]> = OnceLock::new();
    if let Some(key) = KEY.get() {
        return Ok(key);
    }
    let mut key = [0; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut key)
        .map_err(io::Error::other)?;
    Ok(KEY.get_or_init(|| key))
}

/// The extended attributes of `file` (none where the file system keeps none).
fn attributes(file: &File) -> io::Result<Vec<Attribute>> {
    attributes_by(
        |buf| rustix::fs::flistxattr(file, buf),
        |name, buf| rustix::fs::fgetxattr(file, name, buf),
    )
}

/// The extended attributes of the file at `path`, links followed.
fn attributes_at(path: &Path) -> io::Result<Vec<Attribute>> {
    attributes_by(
        |buf| rustix::fs::listxattr(path, buf),
        |name, buf| rustix::fs::getxattr(path, name, buf),
    )
}

/// The extended attributes that `list` names, each with the value `get` gives.
fn attributes_by(
    list: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
    mut get: impl FnMut(&CStr, &mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<Vec<Attribute>> {
    let names = fetch(list)?;
    names
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| {
            let name = CString::new(name).map_err(io::Error::other)?;
            let value = fetch(|buf| get(name.as_c_str(), buf))?;
            Ok((name, value))
        })
        .collect()
}

/// What `get` puts in a buffer, grown until it fits (`ERANGE` says it did not).
fn fetch(mut get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> io::Result<Vec<u8>> {
    use rustix::io::Errno;
    let mut buf = vec![0; 256];
    loop {
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Gives `new` the extended attributes `old` lists: each that it lacks or
/// holds otherwise (what the system gave it alike, a security label, is left
/// as it is); and takes from it an ACL its directory's default ACL gave it,
/// which the old file had not. An error names the attribute.
fn give(new: &File, old: &[Attribute]) -> io::Result<()> {
    let failed = |name: &CStr, e: rustix::io::Errno| {
        let e = io::Error::from(e);
        let what = tr!(
            "the extended attribute {}: {}",
            name.to_string_lossy(),
            describe(&e)
        );
        io::Error::new(e.kind(), what)
    };
    let has = attributes(new)?;
    for (name, value) in old {
        if !has.iter().any(|(n, v)| n == name && v == value) {
            rustix::fs::fsetxattr(new, name.as_c_str(), value, rustix::fs::XattrFlags::empty())
                .map_err(|e| failed(name, e))?;
        }
    }
    for (name, _) in &has {
        let acl = name.as_bytes().starts_with(b"system.posix_acl_");
        if acl && !old.iter().any(|(n, _)| n == name) {
            rustix::fs::fremovexattr(new, name.as_c_str()).map_err(|e| failed(name, e))?;
        }
    }
    Ok(())
}

/// Refuses, before anything is written, a file whose extended attributes
/// (an ACL, `user.*`, `security.*`, …) a sale could not give its new
/// version: one is made as a sale makes it, beside the file, then removed.
pub(crate) fn check_attributes(path: &Path) -> Result<()> {
    let name = path.display();
    let old =
        existing(path).map_err(|e| anyhow!(tr!("{}: cannot read it: {}", name, describe(&e))))?;
    match old {
        Some(old) if !old.1.is_empty() => match new_version(path, Some(&old)) {
            // Removed as it is dropped.
            Ok(_probe) => Ok(()),
            Err(e) => Err(anyhow!(tr!(
                "{}: a sale could not give its new version what the file carries besides its \
                 bytes ({}), and would drop it: refused",
                name,
                match e.raw_os_error() {
                    Some(_) => describe(&e),
                    None => e.to_string(),
                }
            ))),
        },
        _ => Ok(()),
    }
}

/// With `--fsync`, says once, before the sale, that the directory of
/// `path` cannot be flushed (a directory one may write but not read cannot
/// be opened): the sale goes on, each new file flushed before its rename.
pub(crate) fn check_flush(path: &Path) {
    if !DURABLE.load(Ordering::SeqCst) {
        return;
    }
    let dir = directory(path);
    if let Err(e) = File::open(&dir).and_then(|d| d.sync_all()) {
        FLUSH_DIRECTORY.store(false, Ordering::SeqCst);
        crate::log::warn(tr!(
            "--fsync: the directory {} cannot be flushed to disk ({}): each new file still is, \
             before its rename, but a power cut may undo a rename",
            dir.display(),
            describe(&e)
        ));
    }
}

/// Blocks a sale wants free beyond those of its new version: a new version
/// may be a few bytes longer (a restock), and the file system keeps books.
const MARGIN_BLOCKS: u64 = 2;

/// Refuses, before anything is written, a file whose file system has no
/// room for a new version of it: a sale writes each one beside the file,
/// and only the rename frees the old one. Room is what the seller may use
/// (`f_bavail`; root may use the blocks kept back for it, `f_bfree`), for
/// the file's `size` and a margin of [`MARGIN_BLOCKS`]; and a free inode,
/// where the file system counts them. A file system that says nothing of
/// its blocks (`f_blocks` 0) is not refused.
pub(crate) fn check_room(path: &Path, size: u64) -> Result<()> {
    let dir = directory(path);
    let Ok(room) = rustix::fs::statvfs(&dir) else {
        // Then nothing can be said before the sale; a buyer will.
        return Ok(());
    };
    let root = rustix::process::geteuid().is_root();
    let unit = match room.f_frsize {
        0 => room.f_bsize.max(1),
        unit => unit,
    };
    let free = match root {
        true => room.f_bfree,
        false => room.f_bavail,
    }
    .saturating_mul(unit);
    let need = size
        .div_ceil(unit)
        .saturating_add(MARGIN_BLOCKS)
        .saturating_mul(unit);
    let name = shown(path);
    if room.f_blocks > 0 && free < need {
        return Err(anyhow!(tr!(
            "{}: its file system ({}) is full: a sale writes each new version beside the file \
             before it replaces it, which wants {} bytes free, and {} are",
            name,
            dir.display(),
            need,
            free
        )));
    }
    let inodes = match root {
        true => room.f_ffree,
        false => room.f_favail,
    };
    if room.f_files > 0 && inodes == 0 {
        return Err(anyhow!(tr!(
            "{}: its file system ({}) has no free inode: a sale writes each new version as a new \
             file beside it, and there can be no new file",
            name,
            dir.display()
        )));
    }
    Ok(())
}

/// Refuses a file that the system lets nobody replace, root included,
/// whatever its mode says: append-only or immutable (`chattr +a`, `+i`),
/// the file or its directory (`FS_IOC_GETFLAGS`, what `lsattr` shows).
pub(crate) fn check_flags(path: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{IFlags, ioctl_getflags};
        let flags = |p: &Path| {
            let opened = open_checked(p, OpenOptions::new().read(true), Follow::Links);
            opened.map_or(IFlags::empty(), |(f, _)| {
                ioctl_getflags(&f).unwrap_or(IFlags::empty())
            })
        };
        let how = |f: IFlags| match () {
            _ if f.contains(IFlags::IMMUTABLE) => Some((tr!("immutable (chattr +i)"), "chattr -i")),
            _ if f.contains(IFlags::APPEND) => Some((tr!("append-only (chattr +a)"), "chattr -a")),
            _ => None,
        };
        let (name, dir) = (path.display(), directory(path));
        if let Some((how, undo)) = how(flags(path)) {
            return Err(anyhow!(tr!(
                "{}: it is {}: a sale replaces the file, and the system lets nobody, root \
                 included, replace such a file ({} lifts it)",
                name,
                how,
                undo
            )));
        }
        if let Some((how, undo)) = how(flags(&dir)) {
            return Err(anyhow!(tr!(
                "{}: its directory {} is {}: no file in it may be replaced, by root either ({} \
                 lifts it)",
                name,
                dir.display(),
                how,
                undo
            )));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = path;
    Ok(())
}

/// Refuses, before anything is read or written, a path the system would
/// refuse as a sale writes: the new file's name longer than a name may be
/// (`NAME_MAX`), or its whole path, from `/` (`tempfile` makes it
/// absolute), longer than a path may be (`PATH_MAX`). The path is shown
/// cut short.
pub(crate) fn fits(path: &Path) -> Result<()> {
    let name = shown(path);
    let dir = directory(path);
    // The longest name a new version may have: the longest pid.
    let temporary = temporary_prefix(path).len() + "4194304.".len() + RANDOM + TEMPORARY.len();
    let name_max = nix::unistd::pathconf(&dir, nix::unistd::PathconfVar::NAME_MAX)
        .ok()
        .flatten()
        .map_or(255, |n| n as usize);
    if temporary > name_max {
        return Err(anyhow!(tr!(
            "{}: its name is too long: the new file a sale writes beside it would be named with \
             {} bytes, and a name may have {} at most (NAME_MAX)",
            name,
            temporary,
            name_max
        )));
    }
    // The kernel takes PATH_MAX bytes, the final NUL included.
    let most = libc::PATH_MAX as usize - 1;
    let absolute = match dir.is_absolute() {
        true => Ok(dir),
        false => std::env::current_dir().map(|cwd| cwd.join(dir)),
    };
    match absolute {
        Ok(dir) if dir.as_os_str().len() + 1 + temporary <= most => Ok(()),
        Ok(dir) => Err(anyhow!(tr!(
            "{}: its path is too long: {} bytes from / with the name of the new file a sale \
             writes beside it, and a path may have {} at most (PATH_MAX)",
            name,
            dir.as_os_str().len() + 1 + temporary,
            most
        ))),
        Err(e) => Err(anyhow!(tr!(
            "{}: the path of the working directory cannot be had ({}), and a sale needs it: a \
             path may have {} bytes at most (PATH_MAX)",
            name,
            describe(&e),
            most
        ))),
    }
}

/// `path` for a message: whole, or its last 60 characters after "…".
pub(crate) fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    let count = text.chars().count();
    match count > 80 {
        true => format!("…{}", text.chars().skip(count - 60).collect::<String>()),
        false => text,
    }
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
        // Its lock is tried last, only on a file that may be left over: a
        // writer that finds its new file's lock taken by this look fails.
        open_checked(file, OpenOptions::new().read(true), Follow::Not).is_ok_and(|(f, meta)| {
            let age = meta.modified().ok().and_then(|t| t.elapsed().ok());
            let left = meta.is_file() && (gone || age > Some(Duration::from_secs(1)));
            left && flock(&f, false).is_ok()
        })
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

/// `flock(fd, LOCK_EX)`, or with `LOCK_NB` if `wait` is false, again when a
/// signal cuts it: a lock held for as long as the descriptor is open (the
/// trace's, a run's directory's, a new version's). It goes through rustix,
/// as `fd-lock` does for `Lock`, whose guard ends with a scope instead.
pub(crate) fn flock(file: &File, wait: bool) -> io::Result<()> {
    use rustix::fs::FlockOperation::{LockExclusive, NonBlockingLockExclusive};
    let operation = if wait {
        LockExclusive
    } else {
        NonBlockingLockExclusive
    };
    rustix::io::retry_on_intr(|| rustix::fs::flock(file, operation)).map_err(io::Error::from)
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
