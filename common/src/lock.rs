//! `Lock()`, `acquire()`, `release()`: a mutex between processes, made of
//! `flock` on a lock file (through `fd-lock`).
//!
//! An `flock` belongs to the *open file description*, not to the process. A
//! lock file opened once before `fork` is one description shared by every
//! child, so all of them would "hold" it at the same time and exclude nobody.
//! That is why a `Lock` keeps only a path, and each acquirer opens the file
//! itself (`Lock::open`) before it `acquire`s it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::libc;
use nix::unistd::{AccessFlags, access};

use crate::error::{Context, Result, anyhow};
use crate::file::{self, Follow};

/// A lock shared by the processes of a lesson: create it in the parent,
/// hand it to the children, `open` and `acquire` it in each.
#[derive(Debug, Clone)]
pub struct Lock {
    path: PathBuf,
    /// `--lock-opened-before-fork`: the one description every child shares.
    opened_before_fork: Option<std::sync::Arc<File>>,
}

/// The lock file as one process opened it: `flock` locks belong to this
/// open file description, so each acquirer needs one of its own.
#[derive(Debug)]
pub struct Opened {
    file: fd_lock::RwLock<File>,
    /// The descriptor `file` holds, for a try without `fd-lock`.
    fd: std::os::fd::RawFd,
    path: PathBuf,
}

/// Holding the lock (`fd-lock`'s guard); dropping it, or
/// [`Guard::release`], unlocks, and lets the next one in.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct Guard<'a> {
    held: fd_lock::RwLockWriteGuard<'a, File>,
}

/// True once this run made a `Lock`, as its trace says (a `lock` event):
/// the colleagues could wait for one another.
pub(crate) fn made() -> bool {
    crate::log::records().is_ok_and(|records| records.iter().any(|r| r.event == "lock"))
}

impl Lock {
    /// A new lock, private to this run of the lesson (its file lives in the
    /// lesson's temporary directory, removed when the lesson ends).
    pub fn new() -> Result<Lock> {
        let dir = crate::scratch::dir()?;
        let path = (0..)
            .map(|n| dir.join(format!("lock-{n}")))
            .find(|p| !p.exists())
            .with_context(|| tr!("no free name for a lock file"))?;
        Lock::at(&path)
    }

    /// The lock whose file is `path`, never replaced, so that separate runs
    /// that name the same file exclude each other too. It is checked now,
    /// and made by the first `acquire`: a lesson refused for another reason
    /// before its children start leaves no lock file behind.
    fn at(path: &Path) -> Result<Lock> {
        // Where no `/proc/locks` says who waits for a lock, a schedule could
        // never tell a child blocked on it from one still on its way.
        #[cfg(not(target_os = "linux"))]
        if crate::schedule::on() {
            return Err(crate::error::Usage(tr!(
                "--schedule and --every-schedule need /proc/locks (Linux) to see who waits for a lock"
            ))
            .into());
        }
        match std::fs::symlink_metadata(path) {
            Ok(_) => drop(open(path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = file::directory(path);
                access(&dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| {
                    anyhow!(tr!(
                        "cannot make the lock file {}: its directory takes no new file ({})",
                        path.display(),
                        e.desc()
                    ))
                })?;
            }
            Err(e) => return Err(e).context(tr!("the lock file {}", path.display())),
        }
        // The mistake the lessons warn of, made on request: one open file
        // description, inherited by every child, and so one lock.
        let shared = crate::schedule::lock_opened_before_fork();
        let opened_before_fork = match shared {
            true => Some(std::sync::Arc::new(open(path)?)),
            false => None,
        };
        crate::schedule::lock_made();
        let fields = serde_json::json!({ "path": path, "opened_before_fork": shared });
        crate::log::record("lock", fields);
        // Said once, not for each of `--every-schedule`'s runs.
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if shared && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
            crate::log::say(tr!(
                "--lock-opened-before-fork: main opened the lock file once, before fork; every \
                 child's open() now gets a copy (dup) of that one open file description, and an \
                 flock belongs to the description: one lock, held by all at once"
            ));
        }
        Ok(Lock {
            path: path.to_owned(),
            opened_before_fork,
        })
    }

    /// The lock of the file `path`: `path` with `.lock` added, beside it.
    /// It is a file of its own, so that replacing `path` (a new inode by
    /// `rename`) never replaces the lock with it.
    pub fn beside(path: &Path) -> Result<Lock> {
        // A path too long for the system is refused before it is used.
        file::fits(path)?;
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        Lock::at(Path::new(&name))
    }

    /// `open(2)`s the lock file, in the process that will acquire it.
    pub fn open(&self) -> Result<Opened> {
        let file = match &self.opened_before_fork {
            Some(shared) => shared.try_clone().context("dup")?,
            None => open(&self.path)?,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        Ok(Opened {
            file: fd_lock::RwLock::new(file),
            fd,
            path: self.path.clone(),
        })
    }
}

impl Opened {
    /// `flock(LOCK_EX)`: waits until no other process holds the lock, then
    /// holds it, until the guard is dropped (or the process dies: the kernel
    /// lets go of a dead holder's lock).
    pub fn acquire(&mut self) -> Result<Guard<'_>> {
        // With a schedule, main must learn that it waits: it says so first.
        let waited = crate::schedule::scheduled() && !self.try_flock()?;
        if waited {
            crate::schedule::about_to_block();
        }
        // No retry on EINTR: an acquirer is a child, which a stop signal
        // ends in its handler, and which ignores SIGXFSZ, the one other
        // (`signals::default_handling_in_child`): none returns early.
        let held = self.file.write();
        if waited && held.is_ok() {
            crate::log::event(
                "got_lock",
                (),
                tr!(
                    "gets the lock after waiting (who gets it when it is let go is the kernel's choice)"
                ),
            );
        }
        match held {
            Ok(held) => Ok(Guard { held }),
            Err(e) => Err(e).context(tr!("locking {}", self.path.display())),
        }
    }
}

impl Opened {
    /// `flock(LOCK_EX | LOCK_NB)`: false if another holds the lock.
    fn try_flock(&self) -> Result<bool> {
        // SAFETY: `fd` is the descriptor `self.file` owns, open as long as it.
        let rc = unsafe { libc::flock(self.fd, libc::LOCK_EX | libc::LOCK_NB) };
        match nix::errno::Errno::result(rc) {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::EWOULDBLOCK) => Ok(false),
            Err(e) => Err(anyhow!(tr!(
                "locking {}: {}",
                self.path.display(),
                e.desc()
            ))),
        }
    }
}

impl Guard<'_> {
    /// Lets the next process in: the notes' `lock.release()`. With
    /// `--pause`, the first holder waits for Enter before it lets go, while
    /// the others wait for the lock.
    pub fn release(self) -> Result<()> {
        if crate::pause::on() {
            self.pause_before_release()?;
        }
        drop(self);
        Ok(())
    }

    /// What `--pause` shows before the first holder lets go: built only
    /// then, not by every release (it reads `/proc/self/fdinfo`).
    fn pause_before_release(&self) -> Result<()> {
        let lesson = nix::unistd::getppid();
        let what = tr!(
            "{} still holds the lock; whoever asks for it now waits, blocked in flock",
            crate::log::who()
        );
        let ps = format!("ps -o pid,stat,wchan:14,comm --ppid {lesson}");
        // This lesson's lock only, not every lock of the system.
        let (what, look) = match proc_locks_name(&self.held) {
            Some(id) => (
                what + &tr!(
                    "; /proc/locks lists this lock with its holder's pid, and each line \
                     marked -> under it is a process blocked waiting for it"
                ),
                format!("{ps}; grep ' {id} ' /proc/locks"),
            ),
            None => (what, ps),
        };
        crate::pause("lock", &what, &look)
    }
}

/// How `/proc/locks` names the file `file`: `MAJ:MIN:INODE`, the device in
/// hex. Taken from the lock's own line in `/proc/self/fdinfo/FD`, written
/// as `/proc/locks` is; else made from `fstat`, whose device may differ
/// from the lock's on btrfs or overlayfs. `None` where there is no
/// `/proc/locks` (macOS).
fn proc_locks_name(file: &File) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let fdinfo = format!("/proc/self/fdinfo/{}", file.as_raw_fd());
        // "lock:\t1: FLOCK  ADVISORY  WRITE 12345 fe:00:10150058 0 EOF"
        let listed = std::fs::read_to_string(fdinfo).ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("lock:"))?;
            let id = line
                .split_whitespace()
                .find(|f| f.matches(':').count() == 2)?;
            Some(id.to_owned())
        });
        listed.or_else(|| {
            let meta = file.metadata().ok()?;
            let (major, minor) = (
                nix::sys::stat::major(meta.dev()),
                nix::sys::stat::minor(meta.dev()),
            );
            Some(format!("{major:02x}:{minor:02x}:{}", meta.ino()))
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

/// Opens the lock file, made if missing. A lock file that is a symbolic
/// link is refused, never followed to create its target.
fn open(path: &Path) -> Result<File> {
    let name = path.display();
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    let unopened = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ELOOP) => anyhow!(tr!("the lock file {} is a symbolic link: refused", name)),
        _ => anyhow!(tr!("opening the lock file {}: {}", name, e)),
    };
    let (file, meta) = file::open_checked(path, &mut options, Follow::Not).map_err(unopened)?;
    file::regular(&meta, || tr!("the lock file {}", name))?;
    Ok(file)
}
