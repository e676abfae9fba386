//! A private directory for each run's lock and trace files, and the
//! removal of those that dead runs left behind.

use std::fs::{File, OpenOptions, Permissions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::libc;

use crate::error::{Context, Result};
use crate::file::flock;

/// The directory, the process that made it, and the directory itself,
/// open and locked for as long as the run lives.
static SCRATCH: OnceLock<(PathBuf, u32, File)> = OnceLock::new();

/// Mode 0700, removed when the lesson ends, named `lesson-PID-RANDOM`.
/// What tells [`remove_dead`] that its run lives is not the pid, which
/// means nothing in another pid namespace, but an `flock` on it that every
/// process of the run holds (its children inherit the descriptor) and that
/// dies with the last of them. It is made under a name `remove_dead`
/// ignores, locked, then renamed into place (the same inode, still
/// locked): no other run ever sees it unlocked under its own name.
pub(crate) fn dir() -> Result<&'static Path> {
    if let Some((dir, ..)) = SCRATCH.get() {
        return Ok(dir);
    }
    let tmp = std::env::temp_dir();
    let name = format!("lesson-{}-", std::process::id());
    let (dir, lock) = tempfile::Builder::new()
        .prefix(&format!(".{name}"))
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(&tmp)
        .and_then(|staged| {
            let lock = File::open(staged.path())?;
            flock(&lock, false)?;
            let staged_name = staged.path().file_name().unwrap_or_default();
            let dir = tmp.join(staged_name.to_string_lossy().trim_start_matches('.'));
            std::fs::rename(staged.path(), &dir)?;
            // Removed by `remove`, in the lesson's own process only: the
            // children that share it end before the lesson does.
            let _ = staged.keep();
            Ok((dir, lock))
        })
        .context(tr!(
            "creating the directory {}",
            tmp.join(name + "…").display()
        ))?;
    Ok(&SCRATCH.get_or_init(|| (dir, std::process::id(), lock)).0)
}

/// Removes the scratch directories of lessons that died without removing
/// their own (SIGKILL): those of this user that no process holds the lock
/// of any more, and those a run killed as it made one left under the name
/// it makes them under (empty, over a minute old).
pub(crate) fn remove_dead() {
    let plain = |n: &str, ok: fn(&u8) -> bool| !n.is_empty() && n.bytes().all(|b| ok(&b));
    let lesson = |name: &str| {
        let parts = name.strip_prefix("lesson-").and_then(|n| n.split_once('-'));
        parts.is_some_and(|(pid, random)| {
            plain(pid, u8::is_ascii_digit) && plain(random, u8::is_ascii_alphanumeric)
        })
    };
    crate::file::remove_dead(&std::env::temp_dir(), |name, dir| {
        let (name, staged) = name.strip_prefix('.').map_or((name, false), |n| (n, true));
        lesson(name) && dead(dir, staged)
    });
}

/// Whether `dir` is one of this user's directories that no process holds
/// the lock of, and holds what a lesson leaves in it: see
/// [`holds_only_a_lessons_files`]; or, `staged`, nothing, for over a minute.
fn dead(dir: &Path, staged: bool) -> bool {
    // Neither a link followed nor a FIFO waited on.
    let flags = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let Ok(opened) = OpenOptions::new().read(true).custom_flags(flags).open(dir) else {
        return false;
    };
    let Ok(meta) = opened.metadata() else {
        return false;
    };
    let mine = meta.is_dir() && meta.uid() == nix::unistd::getuid().as_raw();
    if !mine {
        return false;
    }
    // A staged one is looked at only once it is old: a run making one locks
    // it a moment after it is made, and a look that took its lock then, to
    // test it, would make that run's own flock fail.
    if staged {
        let age = meta.modified().ok().and_then(|t| t.elapsed().ok());
        let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
        if !empty || age <= Some(std::time::Duration::from_secs(60)) {
            return false;
        }
    }
    flock(&opened, false).is_ok() && (staged || holds_only_a_lessons_files(dir))
}

/// Whether `dir` holds a lesson's trace and nothing but what a lesson puts
/// in its scratch directory: one of the same name made by anyone else is
/// left alone.
fn holds_only_a_lessons_files(dir: &Path) -> bool {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let names: Vec<_> = entries
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let ours =
        |n: &String| n == "trace.jsonl" || n.starts_with("lock-") || n.starts_with("paused-");
    names.iter().any(|n| n == "trace.jsonl") && names.iter().all(ours)
}

pub(crate) fn remove() {
    if let Some((dir, ..)) = SCRATCH
        .get()
        .filter(|(_, owner, _)| *owner == std::process::id())
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}
