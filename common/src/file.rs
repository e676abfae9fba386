//! The robust parts of a small file shared by processes: reading it whole,
//! and replacing it whole, so that a reader sees the old file or the new
//! one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Context, Result};
use crate::system;

/// Whether [`replace`] makes each write durable against a power cut.
static DURABLE: AtomicBool = AtomicBool::new(false);

/// From now on, in this process and the children it starts, [`replace`]
/// also `fsync`s the new file and its directory (`--fsync`).
pub(crate) fn durable(on: bool) {
    DURABLE.store(on, Ordering::SeqCst);
}

/// Reads the file `path` whole; the error names the file and says why.
pub(crate) fn read_small(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(nix::libc::EISDIR) => "it is a directory".to_owned(),
            _ => e.kind().to_string().to_lowercase(),
        };
        format!("{}: cannot read it: {why}", path.display()).into()
    })
}

/// Replaces the file `path` with `bytes`: they are written to a new file
/// beside it, which `rename` then puts in its place in one step.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let durable = DURABLE.load(Ordering::SeqCst);
    let temporary = temporary(path, std::process::id());
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            if durable {
                f.sync_all()?;
            }
            Ok(())
        })
        .and_then(|()| fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(e).context(format!("writing {}", path.display()));
    }
    if durable {
        File::open(directory(path))
            .and_then(|d| d.sync_all())
            .context(format!("syncing the directory of {}", path.display()))?;
    }
    Ok(())
}

/// Removes the new versions of `path` left behind by writers killed
/// mid-write (whose pid no longer runs).
pub(crate) fn sweep(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(directory(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&format!(".{name}."))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<i32>().ok());
        if pid.is_some_and(|pid| system::process(pid).is_none_or(|p| p.is_zombie())) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The new version a process writes before renaming it over `path`.
fn temporary(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    directory(path).join(format!(".{name}.{pid}.tmp"))
}
