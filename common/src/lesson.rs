//! The frame around every lesson: its options, its start, and an end that
//! reaps every child on every path (normal end, error, panic, Ctrl-C), like
//! Python's main process, which waits for its children before it exits.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::error::ErrorKind;
use clap::{FromArgMatches, Parser};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::signal::Signal;
use nix::unistd::getuid;
use serde_json::json;

use crate::error::anyhow;
use crate::error::{Context, Result, Usage};
use crate::file::Follow;
use crate::i18n::{self, Lang};
use crate::timing::{self, Speed};
use crate::{child, file, log, pause, quiz, scratch, signals, system};

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

    /// Make the random sleeps reproducible: the same N gives each process the same sleeps
    /// (not the same order: when several processes are ready at once, the kernel picks)
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
    #[arg(
        long,
        value_enum,
        value_name = "zh|en",
        env = "LESSON_LANG",
        hide_env_values = true
    )]
    pub lang: Option<Lang>,
}

/// What the frame needs to know of a lesson before it starts: its options
/// (a clap `Parser`), its Chinese and its quiz.
pub trait Lesson: Parser {
    /// The Chinese of the lesson's own lines: its `zh.txt` (see `i18n`).
    const ZH: &'static str;

    /// The questions `--quiz` asks, and when: the lesson's `quiz.rs`.
    const QUIZ: &'static [quiz::Question];
}

/// Prints the title of the lesson's next part (parts are counted by their
/// headings: 1, 2, …) and a few lines of explanation. With `--quiz`, first
/// judges the questions of the part that ends, then asks this part's.
pub fn heading(title: &str, text: &str) -> Result<()> {
    quiz::next_part()?;
    log::heading(title, text);
    Ok(())
}

/// The lesson's name.
static NAME: OnceLock<String> = OnceLock::new();

/// Fewer descriptors than this (`ulimit -n`) and a lesson would fail
/// half-way with "too many open files": it refuses at the start instead.
const MIN_OPEN_FILES: u64 = 16;

/// Runs a lesson: parses its `Args` (`--help` prints and exits 0; a bad
/// option is one line on standard error and exit status 2), opens the
/// trace, runs `lesson` (and judges its quiz's last part), then reaps every
/// child still running.
///
/// Exit status: 0; 1 for an error or a child that failed, panicked or was
/// killed; 2 for bad usage; 101 if the lesson itself panicked; 128 + the
/// signal (130, 143) when stopped by SIGINT or SIGTERM.
pub fn run<A: Lesson>(lesson: impl FnOnce(A) -> Result) -> ExitCode {
    let (args, options, inputs) = parse::<A>();
    if let Err(e) = begin(&options, &inputs, A::QUIZ) {
        log::plain_error(format!("{}: {e:#}", name()));
        scratch::remove();
        return ExitCode::from(if e.is::<Usage>() { 2 } else { 1 });
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // A `--panic-in` that named no process of this run is bad usage.
        let done = lesson(args).and_then(|()| child::check_panic_in_at_end(&log::records()?));
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
            log::warn(match (stopped, killed) {
                (0, _) => tr!("stopped by {}; no child was left to reap", signal),
                (n, k) if n == k => tr!("stopped by {}; {} killed by it and reaped", signal, who),
                (_, 0) => tr!("stopped by {}; {} reaped", signal, who),
                (_, k) => tr!(
                    "stopped by {}; {} reaped ({} killed by {})",
                    signal,
                    who,
                    k,
                    signal
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
            log::plain_error(format!("{}: {e:#}", name()));
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
            log::plain_error(tr!("{}: cannot write the output: {}", name(), e));
            code.max(1)
        }
        (None, Some(e)) if code == 0 => {
            log::plain_error(tr!("{}: cannot write the trace: {}", name(), e));
            1
        }
        _ => code,
    };
    scratch::remove();
    ExitCode::from(code)
}

/// The lesson's `Args`, the options every lesson has (flattened in them),
/// and the files its other options name, which the trace must not be. The
/// language is fixed first, for `--help` and clap's errors to speak it.
fn parse<A: Lesson>() -> (A, Options, Vec<PathBuf>) {
    let argv: Vec<OsString> = std::env::args_os().collect();
    i18n::init(i18n::from_args(&argv), A::ZH);
    let command = A::command();
    let lesson = command.get_name().to_owned();
    let command = i18n::help(command.bin_name(&lesson));
    let _ = NAME.set(lesson);
    let parsed = command.try_get_matches_from(argv).and_then(|m| {
        let inputs = m
            .ids()
            .filter(|id| id.as_str() != "trace")
            .filter_map(|id| {
                m.try_get_one::<PathBuf>(id.as_str())
                    .ok()
                    .flatten()
                    .cloned()
            })
            .collect();
        Ok((
            A::from_arg_matches(&m)?,
            Options::from_arg_matches(&m)?,
            inputs,
        ))
    });
    match parsed {
        Ok(parsed) => parsed,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let first = i18n::usage_error(&e).unwrap_or_else(|| first.to_owned());
            log::plain_error(format!("{}: {}", name(), tr!("{} (see --help)", first)));
            std::process::exit(2);
        }
    }
}

fn name() -> &'static str {
    NAME.get().map_or("lesson", String::as_str)
}

/// Sets up the lesson process: checks `--panic-in` and the descriptors it
/// may open, removes what dead runs left, opens the trace, sets the clock
/// and the Ctrl-C handler.
fn begin(
    options: &Options,
    inputs: &[PathBuf],
    questions: &'static [quiz::Question],
) -> Result<()> {
    if let Some(name) = &options.panic_in {
        child::panic_in(name);
    }
    let (open_files, _) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if open_files < MIN_OPEN_FILES {
        return Err(Usage(tr!(
            "a process may open only {} files here (ulimit -n): a lesson needs {}",
            open_files,
            MIN_OPEN_FILES
        ))
        .into());
    }
    scratch::remove_dead();
    if options.pause {
        pause::enable();
    }
    if options.quiz {
        quiz::enable(questions);
    }
    // The lesson reads back its own trace, a file of its own; `--trace` gets
    // a copy of every record, whatever it is (/dev/null, a terminal).
    let own = scratch::dir()?.join("trace.jsonl");
    let copy = match &options.trace {
        Some(path) => Some(open_trace(path, inputs)?),
        None => None,
    };
    log::init(open_trace(&own, &[])?, &own, copy);
    let seed = timing::init(options.speed, options.seed);
    signals::forward_stop_signals()?;
    log::event(
        "begin",
        json!({"lesson": name(), "speed": options.speed.to_string(), "seed": seed}),
        tr!(
            "{} starts: pid {}, speed {}, seed {} (--seed {} replays its sleeps)",
            name(),
            std::process::id(),
            options.speed,
            seed,
            seed
        ),
    );
    match log::trace_error() {
        Some(e) => Err(anyhow!(tr!("cannot write the trace: {}", e))),
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
        return Err(Usage(tr!(
            "--trace {} is a symbolic link to nothing: give the trace a file of its own",
            name
        ))
        .into());
    }
    let lock = |p: &PathBuf| {
        let mut lock = p.clone().into_os_string();
        lock.push(".lock");
        PathBuf::from(lock)
    };
    for input in inputs.iter().flat_map(|p| [p.clone(), lock(p)]) {
        if same_file(path, &input) {
            return Err(Usage(tr!(
                "--trace {} names {}, a file this lesson uses: give the trace a file of its own",
                name,
                input.display()
            ))
            .into());
        }
    }
    let refuse = |meta: &std::fs::Metadata| -> Result<()> {
        match meta.is_file() || meta.file_type().is_char_device() {
            true => Ok(()),
            false => Err(anyhow!(tr!(
                "the trace {}: {}; give a regular file",
                name,
                file::kind(meta)
            ))),
        }
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
        file::flock(&trace, libc::LOCK_EX | libc::LOCK_NB).map_err(|_| {
            anyhow!(tr!(
                "the trace {} is being written by another run: give each run its own",
                name
            ))
        })?;
        trace
            .set_len(0)
            .context(tr!("emptying the trace {}", name))?;
    }
    let flags = fcntl(&trace, FcntlArg::F_GETFL).context("fcntl")?;
    let blocking = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
    fcntl(&trace, FcntlArg::F_SETFL(blocking)).context("fcntl")?;
    Ok(trace)
}

/// Whether `a` and `b` are one file: the same inode if both exist (through
/// any link), else the same name in the same directory.
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
        return Err(tr!(
            "{} {} is too many here: with {} processes running, it would take more than half of \
             the {} pids (pid_max)",
            option,
            n,
            running,
            pid_max
        ));
    }
    if let Some((mine, limit)) = user.filter(|&(mine, limit)| (mine + n + 16) as u64 > limit) {
        return Err(tr!(
            "{} {} is too many here: you run {} processes and may run {} (ulimit -u)",
            option,
            n,
            mine,
            limit
        ));
    }
    Ok(())
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
