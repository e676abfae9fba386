//! A private directory for each run's lock and trace files, and the
//! removal of those that dead runs left behind.

use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::unistd::getuid;

use crate::error::{Context, Result};
use crate::file;

/// The directory, and the process that made it.
static SCRATCH: OnceLock<(PathBuf, u32)> = OnceLock::new();

/// A private directory (mode 0700) for this run's lock and trace files,
/// removed when the lesson ends. Its name, `lesson-PID-RANDOM`, carries the
/// pid of the lesson, by which [`remove_dead`] knows it for a dead run's.
pub(crate) fn dir() -> Result<&'static Path> {
    if let Some((dir, _)) = SCRATCH.get() {
        return Ok(dir);
    }
    let tmp = std::env::temp_dir();
    let prefix = format!("lesson-{}-", std::process::id());
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(&tmp)
        .context(tr!(
            "creating the directory {}",
            tmp.join(prefix + "…").display()
        ))?
        // Removed by `remove`, in the lesson's own process only: the
        // children that share it end before the lesson does.
        .keep();
    let (dir, _) = SCRATCH.get_or_init(|| (dir, std::process::id()));
    Ok(dir)
}

/// Removes the scratch directories of lessons that died without removing
/// their own (SIGKILL): those of this user whose process is gone.
pub(crate) fn remove_dead() {
    let lesson = |name: &str| {
        let (pid, random) = name.strip_prefix("lesson-")?.split_once('-')?;
        let plain = |n: &str, ok: fn(&u8) -> bool| !n.is_empty() && n.bytes().all(|b| ok(&b));
        let named = plain(pid, u8::is_ascii_digit) && plain(random, u8::is_ascii_alphanumeric);
        named.then(|| pid.parse::<i32>().ok())?
    };
    file::remove_dead(&std::env::temp_dir(), lesson, |dir, gone| {
        let mine = std::fs::symlink_metadata(dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == getuid().as_raw());
        gone && mine && holds_only_a_lessons_files(dir)
    });
}

/// Whether `dir` holds a lesson's trace and nothing but what a lesson puts
/// in its scratch directory: a directory of the same name, made by anyone
/// else, is left alone.
fn holds_only_a_lessons_files(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.iter().any(|n| n == "trace.jsonl")
        && names
            .iter()
            .all(|n| n == "trace.jsonl" || n.starts_with("lock-") || n.starts_with("paused-"))
}

pub(crate) fn remove() {
    if let Some((dir, owner)) = SCRATCH.get() {
        if *owner == std::process::id() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
