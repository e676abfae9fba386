//! A private directory for each run's lock and trace files, and the
//! removal of those that dead runs left behind.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::unistd::getuid;

use crate::error::{Context, Result};
use crate::{system, tr};

/// The directory, and the process that made it.
static SCRATCH: OnceLock<(PathBuf, u32)> = OnceLock::new();

/// A private directory (mode 0700) for this run's lock and trace files,
/// removed when the lesson ends.
pub(crate) fn dir() -> Result<&'static Path> {
    if let Some((dir, _)) = SCRATCH.get() {
        return Ok(dir);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("lesson-{}-{nanos}", std::process::id()));
    DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .context(tr!("creating the directory {}", dir.display()))?;
    let (dir, _) = SCRATCH.get_or_init(|| (dir, std::process::id()));
    Ok(dir)
}

/// Removes the scratch directories of lessons that died without removing
/// their own (SIGKILL): those of this user whose process is gone.
pub(crate) fn remove_dead() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("lesson-")
            .and_then(|rest| rest.split_once('-'))
            .filter(|(pid, nanos)| {
                [pid, nanos]
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .and_then(|(pid, _)| pid.parse::<i32>().ok());
        let mine = entry
            .metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == getuid().as_raw())
            && holds_only_a_lessons_files(&entry.path());
        if let Some(pid) = pid.filter(|_| mine) {
            if system::process(pid).is_none_or(|p| p.is_zombie()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
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
