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
use clap::{FromArgMatches, Parser};
use nix::libc;
use nix::sys::signal::Signal;
use nix::unistd::getuid;

use crate::error::{Context, Result, Usage};
use crate::timing::{self, Speed};
use crate::{child, log, signals, system};

/// The options every lesson has: flatten them into the lesson's own `Args`.
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

/// The lesson's name, and the process that made the scratch directory.
static NAME: OnceLock<String> = OnceLock::new();
static SCRATCH: OnceLock<(PathBuf, u32)> = OnceLock::new();

/// Runs a lesson: parses its `Args` (`--help` prints and exits 0; a bad
/// option is one line on standard error and exit status 2), opens the
/// trace, runs `lesson`, then reaps every child still running.
///
/// Exit status: 0; 1 for an error or a child that failed, panicked or was
/// killed; 2 for bad usage; 101 if the lesson itself panicked; 128 + the
/// signal (130, 143) when stopped by SIGINT or SIGTERM.
pub fn run<A: Parser>(lesson: impl FnOnce(A) -> Result) -> ExitCode {
    let (args, options) = parse::<A>();
    if let Err(e) = begin(&options) {
        log::plain_error(format!("{}: {e}", name()));
        remove_scratch_dir();
        return ExitCode::FAILURE;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| lesson(args)));
    if !matches!(outcome, Ok(Ok(()))) && !signals::stopping() {
        child::kill_all(Signal::SIGTERM);
    }
    let reaped = child::reap_all();
    let code = match (signals::stop_signal(), outcome) {
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
            log::plain_error(format!("{}: {e}", name()));
            if e.is::<Usage>() { 2 } else { 1 }
        }
        (None, Ok(Ok(()))) if child::failures() > 0 => 1,
        (None, Ok(Ok(()))) => 0,
    };
    remove_scratch_dir();
    ExitCode::from(code)
}

/// The lesson's `Args`, and the options every lesson has, flattened in them.
fn parse<A: Parser>() -> (A, Options) {
    let command = A::command();
    let _ = NAME.set(command.get_name().to_owned());
    let parsed = command
        .try_get_matches()
        .and_then(|m| Ok((A::from_arg_matches(&m)?, Options::from_arg_matches(&m)?)));
    match parsed {
        Ok(parsed) => parsed,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            log::plain_error(format!("{}: {first} (see --help)", name()));
            std::process::exit(2);
        }
    }
}

fn name() -> &'static str {
    NAME.get().map_or("lesson", String::as_str)
}

/// Sets up the lesson process: the trace, the clock, Ctrl-C.
fn begin(options: &Options) -> Result<()> {
    if let Some(name) = &options.panic_in {
        child::panic_in(name);
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
    log::init(file, &trace);
    let seed = timing::init(options.speed, options.seed);
    signals::forward_stop_signals()?;
    log::say(format!(
        "{} starts: pid {}, speed {}, seed {seed} (--seed {seed} replays these draws)",
        name(),
        std::process::id(),
        options.speed
    ));
    Ok(())
}

/// Refuses an `option` of `n` processes that would come near the system's
/// limits (the pids it has, the user's process limit), with exit status 2.
pub fn check_room(n: u32, option: &str) -> Result<()> {
    let user = if getuid().is_root() {
        None // root ignores the process limit
    } else {
        let limit = system::getrlimit_nproc()
            .ok()
            .filter(|&l| l != libc::RLIM_INFINITY);
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

/// A private directory (mode 0700) for this run's lock and trace files,
/// removed when the lesson ends.
pub(crate) fn scratch_dir() -> Result<&'static Path> {
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
