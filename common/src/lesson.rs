//! The frame around every lesson: its options, its start, and an end that
//! reaps every child on every path (normal end, error, panic, Ctrl-C), like
//! Python's main process, which waits for its children before it exits.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, FromArgMatches, Parser};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::signal::Signal;
use nix::unistd::getuid;
use serde_json::json;

use crate::error::{Context, Result, Usage, anyhow};
use crate::file::Follow;
use crate::i18n::{self, Lang};
use crate::quiz::{self, Question};
use crate::schedule::{self, Turns};
use crate::timing::{self, Speed};
use crate::{child, file, log, pause, scratch, signals, system};
use anyhow::bail;

/// The options every lesson has: flatten them into the lesson's own `Args`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Run the clock N times faster (each sleep is divided by N); 'max' never sleeps
    #[arg(long, value_name = "N|max", default_value = "1")]
    #[arg(env = "LESSON_SPEED", hide_env_values = true)]
    pub speed: Speed,

    /// Make the random sleeps reproducible: the same N gives each process the same sleeps
    /// (not the same order: when several processes are ready at once, the kernel picks)
    #[arg(long, value_name = "N", env = "LESSON_SEED", hide_env_values = true)]
    pub seed: Option<u64>,

    /// Also write every event as one JSON object a line to FILE (replaced at the start)
    #[arg(long, value_name = "FILE")]
    #[arg(env = "LESSON_TRACE", hide_env_values = true)]
    pub trace: Option<PathBuf>,

    /// Make the child called NAME panic as it starts, to see how its parent learns of it
    #[arg(long, value_name = "NAME")]
    pub panic_in: Option<String>,

    /// Wait for Enter at each step worth a look (a zombie, an orphan's new parent, processes
    /// waiting for a lock), saying what to run in another terminal to see it
    #[arg(long)]
    pub pause: bool,

    /// Before each part worth predicting, ask a question (answer with its number, from the
    /// terminal or a pipe, one a line); after it, say whether the run bore it out
    #[arg(long)]
    pub quiz: bool,

    /// The language of everything the lesson prints [default: from LC_ALL, LC_MESSAGES or
    /// LANG: zh if it starts with zh, else en]
    #[arg(long, value_enum, value_name = "zh|en")]
    #[arg(env = "LESSON_LANG", hide_env_values = true)]
    pub lang: Option<Lang>,
}

/// `common::run!(|args: Args| …)`: [`run`] with what lives beside the
/// lesson, found there, so that its `main.rs` names none of it: its Chinese
/// (`zh.txt`, see `i18n`) and its quiz (`quiz.rs`'s `QUIZ`).
#[macro_export]
#[allow(clippy::crate_in_macro_def)] // `crate`: the lesson's own quiz, on purpose
macro_rules! run {
    ($lesson:expr) => {
        $crate::run(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/zh.txt")),
            crate::quiz::QUIZ,
            $lesson,
        )
    };
}

/// The title of the lesson's next part (parts are counted by their headings)
/// and a few lines. With `--quiz`, the part that ends is judged first.
pub fn heading(title: &str, text: &str) -> Result<()> {
    quiz::next_part()?;
    log::heading(title, text);
    Ok(())
}

/// Fewer descriptors than this (`ulimit -n`) and a lesson would fail
/// half-way with "too many open files": it refuses at the start instead.
const MIN_OPEN_FILES: u64 = 16;

/// Less address space than this (`ulimit -v`, which counts KiB) and a
/// lesson's main process would abort half-way, on an allocation that
/// failed: it refuses at the start instead. At their defaults the lessons
/// take 4 to 7 MiB, and `ps`, which `zombie` runs, 9; the heaviest command
/// the README shows (`ticket-unsafe --runs 10 --buyers 200`), 16.
const MIN_ADDRESS_SPACE_KIB: u64 = 32 * 1024;

/// Exit status: 0; 1 for an error or a child that failed, panicked or was
/// killed; 2 for bad usage; 101 if the lesson itself panicked; 128 + the
/// signal (130, 143) when stopped by SIGINT or SIGTERM.
/// With `--every-schedule`, `lesson` runs once for each schedule, each time
/// with its arguments read anew.
pub fn run<A: Parser>(
    zh: &'static str,
    quiz: &'static [Question],
    lesson: impl Fn(A) -> Result,
) -> ExitCode {
    // First of all: a stop signal from now on stops the lesson, with its
    // line and its cleaning up, even one that comes as its files are made
    // (but SIGHUP, SIGINT or SIGQUIT it was started to ignore).
    let handled = signals::forward_stop_signals();
    signals::learn_of_parent_death();
    signals::undo_inherited();
    file::spare_the_owner_in_umask();
    let (name, matches, options, inputs, turns) = parse::<A>(zh);
    let begun = handled.and_then(|()| begin(&name, &options, &inputs, quiz));
    if let Err(e) = begun.and_then(|()| schedule::init(turns.as_ref(), options.pause)) {
        log::plain_error(format!("{name}: {e:#}"));
        scratch::remove();
        return ExitCode::from(if e.is::<Usage>() { 2 } else { 1 });
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // A `--panic-in` that named no process of this run is bad usage.
        let once = || lesson(A::from_arg_matches(&matches)?);
        let done = signals::check_stop()
            .and_then(|()| schedule::each_run(once))
            .and_then(|()| child::check_panic_in_at_end());
        quiz::end(done)
    }));
    if !matches!(outcome, Ok(Ok(()))) && !signals::stopping() {
        child::kill_all(Signal::SIGTERM);
    }
    child::reap_all();
    let code = match (signals::stop_signal(), outcome) {
        (Some(signal), _) => {
            let counts = child::counts();
            let (stopped, killed) = (counts.stopped, counts.killed_by_stop);
            // Counted as they were reaped after the signal: some may have
            // ended just before it, so "left" (to reap), not "running".
            let who = match stopped {
                1 => tr!("the one child left was"),
                n => tr!("the {} children left were", n),
            };
            // What killed them: the signal itself, or the SIGTERM passed on
            // for it (the first child it killed says which).
            let killer = counts.killed_by.unwrap_or(signal);
            log::warn(match (stopped, killed) {
                (0, _) => tr!("stopped by {}; no child was left to reap", signal),
                (n, k) if n == k && killer == signal => {
                    tr!("stopped by {}; {} killed by it and reaped", signal, who)
                }
                (n, k) if n == k => tr!(
                    "stopped by {}; {} killed by the {} it passed on, and reaped",
                    signal,
                    who,
                    killer
                ),
                (_, 0) => tr!("stopped by {}; {} reaped", signal, who),
                (_, k) => tr!(
                    "stopped by {}; {} reaped ({} killed by {})",
                    signal,
                    who,
                    k,
                    killer
                ),
            });
            128 + signal as u8
        }
        (None, Err(_)) => {
            log::warn(tr!(
                "the lesson panicked; its children were stopped and reaped all the same"
            ));
            101
        }
        (None, Ok(Err(e))) => {
            log::plain_error(format!("{name}: {e:#}"));
            if e.is::<Usage>() { 2 } else { 1 }
        }
        (None, Ok(Ok(()))) if child::counts().failures > 0 => 1,
        (None, Ok(Ok(()))) => 0,
    };
    if let Some(score) = quiz::score().filter(|_| code == 0) {
        log::prose("");
        log::prose(score);
    }
    let code = match (log::output_error(), log::trace_error()) {
        (Some(e), _) => {
            log::plain_error(tr!("{}: cannot write the output: {}", name, e));
            code.max(1)
        }
        (None, Some(e)) if code == 0 => {
            log::plain_error(tr!("{}: cannot write the trace: {}", name, e));
            1
        }
        (None, None) if code == 0 && child::counts().trace_lost > 0 => {
            let lost = child::counts().trace_lost;
            log::plain_error(tr!(
                "{}: cannot write the trace: {} of the lesson's processes could not write theirs",
                name,
                lost
            ));
            1
        }
        _ => code,
    };
    scratch::remove();
    ExitCode::from(code)
}

/// Also the files the options name, which the trace must not be, and the
/// schedule options of a lesson that has them. The language is fixed
/// first, for `--help` and clap's errors to speak it.
fn parse<A: Parser>(
    zh: &'static str,
) -> (String, ArgMatches, Options, Vec<PathBuf>, Option<Turns>) {
    let argv: Vec<OsString> = std::env::args_os().collect();
    i18n::init(i18n::from_args(&argv), zh);
    let command = A::command();
    let name = command.get_name().to_owned();
    // An empty `LESSON_*` counts as unset, as an empty locale variable does.
    let command = command.mut_args(|arg| match arg.get_env() {
        Some(var) if std::env::var_os(var).is_some_and(|v| v.is_empty()) => arg.env(None),
        _ => arg,
    });
    let command = i18n::help(command.bin_name(&name));
    let scheduled = command
        .get_arguments()
        .any(|a| a.get_id() == "every_schedule");
    let parsed = command.try_get_matches_from(argv).and_then(|m| {
        let mut inputs = Vec::new();
        for id in m.ids().filter(|id| id.as_str() != "trace") {
            if let Ok(Some(path)) = m.try_get_one::<PathBuf>(id.as_str()) {
                inputs.push(path.clone());
            }
        }
        // Read once here, so that bad arguments are refused before anything.
        A::from_arg_matches(&m)?;
        let turns = match scheduled {
            true => Some(Turns::from_arg_matches(&m)?),
            false => None,
        };
        Ok((Options::from_arg_matches(&m)?, inputs, turns, m))
    });
    match parsed {
        Ok((options, inputs, turns, m)) => (name, m, options, inputs, turns),
        // `--help`, `--version`: to standard output, exit status 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let first = i18n::usage_error(&e).unwrap_or_else(|| first.to_owned());
            log::plain_error(format!("{name}: {}", tr!("{} (see --help)", first)));
            std::process::exit(2);
        }
    }
}

fn begin(name: &str, options: &Options, inputs: &[PathBuf], quiz: &'static [Question]) -> Result {
    if let Some(child) = &options.panic_in {
        child::panic_in(child);
    }
    let (open_files, _) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if open_files < MIN_OPEN_FILES {
        bail!(Usage(tr!(
            "a process may open only {} files here (ulimit -n): a lesson needs {}",
            open_files,
            MIN_OPEN_FILES
        )));
    }
    let (address_space, _) = getrlimit(Resource::RLIMIT_AS).context("getrlimit")?;
    if address_space / 1024 < MIN_ADDRESS_SPACE_KIB {
        bail!(Usage(tr!(
            "a process may use only {} KiB of address space here (ulimit -v): a lesson needs {} KiB",
            address_space / 1024,
            MIN_ADDRESS_SPACE_KIB
        )));
    }
    scratch::remove_dead();
    if options.pause {
        pause::enable();
    }
    if options.quiz {
        quiz::enable(quiz);
    }
    // The lesson reads back its own trace, a file of its own; `--trace` gets
    // a copy of every record, whatever it is (/dev/null, a terminal).
    let own = scratch::dir()?.join("trace.jsonl");
    let copy = options.trace.as_ref().map(|p| open_trace(p, inputs));
    let copy = copy.transpose()?;
    log::init(open_trace(&own, &[])?, &own, copy);
    let seed = timing::init(options.speed, options.seed);
    log::event(
        "begin",
        json!({"lesson": name, "speed": options.speed.to_string(), "seed": seed}),
        tr!(
            "{} starts: pid {}, speed {}, seed {} (--seed {} replays its sleeps)",
            name,
            std::process::id(),
            options.speed,
            seed,
            seed
        ),
    );
    match log::trace_error() {
        Some(e) => bail!(tr!("cannot write the trace: {}", e)),
        None => Ok(()),
    }
}

/// Opens the trace for appending, after checking that it is none of the
/// lesson's own files, not a FIFO (which would block, or fill), and not
/// being written by another run at the same time (an `flock` held as long
/// as the lesson's processes have it open). Empties a regular file.
fn open_trace(path: &Path, inputs: &[PathBuf]) -> Result<File> {
    let name = path.display();
    // Opening it would make its target: a file the lesson may be about to use.
    if path.is_symlink() && !path.exists() {
        bail!(Usage(tr!(
            "--trace {} is a symbolic link to nothing: give the trace a file of its own",
            name
        )));
    }
    let lock = |p: &PathBuf| {
        let mut lock = p.clone().into_os_string();
        lock.push(".lock");
        PathBuf::from(lock)
    };
    for input in inputs.iter().flat_map(|p| [p.clone(), lock(p)]) {
        if same_file(path, &input) {
            bail!(Usage(tr!(
                "--trace {} names {}, a file this lesson uses: give the trace a file of its own",
                name,
                input.display()
            )));
        }
    }
    let refuse = |meta: &std::fs::Metadata| -> Result {
        if meta.is_file() || meta.file_type().is_char_device() {
            return Ok(());
        }
        let kind = file::kind(meta);
        bail!(tr!("the trace {}: {}; give a regular file", name, kind))
    };
    if let Ok(meta) = std::fs::metadata(path) {
        refuse(&meta)?;
    }
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    let (trace, meta) = file::open_checked(path, &mut options, Follow::Links)
        .context(tr!("opening the trace {}", name))?;
    refuse(&meta)?;
    if meta.is_file() {
        file::flock(&trace, false).map_err(|_| {
            anyhow!(tr!(
                "the trace {} is being written by another run: give each run its own",
                name
            ))
        })?;
        // Not when it is empty already (asked once it is ours): on ext4, a
        // file truncated to 0 has its writeback started as it is closed (a
        // guard for programs that rewrite files in place), which costs a
        // lesson's start more than all the rest of the trace.
        let len = trace.metadata().map_or(1, |m| m.len());
        if len > 0 {
            trace
                .set_len(0)
                .context(tr!("emptying the trace {}", name))?;
        }
    }
    let flags = OFlag::from_bits_truncate(fcntl(&trace, FcntlArg::F_GETFL).context("fcntl")?);
    fcntl(&trace, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK)).context("fcntl")?;
    Ok(trace)
}

/// The same inode if both exist (through any link), else the same name in
/// the same directory.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return (x.dev(), x.ino()) == (y.dev(), y.ino());
    }
    let absolute = |p: &Path| {
        let dir = std::fs::canonicalize(file::directory(p)).ok()?;
        Some(dir.join(p.file_name()?))
    };
    absolute(a).is_some_and(|a| Some(a) == absolute(b))
}

/// Refuses (exit status 2) an `option` of `n` processes that would come near
/// the system's limits.
pub fn check_room(n: u32, option: &str) -> Result<()> {
    schedule::check_size(n, option)?;
    let limit = system::getrlimit_nproc().ok();
    // Root ignores the process limit.
    let limit = limit.filter(|&l| l != libc::RLIM_INFINITY && !getuid().is_root());
    let user = limit.map(|l| (system::processes_of_user(getuid().as_raw()), l));
    let (running, pid_max) = (system::pids_in_use(), system::pid_max());
    room(n as usize, option, running, pid_max, user)
}

/// Room means at least half of the pids free, and 16 processes to spare
/// under the user's limit (`user`: processes it runs, its limit).
fn room(
    n: usize,
    option: &str,
    running: usize,
    pid_max: Option<usize>,
    user: Option<(usize, u64)>,
) -> Result<()> {
    if let Some(pid_max) = pid_max.filter(|&max| running + n > max / 2) {
        bail!(Usage(tr!(
            "{} {} is too many here: with {} pids in use (one for each process and thread), it \
             would take more than half of the {} pids (pid_max)",
            option,
            n,
            running,
            pid_max
        )));
    }
    if let Some((mine, limit)) = user.filter(|&(mine, limit)| (mine + n + 16) as u64 > limit) {
        bail!(Usage(tr!(
            "{} {} is too many here: you run {} processes and may run {} (ulimit -u)",
            option,
            n,
            mine,
            limit
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_flood_must_leave_room_under_both_limits() {
        let room = |pid_max, user| super::room(100, "--flood", 200, pid_max, user);
        let room = |pid_max, user| room(pid_max, user).map_err(|e| e.to_string());
        assert!(room(Some(32768), None).is_ok());
        let pids = room(Some(300), None).expect_err("over half the pids");
        assert!(pids.contains("pid_max") && !pids.contains('\n'), "{pids}");
        assert!(room(None, Some((50, 200))).is_ok());
        let user = room(None, Some((90, 200))).expect_err("over the user limit");
        assert!(user.contains("ulimit -u"), "{user}");
    }
}
