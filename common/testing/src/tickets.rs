//! What the ticket lessons' tests share: a file's snapshot, to prove a
//! refused run left it as it was, and the checks of a refusal.

use std::collections::BTreeSet;
use std::fs::{self, FileType, Permissions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::{NOBODY, Run, Scratch, output, run, runnable_by_anyone, start};

/// All a refusal must leave as it was: kind, inode, mode, owner, time,
/// bytes, and extended attributes (an ACL).
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub kind: FileType,
    pub ino: u64,
    pub mode: u32,
    pub owner: (u32, u32),
    pub mtime: (i64, i64),
    pub bytes: Option<Vec<u8>>,
    pub link: Option<PathBuf>,
    pub attributes: Vec<(String, Vec<u8>)>,
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
        attributes: attributes(path),
    }
}

/// The extended attributes of `path` (of a link itself), names and values.
pub fn attributes(path: &str) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0; 1 << 16];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names[..]) else {
        return Vec::new();
    };
    let mut all: Vec<(String, Vec<u8>)> = names[..n]
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| {
            let name = String::from_utf8_lossy(name).into_owned();
            let mut value = vec![0; 1 << 16];
            let n = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..])
                .unwrap_or_else(|e| panic!("{path}: {name}: {e}"));
            value.truncate(n);
            (name, value)
        })
        .collect();
    all.sort();
    all
}

/// Sets the extended attribute `name` of `path`; false (and says the test
/// is skipped) where the file system keeps none.
pub fn set_attribute(path: &str, name: &str, value: &[u8]) -> bool {
    let flags = rustix::fs::XattrFlags::empty();
    match rustix::fs::setxattr(path, name, value, flags) {
        Ok(()) => true,
        Err(rustix::io::Errno::OPNOTSUPP) => {
            eprintln!("skipped: {path} can have no extended attribute {name}");
            false
        }
        Err(e) => panic!("{path}: setting {name}: {e}"),
    }
}

/// A POSIX ACL as the kernel keeps it in `system.posix_acl_access` (what
/// `setfacl` writes): version 2, then each entry's tag, permissions and id.
pub fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut bytes = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        bytes.extend(tag.to_le_bytes());
        bytes.extend(perm.to_le_bytes());
        bytes.extend(id.to_le_bytes());
    }
    bytes
}

/// The tags of an ACL's entries, and the id of those that name nobody.
pub const ACL_USER_OBJ: u16 = 0x01;
pub const ACL_USER: u16 = 0x02;
pub const ACL_GROUP_OBJ: u16 = 0x04;
pub const ACL_MASK: u16 = 0x10;
pub const ACL_OTHER: u16 = 0x20;
pub const ACL_UNUSED: u32 = u32::MAX;

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

/// A read-only file (0444, nobody's, in a directory anyone may write) is
/// refused to nobody before any buyer starts, and left as it was.
pub fn refuses_a_read_only_file(program: &str) {
    if !is_root() {
        return;
    }
    let dir = Scratch::new();
    chmod(&dir.path(""), 0o777);
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    chmod(&file, 0o444);
    nix::unistd::chown(file.as_str(), Some(NOBODY.into()), Some(NOBODY.into())).expect("chown");
    let before = snapshot(&file);
    let trace = dir.path("trace.jsonl");
    let mut command = Command::new(runnable_by_anyone(program));
    command.uid(NOBODY).gid(NOBODY).env_remove("LESSON_TRACE");
    command.args(["--file", &file, "--speed", "max", "--trace", &trace]);
    refused(
        &mut command,
        &[1, 2],
        &file,
        &["may not write", "ermission"],
    );
    assert_eq!(snapshot(&file), before);
    let trace = fs::read_to_string(&trace).expect("the trace");
    let events: Vec<Value> = trace
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(events.iter().any(|e| e["event"] == "begin"), "{trace}");
    assert!(
        events.iter().all(|e| e["event"] != "search"),
        "a buyer started:\n{trace}"
    );
}

/// A FIFO is refused at once (not waited on), a device and a file over
/// 1 MiB too, each saying what is wrong, and left as it was.
pub fn refuses_a_fifo_a_device_and_a_huge_file(program: &str) {
    let dir = Scratch::new();
    let fifo = dir.path("fifo.json");
    nix::unistd::mkfifo(
        fifo.as_str(),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .expect("mkfifo");
    let huge = dir.write(
        "huge.json",
        format!(r#"{{"count": 3, "pad": "{}"}}"#, "x".repeat(2 << 20)),
    );
    for (file, says) in [
        (fifo.as_str(), &["FIFO"][..]),
        ("/dev/zero", &["device"]),
        (huge.as_str(), &["too large", "too many"]),
    ] {
        let before = snapshot(file);
        // `run` gives up after 60 s: a hang fails the test.
        let run = run(
            program,
            &["--file", file, "--tickets", "5", "--speed", "max"],
        );
        assert_refused(run.code(), &run.stderr, &[1, 2], file, says);
        assert_eq!(snapshot(file), before, "{file}");
        assert_eq!(run.events("search").count(), 0);
    }
}

/// A key given twice, at the top or nested, is refused, the file kept.
pub fn refuses_a_duplicate_key(program: &str) {
    let dir = Scratch::new();
    for text in [
        r#"{"count":1,"count":5}"#,
        r#"{"count": 3, "x": {"a": 1, "a": 2}}"#,
    ] {
        let file = dir.write("ticket.json", text);
        let before = snapshot(&file);
        let run = run(program, &["--file", &file, "--speed", "max"]);
        assert_refused(
            run.code(),
            &run.stderr,
            &[1],
            &file,
            &["twice", "ambiguous"],
        );
        assert_eq!(snapshot(&file), before, "{text}");
    }
}

/// A speed out of range (even one that rounds to 0) and a `--panic-in` with
/// no such process are refused with exit 2 in one line, nothing written.
pub fn refuses_bad_option_values(program: &str) {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 4}"#);
    let (before, files) = (snapshot(&file), names(&dir));
    for speed in ["1e-300", "5e-324", "0", "1001"] {
        let mut command = lesson(program, &["--file", &file, "--speed", speed]);
        refused(&mut command, &[2], speed, &["--speed"]);
    }
    let mut command = lesson(
        program,
        &["--file", &file, "--speed", "max", "--panic-in", "nosuch"],
    );
    refused(&mut command, &[2], "nosuch", &["buyer-1"]);
    assert_eq!((snapshot(&file), names(&dir)), (before, files));
}

/// Other fields keep their values exactly as written, numbers too (thirty
/// digits, a decimal past f64's precision, `1e2`), strings with their
/// escapes (`\u00e9`, `\/`), keys and white space too: a sale changes the
/// count's text alone, byte for byte, and a restock too. A long array of
/// `1e15` stays as short as it was, under the size limit, where it once
/// came back as `1000000000000000.0`.
pub fn keeps_every_other_value_as_written(program: &str) {
    let dir = Scratch::new();
    let example =
        r#"{"z":1,"count":3,"id":123456789012345678901234567890,"q":1.0000000000000001,"f":1e2}"#;
    let spelled = r#"{"count":3,"g":[1E5,-0,0.0,2E-3,"1e2\"3e4",{"h":-1.50e+7}]}"#;
    let escaped = r#"{"count":3,"s":"\u00e9\/x","t":"\ud83d\ude00 \"\\"}"#;
    let many = format!(r#"{{"count":3,"a":[{}]}}"#, vec!["1e15"; 200_000].join(","));
    assert!(many.len() > 1_000_000 && many.len() < 1 << 20);
    for text in [example, spelled, escaped, &many] {
        let want = text.replacen(r#""count":3"#, r#""count":2"#, 1);
        sells_one_keeping(program, &dir, text, &want, &[]);
    }
    // The top-level count, however its key is spelled and wherever it is,
    // not one nested or in a string; the spaces and lines as they were.
    let nested = concat!(
        " {\"n\" : {\"count\": 9, \"b\": \"}{\\\"count\\\": 1\"},\n",
        "  \"k\\u0022\": [{}], \"c\\u006funt\" :\t3 }\n"
    );
    let want = nested.replacen(":\t3", ":\t2", 1);
    sells_one_keeping(program, &dir, nested, &want, &[]);
    let want = nested.replacen(":\t3", ":\t40", 1);
    sells_one_keeping(program, &dir, nested, &want, &["--tickets", "41"]);
}

/// Sells one ticket of the file `text` with `extra` options, and checks it
/// then holds `want`, byte for byte.
fn sells_one_keeping(program: &str, dir: &Scratch, text: &str, want: &str, extra: &[&str]) {
    let file = dir.write("ticket.json", text);
    let args = [&["--file", &file, "--buyers", "1", "--speed", "max"], extra].concat();
    let run = run(program, &args);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let after = fs::read_to_string(&file).expect("read");
    assert!(after == want, "{}…\nnot\n{}…", cut(&after), cut(want));
}

fn cut(text: &str) -> &str {
    &text[..text.len().min(200)]
}

/// A sale never writes a file it would refuse: restocking a file of 1 MiB,
/// the size limit, to 1000000 tickets would make it larger, and is refused
/// before any write, in one line, the file as it was, and before the
/// lesson says it put them in.
pub fn never_writes_a_file_it_would_refuse(program: &str) {
    let dir = Scratch::new();
    let head = r#"{"count":0,"pad":""#;
    let pad = "x".repeat((1 << 20) - head.len() - 2);
    let file = dir.write("ticket.json", format!("{head}{pad}\"}}"));
    assert_eq!(fs::metadata(&file).expect("stat").len(), 1 << 20);
    let before = snapshot(&file);
    let args = ["--file", &file, "--tickets", "1000000", "--speed", "max"];
    let run = run(program, &args);
    assert_refused(run.code(), &run.stderr, &[1], &file, &["not written"]);
    assert!(run.stderr.contains("1048582 bytes"), "{}", run.stderr);
    assert!(
        !run.stdout.contains("put"),
        "said before refused: {}",
        run.stdout
    );
    assert_eq!(snapshot(&file), before);
    assert_eq!(run.events("search").count(), 0);
}

/// A file with a POSIX ACL (`ls` shows 0660; the ACL gives the group
/// nothing, and nobody `rw-`) and a `user.*` attribute keeps both, and its
/// mode, through a sale: the new file gets its mode first, then the ACL,
/// which a chmod after would rewrite. An ACL a new file would get from its
/// directory's default ACL is not kept where the old file had none.
pub fn keeps_an_acl_and_other_extended_attributes(program: &str) {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    let access = acl(&[
        (ACL_USER_OBJ, 6, ACL_UNUSED),
        (ACL_USER, 6, NOBODY),
        (ACL_GROUP_OBJ, 0, ACL_UNUSED),
        (ACL_MASK, 6, ACL_UNUSED),
        (ACL_OTHER, 0, ACL_UNUSED),
    ]);
    if !set_attribute(&file, "system.posix_acl_access", &access)
        || !set_attribute(&file, "user.note", b"keep me")
    {
        return;
    }
    let before = snapshot(&file);
    assert_eq!(before.mode & 0o777, 0o660);
    let sale = run(
        program,
        &["--file", &file, "--buyers", "1", "--speed", "max"],
    );
    assert_eq!(sale.code(), Some(0), "{}", sale.output());
    let after = snapshot(&file);
    assert_eq!(count(&file), 2, "one ticket sold, the file replaced");
    assert_eq!(
        (after.mode, &after.attributes),
        (before.mode, &before.attributes)
    );

    // A directory whose default ACL gives nobody rw-: a new file there gets
    // it, the replaced one does not.
    let inherited = Scratch::new();
    let plain = inherited.write("ticket.json", r#"{"count": 3}"#);
    chmod(&plain, 0o640);
    if !set_attribute(&inherited.path(""), "system.posix_acl_default", &access) {
        return;
    }
    let before = snapshot(&plain);
    let run = run(
        program,
        &["--file", &plain, "--buyers", "1", "--speed", "max"],
    );
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let after = snapshot(&plain);
    assert_eq!(
        (after.mode, after.attributes),
        (before.mode, before.attributes)
    );
}

/// As nobody, a file carrying an attribute only a privileged process may
/// set (`security.capability`, a file capability) is refused before any
/// write, in one line saying which, the file as it was: its new version
/// could not carry it. Skipped when not root.
pub fn refuses_attributes_it_cannot_copy(program: &str) {
    if !is_root() {
        return;
    }
    let dir = Scratch::new();
    chmod(&dir.path(""), 0o777);
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    chmod(&file, 0o666);
    nix::unistd::chown(file.as_str(), Some(NOBODY.into()), Some(NOBODY.into())).expect("chown");
    // VFS_CAP_REVISION_2: CAP_NET_BIND_SERVICE permitted.
    let capability: Vec<u8> = [0x0200_0000u32, 1 << 10, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    if !set_attribute(&file, "security.capability", &capability) {
        return;
    }
    let (before, files) = (snapshot(&file), names(&dir));
    let trace = dir.path("trace.jsonl");
    let mut command = Command::new(runnable_by_anyone(program));
    command.uid(NOBODY).gid(NOBODY).env_remove("LESSON_TRACE");
    command.args(["--file", &file, "--speed", "max", "--trace", &trace]);
    refused(&mut command, &[1], &file, &["security.capability"]);
    assert_eq!(snapshot(&file), before);
    let mut files_after = names(&dir);
    files_after.remove("trace.jsonl");
    assert_eq!(files_after, files, "no probe, no lock file left");
}

/// Undoes `chattr +a` and `+i` when dropped, for the scratch directory to
/// be removed.
struct Chattr(String);

impl Chattr {
    fn set(path: &str, flag: &str) -> Chattr {
        let done = Command::new("chattr").args([flag, path]).status();
        assert!(done.is_ok_and(|s| s.success()), "chattr {flag} {path}");
        Chattr(path.to_owned())
    }
}

impl Drop for Chattr {
    fn drop(&mut self) {
        let _ = Command::new("chattr").args(["-a", "-i", &self.0]).status();
    }
}

/// An append-only or immutable file (`chattr +a`, `+i`), or one in an
/// append-only directory, is refused before any buyer starts, in one line
/// saying so: the system lets nobody replace it, root included. Skipped
/// when not root, or where chattr is missing or not supported.
pub fn refuses_append_only_and_immutable_files(program: &str) {
    if !is_root() {
        return;
    }
    let dir = Scratch::new();
    let probe = dir.write("probe", "");
    if !Command::new("chattr")
        .args(["+a", &probe])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: chattr +a does not work here");
        return;
    }
    drop(Chattr(probe));
    let file = dir.write("ticket.json", r#"{"count": 3}"#);
    let inner = dir.path("inner");
    fs::create_dir(&inner).expect("mkdir");
    let nested = dir.write("inner/ticket.json", r#"{"count": 3}"#);
    for (path, flag, target, says) in [
        (&file, "+a", &file, "append-only"),
        (&file, "+i", &file, "immutable"),
        (&nested, "+a", &inner, "its directory"),
    ] {
        let chattr = Chattr::set(target, flag);
        let before = snapshot(path);
        for extra in [&[][..], &["--tickets", "5"]] {
            let args = [&["--file", path.as_str(), "--speed", "max"][..], extra].concat();
            let run = run(program, &args);
            assert_refused(run.code(), &run.stderr, &[1], path, &[says]);
            assert!(run.stderr.contains(&format!("chattr -{}", &flag[1..])));
            assert_eq!(run.events("search").count(), 0, "{}", run.output());
            assert_eq!(snapshot(path), before, "{flag}");
        }
        drop(chattr);
    }
}

/// A path too long for the system (`PATH_MAX`) once a sale writes a new
/// file beside it, from a working directory deeper than that or given
/// whole, is refused before anything is written, in one line that shows
/// the path cut short; so is a name too long for its new file (`NAME_MAX`).
pub fn refuses_a_path_too_long(program: &str) {
    let dir = Scratch::new();
    // 25 directories of 200 letters: made, and entered, one at a time.
    let step = "d".repeat(200);
    let script = r#"for i in $(seq 25); do mkdir "$0" && cd -P "$0" || exit 9; done
printf '{"count": 5}' > ticket.json
"$@" --file ticket.json --speed max >/dev/null 2>err; echo "exit $?"; cat err; cat ticket.json; echo; ls -a"#;
    let out = output(
        Command::new("sh")
            .args(["-c", script, &step, program])
            .current_dir(dir.path("")),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.first(), Some(&"exit 1"), "{said}");
    assert_refused(
        Some(1),
        &format!("{}\n", lines[1]),
        &[1],
        "ticket.json",
        &["PATH_MAX"],
    );
    assert_eq!(lines[2], r#"{"count": 5}"#, "{said}");
    assert_eq!(
        lines[3..],
        [".", "..", "err", "ticket.json"],
        "nothing written"
    );

    let whole = format!("{}/{}ticket.json", dir.path(""), "x/".repeat(2100));
    let long_name = dir.path(&format!("{}.json", "n".repeat(240)));
    for (file, says) in [(&whole, "PATH_MAX"), (&long_name, "NAME_MAX")] {
        let run = run(program, &["--file", file, "--speed", "max"]);
        let end = &file[file.len() - 40..];
        assert_refused(run.code(), &run.stderr, &[1], end, &[says]);
        assert!(run.stderr.len() < 400, "{}", run.stderr);
        assert!(run.stderr.contains('…'), "{}", run.stderr);
    }
    assert_eq!(names(&dir), [step].into_iter().collect(), "nothing written");
}

/// Counts written otherwise than as a whole number are named for what they
/// are: too large (with the limit), a whole number to write as one (with
/// how), and JSON nested too deeply (with the limit), not "not JSON". A
/// value is quoted cut short, a string of a megabyte or a number of 900,000
/// digits too: the refusal stays one readable line.
pub fn refuses_bad_counts_in_words_that_fit(program: &str) {
    let dir = Scratch::new();
    let deep = format!(
        r#"{{"count":3,"x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let long_string = format!(r#"{{"count":"{}"}}"#, "x".repeat(1_000_000));
    let long_number = format!(r#"{{"count":3{}e-900000}}"#, "0".repeat(900_000));
    let long_key = format!(r#"{{"count":3,"{0}":1,"{0}":2}}"#, "k".repeat(400_000));
    for (text, says) in [
        (
            r#"{"count": 18446744073709551616}"#,
            "more than the 1000000 tickets",
        ),
        (r#"{"count": 1e400}"#, "more than the 1000000 tickets"),
        (r#"{"count": 3.0}"#, "write it as a whole number, like 3"),
        (r#"{"count": 3e0}"#, "write it as a whole number, like 3"),
        (r#"{"count": 2.5}"#, "not a whole number"),
        (
            &deep,
            "nested too deeply: arrays and objects more than 127 deep",
        ),
        (&long_string, "not a whole number"),
        (&long_number, "write it as a whole number, like 3"),
        (&long_key, "there twice"),
    ] {
        let file = dir.write("ticket.json", text);
        let before = snapshot(&file);
        let run = run(program, &["--file", &file, "--speed", "max"]);
        assert_refused(run.code(), &run.stderr, &[1], &file, &[says]);
        assert!(run.stderr.len() < 400, "{}", cut(&run.stderr));
        assert_eq!(snapshot(&file), before, "{}", cut(text));
    }
}

/// Every process draws the random part of its temporary names itself
/// (a generator in memory is copied by `fork`): main's and the four
/// buyers' names, seen as they are made (inotify), all differ in it.
/// Linux only: macOS has no inotify.
#[cfg(target_os = "linux")]
pub fn temporary_names_differ_in_every_process(program: &str) {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let dir = Scratch::new();
    let file = dir.path("ticket.json");
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK).expect("inotify");
    inotify
        .add_watch(dir.path("").as_str(), AddWatchFlags::IN_CREATE)
        .expect("watch");
    let args = [
        "--file",
        &file,
        "--tickets",
        "4",
        "--buyers",
        "4",
        "--speed",
        "max",
    ];
    let run = run(program, &args);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let mut made = Vec::new();
    while let Ok(events) = inotify.read_events() {
        made.extend(events.into_iter().filter_map(|e| e.name));
    }
    let parts: Vec<(String, String)> = made
        .iter()
        .filter_map(|name| {
            let name = name.to_str()?.strip_prefix(".ticket.json.")?;
            let (pid, random) = name.strip_suffix(".lesson-tmp")?.split_once('.')?;
            Some((pid.to_owned(), random.to_owned()))
        })
        .collect();
    let pids: BTreeSet<&String> = parts.iter().map(|(pid, _)| pid).collect();
    let randoms: BTreeSet<&String> = parts.iter().map(|(_, random)| random).collect();
    assert!(pids.len() >= 5, "main and four buyers: {made:?}");
    assert_eq!(randoms.len(), parts.len(), "a random part twice: {parts:?}");
}

/// `--fsync` as nobody in a directory of mode 0300 (nobody may write and
/// enter it, not read it, so it cannot be opened to be flushed): the sale
/// is said, once, before it starts, to flush its new files alone, and it
/// stands: every buyer bought, exit 0, the reckoning the file's. And where
/// the directory becomes so mid-sale, each buyer that renamed its write
/// into place says the directory could not be flushed, and still bought.
/// Skipped when not root.
pub fn a_durable_sale_stands_where_the_directory_cannot_be_flushed(program: &str) {
    if !is_root() {
        return;
    }
    for mid_sale in [false, true] {
        let top = Scratch::new();
        chmod(&top.path(""), 0o777);
        let dir = top.path("office");
        fs::create_dir(&dir).expect("mkdir");
        let file = top.write("office/ticket.json", r#"{"count": 3}"#);
        for path in [&dir, &file] {
            nix::unistd::chown(path.as_str(), Some(NOBODY.into()), Some(NOBODY.into()))
                .expect("chown");
        }
        chmod(&dir, if mid_sale { 0o700 } else { 0o300 });
        let trace = top.path("trace.jsonl");
        let speed = if mid_sale { "4" } else { "max" };
        let mut command = Command::new(runnable_by_anyone(program));
        command.uid(NOBODY).gid(NOBODY).env_remove("LESSON_TRACE");
        command.args([
            "--file",
            &file,
            "--tickets",
            "7",
            "--buyers",
            "3",
            "--fsync",
        ]);
        command.args(["--speed", speed, "--trace", &trace]);
        // Once the file is stocked, before any buyer writes (each sleeps first).
        let watcher = mid_sale.then(|| {
            let (trace, dir) = (trace.clone(), dir.clone());
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while !fs::read_to_string(&trace).is_ok_and(|t| t.contains(r#""event":"sale""#)) {
                    assert!(std::time::Instant::now() < deadline, "no sale");
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                chmod(&dir, 0o300);
            })
        });
        let out = output(&mut command);
        if let Some(watcher) = watcher {
            watcher.join().expect("the watcher");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(out.status.code(), Some(0), "{said}");
        let lines = if mid_sale { 3 } else { 1 };
        assert_eq!(stderr.lines().count(), lines, "{said}");
        for line in stderr.lines() {
            assert!(
                line.contains("flushed") && line.contains("Permission denied"),
                "{said}"
            );
        }
        let records = common::log::read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let summary = &records
            .iter()
            .rfind(|r| r.event == "summary")
            .expect("a summary")
            .fields;
        assert_eq!(
            (&summary["bought"], &summary["errors"]),
            (&3.into(), &0.into()),
            "{said}"
        );
        assert_eq!(summary["left"], count(&file), "{said}");
    }
}

/// A tmpfs of its own, mounted on a scratch directory, and unmounted when
/// dropped, before the directory is removed.
#[derive(Debug)]
pub struct SmallDisk(Scratch);

impl SmallDisk {
    /// A tmpfs of `size` (`16k`); `None`, having said the test is skipped,
    /// where none can be mounted (only root may).
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let dir = Scratch::new();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path(""))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: cannot mount a small tmpfs here (root only)");
        }
        mounted.then_some(SmallDisk(dir))
    }

    /// Writes zeros to the file `name` on it until it is full.
    pub fn fill(&self, name: &str) {
        use std::io::Write;
        let mut file = fs::File::create(self.0.path(name)).expect("create");
        let zeros = [0; 4096];
        while file.write(&zeros).is_ok_and(|n| n > 0) {}
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path("")).status();
    }
}

/// A ticket file on a full disk is refused before the first write, in one
/// line (not an error and a "failed" for each buyer), the file and its
/// directory as they were: a sale writes each new version beside the file.
/// Once there is room, the same sale goes through. Skipped when not root.
pub fn refuses_a_full_disk_before_the_first_write(program: &str) {
    let Some(disk) = SmallDisk::mount("64k") else {
        return;
    };
    let file = disk.0.write("c.json", r#"{"count":50}"#);
    disk.fill("fill");
    let (before, files) = (snapshot(&file), names(&disk.0));
    let args = ["--file", &file, "--buyers", "20", "--speed", "max"];
    let run_full = run(program, &args);
    assert_refused(run_full.code(), &run_full.stderr, &[1], &file, &["is full"]);
    assert_eq!(
        run_full.events("search").count(),
        0,
        "{}",
        run_full.output()
    );
    assert_eq!((snapshot(&file), names(&disk.0)), (before, files));
    fs::remove_file(disk.0.path("fill")).expect("rm");
    let sale = run(program, &args);
    assert_eq!(sale.code(), Some(0), "{}", sale.output());
    assert!(count(&file) < 50, "{}", sale.output());
}

/// A ticket file removed mid-sale: the buyers that read it after, and the
/// reckoning, say so in the system's words ("No such file or directory"),
/// not in Rust's name for the kind of error ("entity not found").
pub fn a_file_removed_mid_sale_is_said_in_the_systems_words(program: &str) {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 5}"#);
    // Each buyer sleeps 0.5 to 1.5 s before it reads the file.
    let args = ["--file", &file, "--buyers", "2", "--speed", "1"];
    let lesson = start(program, &args);
    lesson.wait_for("sale", 1);
    fs::remove_file(&file).expect("rm");
    let run = lesson.finish();
    assert_eq!(run.code(), Some(1), "{}", run.output());
    let said = run.output();
    assert!(
        said.contains(&format!(
            "{file}: cannot read it: No such file or directory"
        )),
        "{said}"
    );
    assert!(!said.contains("entity"), "{said}");
}

/// A sale stopped under `--lang zh` reckons in Chinese: "the file says 5
/// left" is 文件里剩余 5 张, with no stray space where the count is put in.
pub fn a_stopped_sale_reckons_in_chinese(program: &str) {
    let dir = Scratch::new();
    let file = dir.write("ticket.json", r#"{"count": 5}"#);
    let args = ["--file", &file, "--buyers", "2", "--speed", "1"];
    let lesson = start(program, &[&args[..], &["--lang", "zh"]].concat());
    lesson.wait_for("sale", 1);
    lesson.signal(nix::sys::signal::Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
    let said = run.output();
    let reckoning = said
        .lines()
        .find(|l| l.contains("清点"))
        .expect("a reckoning");
    assert!(reckoning.contains("文件里剩余 "), "{said}");
    assert!(!reckoning.contains("文件里说"), "{said}");
}

#[cfg(not(target_os = "linux"))]
pub fn temporary_names_differ_in_every_process(_program: &str) {
    eprintln!("skipped: no inotify here to watch the names being made");
}
