//! What the ticket lessons' tests share: a file's snapshot, to prove a
//! refused run left it as it was, and the checks of a refusal.

use std::collections::BTreeSet;
use std::fs::{self, FileType, Permissions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::{Run, Scratch, output};

/// All a refusal must leave as it was: kind, inode, mode, owner, time, bytes.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub kind: FileType,
    pub ino: u64,
    pub mode: u32,
    pub owner: (u32, u32),
    pub mtime: (i64, i64),
    pub bytes: Option<Vec<u8>>,
    pub link: Option<PathBuf>,
}

pub fn snapshot(path: &str) -> Snapshot {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Snapshot {
        kind: meta.file_type(),
        ino: meta.ino(),
        mode: meta.mode(),
        owner: (meta.uid(), meta.gid()),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        bytes: meta.is_file().then(|| fs::read(path).expect("read")),
        link: meta
            .is_symlink()
            .then(|| fs::read_link(path).expect("readlink")),
    }
}

/// The names in the scratch directory.
pub fn names(dir: &Scratch) -> BTreeSet<String> {
    fs::read_dir(dir.path(""))
        .expect("read_dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect()
}

/// The ticket file's temporary files left in the directory.
pub fn temporary_files(dir: &Scratch) -> Vec<String> {
    let names = names(dir).into_iter();
    names.filter(|n| n.starts_with(".ticket.json.")).collect()
}

/// The lesson `program` with `args`, none of the LESSON_* variables set.
pub fn lesson(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    for var in ["LESSON_SPEED", "LESSON_SEED", "LESSON_TRACE"] {
        command.env_remove(var);
    }
    command
}

/// Checks a refusal: one of `codes`, one line on stderr, naming `name` and
/// saying one of `says`.
pub fn assert_refused(code: Option<i32>, stderr: &str, codes: &[i32], name: &str, says: &[&str]) {
    assert!(
        code.is_some_and(|c| codes.contains(&c)),
        "exit {code:?}, not {codes:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(name), "{name} not named: {stderr}");
    assert!(
        says.iter().any(|s| stderr.contains(s)),
        "{says:?}: {stderr}"
    );
}

/// Runs `command` (no hang possible: refused at once) and checks its refusal.
pub fn refused(command: &mut Command, codes: &[i32], name: &str, says: &[&str]) {
    let out = output(command);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_refused(out.status.code(), &err, codes, name, says);
}

/// The fields of the last `summary` event.
pub fn summary(run: &Run) -> &serde_json::Map<String, Value> {
    &run.events("summary").last().expect("a summary").fields
}

/// The count the ticket file holds now.
pub fn count(file: &str) -> u64 {
    let text = fs::read_to_string(file).expect("read");
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    json["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count: {text}"))
}

/// `chmod MODE PATH`.
pub fn chmod(path: &str, mode: u32) {
    fs::set_permissions(path, Permissions::from_mode(mode)).expect("chmod");
}

/// True as root; otherwise says the test is skipped.
pub fn is_root() -> bool {
    let root = nix::unistd::getuid().is_root();
    if !root {
        eprintln!("skipped: only root may chown a file to nobody or run as nobody");
    }
    root
}
