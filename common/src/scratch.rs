//! A private directory for each run's lock and trace files, and the
//! removal of those that dead runs left behind.

use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Context, Result};

/// The directory, and the process that made it.
static SCRATCH: OnceLock<(PathBuf, u32)> = OnceLock::new();

/// Mode 0700, removed when the lesson ends. Its name, `lesson-PID-RANDOM`,
/// carries the pid of the lesson, by which [`remove_dead`] knows it for a
/// dead run's.
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
    Ok(&SCRATCH.get_or_init(|| (dir, std::process::id())).0)
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
    crate::file::remove_dead(&std::env::temp_dir(), lesson, |dir, gone| {
        let mine = std::fs::symlink_metadata(dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::getuid().as_raw());
        gone && mine && holds_only_a_lessons_files(dir)
    });
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
    if let Some((dir, _)) = SCRATCH
        .get()
        .filter(|(_, owner)| *owner == std::process::id())
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}
