//! The frame around every lesson: its options, its start, and an end that
//! reaps every child on every path (normal end, error, panic, Ctrl-C), like
//! Python's main process, which waits for its children before it exits.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::error::ErrorKind;

use crate::log::{self, Record};
use crate::timing::{self, Speed};
use nix::libc;
use nix::unistd::getuid;

use crate::{Context, Result, process, system};

/// The lesson's name and what it demonstrates, for `--help` and messages.
#[derive(Debug, Clone, Copy)]
pub struct About {
    pub name: &'static str,
    pub description: &'static str,
}

/// The options every lesson has.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Run the clock N times faster (each sleep is divided by N); 'max' never sleeps
    #[arg(
        long,
        value_name = "N|max",
        env = "LESSON_SPEED",
        hide_env_values = true,
        default_value = "1"
    )]
    pub speed: Speed,

    /// Make the random sleeps reproducible: the same N gives each process the same draws
    #[arg(long, value_name = "N", env = "LESSON_SEED", hide_env_values = true)]
    pub seed: Option<u64>,

    /// Also write every event as one JSON object a line to FILE (replaced at the start)
    #[arg(
        long,
        value_name = "FILE",
        env = "LESSON_TRACE",
        hide_env_values = true
    )]
    pub trace: Option<PathBuf>,

    /// Make the child called NAME panic as it starts, to see how its parent learns of it
    #[arg(long, value_name = "NAME")]
    pub panic_in: Option<String>,
}

/// A value the command line allowed but this system cannot take: reported
/// like a bad option, with exit status 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (see --help)", self.0)
    }
}

impl std::error::Error for Usage {}

static PANIC_IN: OnceLock<String> = OnceLock::new();
static SCRATCH: OnceLock<(PathBuf, u32)> = OnceLock::new();

/// Parses the command line; `--help` prints and exits 0, a bad option or value
/// is one line on standard error and exit status 2.
pub fn parse<A: clap::Parser>(about: &About) -> A {
    let command = A::command()
        .name(about.name)
        .bin_name(about.name)
        .about(about.description);
    match command
        .try_get_matches()
        .and_then(|m| A::from_arg_matches(&m))
    {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            log::plain_error(format!("{}: {first} (see --help)", about.name));
            std::process::exit(2);
        }
    }
}

/// Runs a lesson: parses `A`, sets up logging, timing and the trace, runs
/// `body`, reaps every child still running, then runs `after` with the trace
/// records (to draw and judge what happened).
///
/// Exit status: 0; 1 for an error or a child that failed, panicked or was
/// killed; 2 for bad usage; 101 if the lesson itself panicked; 128 + the
/// signal (130, 143) when stopped by SIGINT or SIGTERM.
pub fn run<A: clap::Parser>(
    about: About,
    options: impl Fn(&A) -> &Options,
    body: impl FnOnce(&A) -> Result,
    after: impl FnOnce(&A, &[Record]) -> Result,
) -> ExitCode {
    let args: A = parse(&about);
    let trace = match begin(&about, options(&args)) {
        Ok(trace) => trace,
        Err(e) => {
            log::plain_error(format!("{}: {e}", about.name));
            remove_scratch_dir();
            return ExitCode::FAILURE;
        }
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&args)));
    if !matches!(outcome, Ok(Ok(()))) && process::stop_signal().is_none() {
        process::signal_all(nix::sys::signal::Signal::SIGTERM);
    }
    let reaped = process::reap_all();
    let code = match (process::stop_signal(), outcome) {
        (Some(signal), _) => {
            log::warn(match reaped {
                0 => format!("stopped by {signal}; no child was left running"),
                n => format!(
                    "stopped by {signal}; the {n} children still running were stopped and reaped"
                ),
            });
            128 + signal as u8
        }
        (None, Err(_)) => {
            log::warn("the lesson panicked; its children were stopped and reaped all the same");
            101
        }
        (None, Ok(Err(e))) => {
            log::plain_error(format!("{}: {e}", about.name));
            if e.is::<Usage>() { 2 } else { 1 }
        }
        (None, Ok(Ok(()))) => match log::read_trace(&trace).and_then(|r| after(&args, &r)) {
            Err(e) => {
                log::plain_error(format!("{}: {e}", about.name));
                1
            }
            Ok(()) if process::failures() > 0 => 1,
            Ok(()) => 0,
        },
    };
    remove_scratch_dir();
    ExitCode::from(code)
}

/// Sets up the lesson process; returns the trace file it writes.
fn begin(about: &About, options: &Options) -> Result<PathBuf> {
    if let Some(name) = &options.panic_in {
        let _ = PANIC_IN.set(name.clone());
    }
    let trace = match &options.trace {
        Some(path) => path.clone(),
        None => scratch_dir()?.join("trace.jsonl"),
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&trace)
        .and_then(|f| f.set_len(0).map(|()| f))
        .context(format!("opening the trace {}", trace.display()))?;
    log::init(Some(file));
    let seed = timing::init(options.speed, options.seed);
    process::forward_stop_signals()?;
    log::line(format!(
        "{} starts: pid {}, speed {}, seed {seed} (--seed {seed} replays these draws)",
        about.name,
        std::process::id(),
        options.speed
    ));
    Ok(trace)
}

/// Makes the lesson adopt its orphaned descendants (unless `leave_to_system`),
/// and says which it will be. Returns true if the lesson is the subreaper.
pub fn adopt_orphans(leave_to_system: bool) -> bool {
    if leave_to_system {
        return false;
    }
    match process::become_subreaper() {
        Ok(()) => true,
        Err(e) => {
            log::warn(format!("cannot adopt orphans ({e}); they go to the system"));
            false
        }
    }
}

/// Prints a part's title and a few lines of explanation.
pub fn heading(title: &str, text: &str) {
    log::plain("");
    log::plain(format!("── {title} ──"));
    for line in text.lines() {
        log::plain(line.trim());
    }
}

/// Refuses an `option` of `n` processes that would come near the system's
/// limits (the pids it has, the user's process limit), with exit status 2.
pub fn check_room(n: u32, option: &str) -> Result<()> {
    let user = if getuid().is_root() {
        None // root ignores the process limit
    } else {
        let limit = nproc_limit().ok().filter(|&l| l != libc::RLIM_INFINITY);
        limit.map(|l| (system::processes_of_user(getuid().as_raw()), l))
    };
    room(
        n as usize,
        option,
        system::processes().len(),
        system::pid_max(),
        user,
    )
    .map_err(|e| Usage(e).into())
}

/// Whether `n` more processes leave room: at least half of the pids free,
/// and 16 processes to spare under the user's limit (`user`: processes it
/// runs, its limit).
fn room(
    n: usize,
    option: &str,
    running: usize,
    pid_max: Option<usize>,
    user: Option<(usize, u64)>,
) -> std::result::Result<(), String> {
    if let Some(pid_max) = pid_max.filter(|&max| running + n > max / 2) {
        return Err(format!(
            "{option} {n} is too many here: with {running} processes running, it would take \
             more than half of the {pid_max} pids (pid_max)"
        ));
    }
    if let Some((mine, limit)) = user.filter(|&(mine, limit)| (mine + n + 16) as u64 > limit) {
        return Err(format!(
            "{option} {n} is too many here: you run {mine} processes and may run {limit} (ulimit -u)"
        ));
    }
    Ok(())
}

// Through libc: nix has no RLIMIT_NPROC on macOS, which has the limit.

/// The soft limit on the processes of this process's user.
fn nproc_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    match unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } {
        0 => Ok(limit.rlim_cur),
        _ => Err(std::io::Error::last_os_error()),
    }
}

pub(crate) fn set_nproc_limit(max: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: max,
        rlim_max: max,
    };
    // SAFETY: `limit` is a valid rlimit.
    match unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// True if `--panic-in` names this child.
pub(crate) fn panics_in(name: &str) -> bool {
    PANIC_IN.get().is_some_and(|n| n == name)
}

/// A private directory (mode 0700) for this run's lock and trace files,
/// removed when the lesson ends.
pub fn scratch_dir() -> Result<&'static Path> {
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
        .context(format!("creating the directory {}", dir.display()))?;
    let (dir, _) = SCRATCH.get_or_init(|| (dir, std::process::id()));
    Ok(dir)
}

fn remove_scratch_dir() {
    if let Some((dir, owner)) = SCRATCH.get() {
        if *owner == std::process::id() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::room;

    #[test]
    fn a_flood_must_leave_room_under_both_limits() {
        assert!(room(100, "--flood", 200, Some(32768), None).is_ok());
        let pids = room(1000, "--flood", 200, Some(2048), None).expect_err("over half the pids");
        assert!(pids.contains("pid_max") && !pids.contains('\n'), "{pids}");
        assert!(room(100, "--flood", 200, None, Some((50, 200))).is_ok());
        let user =
            room(100, "--flood", 200, None, Some((90, 200))).expect_err("over the user limit");
        assert!(user.contains("ulimit -u"), "{user}");
    }
}
