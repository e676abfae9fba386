//! Every line a learner sees says when, which process and who:
//! `  0.512s   12345 p1        starts printing`, so an interleaving can be read.
//! The same moments go to the trace, one JSON object a line, for the timeline
//! and the tests.

use std::fmt::Display;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use compact_str::CompactString;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Result};
use crate::wrap;

/// Set once in the lesson process before any `fork`; every child inherits it,
/// so all processes measure time from the same instant and append to the
/// same trace (opened `O_APPEND`: each line lands whole at the end).
struct Setup {
    start: Instant,
    colour: bool,
    /// The terminal's width, to wrap prose to; `None` for a pipe or a file.
    width: Option<usize>,
    trace: File,
    path: PathBuf,
    /// The `--trace` file, which gets every record too.
    copy: Option<File>,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

/// Who this process is: "main" in the lesson process, the name it was
/// spawned with in a child. Each process has its own copy after `fork`.
static WHO: Mutex<Who> = Mutex::new(Who {
    name: None,
    ordinal: None,
    line: Vec::new(),
});

struct Who {
    /// `None` in the lesson's main process.
    name: Option<CompactString>,
    /// Which child it was started as, which gives its lines their colour.
    ordinal: Option<usize>,
    /// The buffer its records are made in: one, not an allocation a record,
    /// each a page a child may have to copy from its parent.
    line: Vec<u8>,
}

/// The first error writing the trace, and standard output, in this process.
static TRACE_ERROR: OnceLock<String> = OnceLock::new();
static OUTPUT_ERROR: OnceLock<String> = OnceLock::new();
/// Set for long runs: [`event`] then only traces, it prints nothing.
static QUIET: AtomicBool = AtomicBool::new(false);

const PALETTE: [u8; 12] = [32, 33, 34, 35, 36, 31, 92, 93, 94, 95, 96, 91];

pub(crate) fn init(trace: File, path: &Path, copy: Option<File>) {
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = SETUP.set(Setup {
        start: Instant::now(),
        colour,
        width: wrap::terminal_width(),
        trace,
        path: path.to_owned(),
        copy,
    });
}

/// Called in a freshly forked child: from now on its lines carry `name`,
/// and on Linux `ps`, `pstree` and `/proc/PID/comm` show it by that name too
/// (`prctl(PR_SET_NAME)`), not by the program's, which only the lesson's
/// main process keeps. The kernel keeps 15 bytes of a name and drops the
/// rest; the lessons' longest is `buyer-4000`, 10 bytes. macOS has no such
/// call: there every child keeps the program's name.
pub(crate) fn become_child(name: CompactString, ordinal: usize) {
    #[cfg(target_os = "linux")]
    prctl_set_name(&name);
    let mut who = WHO.lock().unwrap_or_else(|e| e.into_inner());
    // This child's heap is its parent's until it writes to it, and every
    // page it writes to is copied: the parent's name is forgotten, not
    // dropped, which would free it if it were too long to be inline.
    std::mem::forget(who.name.replace(name));
    who.ordinal = Some(ordinal);
}

/// The name in a buffer on the stack, not in a `CString`: see above. Made
/// a byte at a time, not copied by `memcpy`, whose page of code a child
/// that only starts and exits would otherwise map for this alone.
#[cfg(target_os = "linux")]
fn prctl_set_name(name: &str) {
    let name = name.as_bytes();
    let comm: [u8; 16] = std::array::from_fn(|i| name.get(i).filter(|_| i < 15).map_or(0, |&b| b));
    if let Ok(comm) = std::ffi::CStr::from_bytes_until_nul(&comm) {
        // rustix makes the system call itself: libc's `prctl`, which nix
        // calls, would be one more page of code for every child to map.
        let _ = rustix::thread::set_name(comm);
    }
}

/// Seconds since the lesson started.
fn elapsed() -> f64 {
    SETUP.get().map_or(0.0, |s| s.start.elapsed().as_secs_f64())
}

/// The short name of the calling process ("main" for the lesson itself).
pub(crate) fn who() -> String {
    let who = WHO.lock().unwrap_or_else(|e| e.into_inner());
    who.name.as_deref().unwrap_or("main").to_owned()
}

/// Prints one line for the learner, prefixed with time, pid and name.
pub fn say(text: impl Display) {
    emit(elapsed(), false, &text.to_string(), None);
}

/// Like [`say`], for a line that ends with `command`, one to paste: on a
/// terminal too narrow for the line, the command is broken only as it
/// pastes, with a backslash at the end of each line it goes on from.
pub(crate) fn say_command(text: impl Display, command: &str) {
    emit(elapsed(), false, &text.to_string(), Some(command));
}

/// Like [`say`], on standard error: for what went wrong.
pub(crate) fn warn(text: impl std::fmt::Display) {
    emit(elapsed(), true, &text.to_string(), None);
}

fn emit(t: f64, to_stderr: bool, text: &str, command: Option<&str>) {
    let ordinal = WHO.lock().unwrap_or_else(|e| e.into_inner()).ordinal;
    let colour = ordinal.map(|i| PALETTE[i % PALETTE.len()]);
    let prefix = format!("{:>7.3}s {:>7} {:<9} ", t, crate::signals::pid(), who());
    // Wrapped lines go on under the text, past time, pid and name.
    let indent = " ".repeat(wrap::columns(&prefix));
    let colour = colour.filter(|_| SETUP.get().is_some_and(|s| s.colour));
    let lines = match (room(indent.len()), command) {
        (Some(width), Some(command)) => wrap::ending_with_command(text, command, width),
        (Some(width), None) => wrap::wrap(text, width),
        (None, _) => vec![text.to_owned()],
    };
    let line: String = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let l = if i == 0 {
                format!("{prefix}{l}")
            } else {
                format!("{indent}{l}")
            };
            match colour {
                Some(c) => format!("\x1b[{c}m{l}\x1b[0m\n"),
                None => l + "\n",
            }
        })
        .collect();
    // One write per line, flushed at once: a line from another process can
    // come before or after it, never inside it.
    if to_stderr {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
    } else {
        let mut out = std::io::stdout().lock();
        noted(out.write_all(line.as_bytes()).and_then(|()| out.flush()));
    }
}

/// Keeps the first error writing standard output, for the lesson to report
/// at its end. A closed pipe (`| head`) is no error: the reader has seen
/// all it wanted.
fn noted(written: std::io::Result<()>) {
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = OUTPUT_ERROR.set(e.to_string());
        }
    }
}

/// The first error this process met writing standard output, if any.
pub(crate) fn output_error() -> Option<&'static str> {
    OUTPUT_ERROR.get().map(String::as_str)
}

/// The first error this process met writing the trace, if any.
pub(crate) fn trace_error() -> Option<&'static str> {
    TRACE_ERROR.get().map(String::as_str)
}

/// Prints `text` as it is, a line of a report. Like every line here, never
/// panics: a closed output (`| head`) must not turn into a panic that leaves
/// children behind.
pub(crate) fn plain(text: impl Display) {
    let mut out = std::io::stdout().lock();
    noted(writeln!(out, "{text}").and_then(|()| out.flush()));
}

/// Prints prose, wrapped to the terminal's width: a verdict, a reckoning.
/// Its indent stays, on every line it goes on to.
pub(crate) fn prose(text: impl Display) {
    let text = text.to_string();
    match room(0) {
        Some(width) => wrap::wrap(&text, width).into_iter().for_each(plain),
        None => plain(text),
    }
}

/// The columns left to wrap to on the terminal past `margin` columns, or
/// `None` for output that is no terminal, which is never wrapped.
fn room(margin: usize) -> Option<usize> {
    SETUP
        .get()
        .and_then(|s| s.width)
        .map(|width| width.saturating_sub(margin).max(20))
}

/// Prints `text` as it is on standard error: the one line of a failure.
pub(crate) fn plain_error(text: impl Display) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}").and_then(|()| err.flush());
}

/// "1 ticket", "3 tickets": `n` and the word that goes with it.
/// In Chinese, which has no plural, the number and the catalog's word for
/// `many`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    match (crate::i18n::lang(), n.into()) {
        (crate::i18n::Lang::Zh, n) => format!("{n} {}", crate::i18n::tr(many, &[])),
        (_, 1) => format!("1 {one}"),
        (_, n) => format!("{n} {many}"),
    }
}

/// Prints a part's title and a few lines of explanation, between the
/// processes' lines (see [`crate::heading`], which counts the parts).
pub(crate) fn heading(title: &str, text: &str) {
    plain("");
    plain(format!("── {title} ──"));
    for line in text.lines() {
        prose(line.trim());
    }
}

/// Prints `text`, like [`say`], and records `event` in the trace with
/// `fields` (a JSON object, or `()` for none).
pub fn event(event: &str, fields: impl Serialize, text: impl Display) {
    // One moment for both, as the trace writes it (to the microsecond): the
    // line and the timeline drawn from the trace give the same time.
    let t = (elapsed() * 1e6).round() / 1e6;
    record_at(t, event, fields);
    if !QUIET.load(Ordering::Relaxed) {
        emit(t, false, &text.to_string(), None);
    }
}

/// From now on, in this process and the children it starts, [`event`] only
/// records its events: for sales repeated hundreds of times.
pub(crate) fn quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Records `event` with `fields` (a JSON object, or `()` for none) in the
/// trace only: `{"t": …, "pid": …, "ppid": …, "who": …, "event": …, <fields>}`.
pub fn record(event: &str, fields: impl Serialize) {
    record_at(elapsed(), event, fields);
}

fn record_at(t: f64, event: &str, fields: impl Serialize) {
    let Some(setup) = SETUP.get() else {
        return;
    };
    let mut who = WHO.lock().unwrap_or_else(|e| e.into_inner());
    let mut line = std::mem::take(&mut who.line);
    line.clear();
    write_line(&mut line, &who, t, event, &fields);
    write_record(setup, &line);
    who.line = line;
    drop(who);
    crate::signals::reported();
}

fn write_record(setup: &Setup, record: &[u8]) {
    for mut file in std::iter::once(&setup.trace).chain(&setup.copy) {
        if let Err(e) = file.write_all(record) {
            // The lesson's main process says so once, as it ends; a child
            // by its exit status (see `child::end_child`).
            let _ = TRACE_ERROR.set(e.to_string());
        }
    }
}

#[cfg(test)]
fn json_line(t: f64, event: &str, fields: &impl Serialize) -> String {
    let mut line = Vec::new();
    let who = WHO.lock().unwrap_or_else(|e| e.into_inner());
    write_line(&mut line, &who, t, event, fields);
    String::from_utf8(line).expect("serde_json writes UTF-8")
}

/// The record, one line of JSON, into `line`: written in place, for a record
/// is made at every step of every child, and each allocation is a page the
/// child may have to copy from its parent.
fn write_line(line: &mut Vec<u8>, who: &Who, t: f64, event: &str, fields: &impl Serialize) {
    use std::io::Write as _;
    let (pid, ppid) = (crate::signals::pid(), crate::signals::parent());
    let _ = write!(
        line,
        "{{\"t\":{t:.6},\"pid\":{pid},\"ppid\":{ppid},\"who\":"
    );
    let name = who.name.as_deref().unwrap_or("main");
    let _ = serde_json::to_writer(&mut *line, name);
    line.extend_from_slice(b",\"event\":");
    let _ = serde_json::to_writer(&mut *line, event);
    // The fields, serialized right after: an object's members then join the
    // record's (its `{` becomes a comma, its `}` the record's own).
    let at = line.len();
    let _ = serde_json::to_writer(&mut *line, fields);
    const OWN: [&str; 5] = ["t", "pid", "ppid", "who", "event"];
    let written = &line[at..];
    let object = written.len() > 2 && written.starts_with(b"{") && written.ends_with(b"}");
    // A field named like one of the record's own keeps the record's value:
    // a key must not appear twice in one object. Where one may be there
    // (the text shows such a key anywhere), the members are read back and
    // the others written one by one.
    let is_key = |w: &[u8], key: &str| {
        w.strip_prefix(b"\"")
            .and_then(|w| w.strip_prefix(key.as_bytes()))
            .is_some_and(|w| w.starts_with(b"\":"))
    };
    let clash =
        object && (0..written.len()).any(|i| OWN.iter().any(|key| is_key(&written[i..], key)));
    if object && !clash {
        line[at] = b',';
        line.pop();
    } else {
        let members = match object {
            true => serde_json::from_slice::<serde_json::Map<String, Value>>(&line[at..]).ok(),
            false => None,
        };
        line.truncate(at);
        for (key, value) in members
            .iter()
            .flatten()
            .filter(|(k, _)| !OWN.contains(&k.as_str()))
        {
            line.push(b',');
            let _ = serde_json::to_writer(&mut *line, key);
            line.push(b':');
            let _ = serde_json::to_writer(&mut *line, value);
        }
    }
    line.extend_from_slice(b"}\n");
}

/// One line of a trace, as read back.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Record {
    pub t: f64,
    pub pid: i32,
    pub ppid: i32,
    pub who: String,
    pub event: String,
    /// The event's own fields (`count`, `left`, …).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, Value>,
}

/// The records this lesson's processes have written so far.
pub(crate) fn records() -> Result<Vec<Record>> {
    let path = SETUP
        .get()
        .map(|s| s.path.clone())
        .context("no trace was opened")?;
    read_trace(&path)
}

/// Reads a trace written by [`record`]: one JSON object a line.
pub fn read_trace(path: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).context(format!("reading the trace {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line).context(format!("{} line {}", path.display(), n + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_json_object_on_one_line() {
        let line = json_line(
            0.0,
            "bought",
            &serde_json::json!({"left": 2, "note": "a\nb"}),
        );
        assert!(line.ends_with("}\n") && line.matches('\n').count() == 1);
        let v: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(v["event"], "bought");
        assert_eq!(v["who"], "main");
        assert_eq!(v["left"], 2);
        assert_eq!(v["note"], "a\nb");
        let again = json_line(0.0, "parent", &serde_json::json!({"ppid": 1, "pid": 2}));
        assert_eq!(again.matches("\"ppid\"").count(), 1, "{again}");
        assert_eq!(again.matches("\"pid\"").count(), 1, "{again}");
        assert!(v["t"].is_f64() && v["pid"].is_u64() && v["ppid"].is_u64());
    }

    #[test]
    fn fields_follow_the_records_own_keys_as_written() {
        fn tail(fields: &impl Serialize) -> String {
            let line = json_line(0.0, "e", fields);
            line[line.find(",\"event\":").expect("event")..].to_owned()
        }
        let read = |text: &str| serde_json::from_str::<Value>(text).expect("JSON");
        let given = read(r#"{"of": 12, "name": "p1", "x": 1.50}"#);
        assert_eq!(
            tail(&given),
            ",\"event\":\"e\",\"of\":12,\"name\":\"p1\",\"x\":1.50}\n"
        );
        assert_eq!(tail(&()), ",\"event\":\"e\"}\n");
        assert_eq!(tail(&serde_json::json!({})), ",\"event\":\"e\"}\n");
        // A clash, read back: the rest keep their order and spelling.
        let clash = read(r#"{"a": 1.50, "who": "x", "b": [1]}"#);
        assert_eq!(tail(&clash), ",\"event\":\"e\",\"a\":1.50,\"b\":[1]}\n");
    }
}
