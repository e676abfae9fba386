//! Helpers for the lessons' tests. A test never forks (the test harness is
//! multi-threaded): it runs a built lesson as a program, reads its trace,
//! and checks that the lesson left no process behind.
//!
//! Each lesson runs in a process group of its own, which its children,
//! grandchildren, orphans and zombies all keep: whatever is still in the
//! group once the lesson has ended, it left behind. Tests running side by
//! side cannot mistake each other's processes for their own.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use common::log::{Record, read_trace};
use common::system;

/// Longer than any lesson a test runs; past it the test fails, not hangs.
const TIMEOUT: Duration = Duration::from_secs(60);

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A lesson that has finished.
#[derive(Debug)]
pub struct Run {
    pub pid: i32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub records: Vec<Record>,
}

impl Run {
    /// Its exit code (None if a signal ended it).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The records of `event`, in the order they were written.
    pub fn events<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.event == event)
    }

    /// The records written by the process named `who`.
    pub fn by<'a>(&'a self, who: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.who == who)
    }

    /// Everything it printed, for assertion messages.
    pub fn output(&self) -> String {
        format!(
            "exit: {}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A lesson still running.
#[derive(Debug)]
pub struct Running {
    program: String,
    child: std::process::Child,
    trace: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Starts `program` with `args`, tracing to a file of its own, without colours.
pub fn start(program: &str, args: &[&str]) -> Running {
    start_with(program, args, None)
}

/// Runs `program` with `args` to the end, as [`run`] does, started with
/// SIGCHLD ignored: bash's `trap '' CHLD`, which `exec` keeps (dash's
/// keeps SIGCHLD for itself).
pub fn run_ignoring_sigchld(program: &str, args: &[&str]) -> Run {
    // bash execs the lesson: the same pid, and `start` still adds --trace.
    let script = r#"trap '' CHLD; exec "$0" "$@""#;
    start("bash", &[&["-c", script, program], args].concat()).finish()
}

/// Like [`start`], with `input` on standard input (a file of it, so that
/// nothing blocks), instead of nothing.
fn start_with(program: &str, args: &[&str], input: Option<&[u8]>) -> Running {
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("lesson-test-{}-{n}", std::process::id()));
    let path = |ext: &str| base.with_extension(ext);
    let (trace, stdout, stderr) = (path("jsonl"), path("out"), path("err"));
    let create =
        |p: &PathBuf| File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
    let stdin = match input {
        None => Stdio::null(),
        Some(bytes) => {
            let file = path("in");
            std::fs::write(&file, bytes)
                .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
            let opened = File::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let _ = std::fs::remove_file(&file);
            Stdio::from(opened)
        }
    };
    let child = spawn(
        Command::new(program)
            .args(args)
            .arg("--trace")
            .arg(&trace)
            .env("NO_COLOR", "1")
            .env_remove("LESSON_SPEED")
            .env_remove("LESSON_SEED")
            .env_remove("LESSON_TRACE")
            .stdin(stdin)
            .stdout(create(&stdout))
            .stderr(create(&stderr)),
    );
    Running {
        program: program.to_owned(),
        child,
        trace,
        stdout,
        stderr,
    }
}

/// Runs `program` with `args` to the end; see [`Running::finish`].
pub fn run(program: &str, args: &[&str]) -> Run {
    start(program, args).finish()
}

/// Runs `program` with `args` and `--quiz` to the end, `answers` (one a
/// line) on its standard input.
pub fn quiz(program: &str, args: &[&str], answers: &[u32]) -> Run {
    let input: String = answers.iter().map(|a| format!("{a}\n")).collect();
    let mut args = args.to_vec();
    args.push("--quiz");
    start_with(program, &args, Some(input.as_bytes())).finish()
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The records written so far.
    pub fn records(&self) -> Vec<Record> {
        // A line being written may be cut: keep whole lines only.
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `count` records of `event` have been written.
    pub fn wait_for(&self, event: &str, count: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.records().iter().filter(|r| r.event == event).count() < count {
            assert!(
                Instant::now() < deadline,
                "no {count} '{event}' events in {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the lesson has written to standard error so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` to the lesson process alone, as `kill` would.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).unwrap_or_else(|e| panic!("kill: {e}"));
    }

    /// Waits for the lesson to end, then checks that no process it started
    /// is left, and reads what it wrote.
    pub fn finish(self) -> Run {
        let program = self.program.clone();
        let (run, left) = self.finish_leaving();
        assert!(
            left.is_empty(),
            "{program} left processes behind: {left:#?}\n{}",
            run.output()
        );
        run
    }

    /// Like [`Running::finish`], for a lesson told to leave processes to the
    /// system: returns them (this test process adopted them, and has reaped them).
    pub fn finish_leaving(mut self) -> (Run, Vec<system::ProcessInfo>) {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the lesson") {
                break status;
            }
            // Dropping `self` ends the lesson.
            assert!(
                Instant::now() < deadline,
                "{} ran longer than {TIMEOUT:?}",
                self.program
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let (stdout, stderr) = (read(&self.stdout), read(&self.stderr));
        let records = read_trace(&self.trace)
            .unwrap_or_else(|e| panic!("{e:#}\n{status}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
        let run = Run {
            pid: self.pid(),
            status,
            stdout,
            stderr,
            records,
        };
        let left = left_behind(run.pid);
        clean_up(&left);
        (run, left)
    }
}

impl Drop for Running {
    /// Ends a lesson that a failed test left running: SIGTERM, which the
    /// lesson passes on to its children, then SIGKILL if it lingers.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for p in [&self.trace, &self.stdout, &self.stderr] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The processes still in the process group of the lesson `pid`, which has
/// ended: orphans and zombies it left behind.
pub fn left_behind(pid: i32) -> Vec<system::ProcessInfo> {
    system::processes()
        .into_iter()
        .filter(|p| p.pgid == pid)
        .collect()
}

/// Starts a lesson as a child of this test process, in a process group of
/// its own.
fn spawn(command: &mut Command) -> std::process::Child {
    adopt_orphans();
    command.process_group(0);
    as_at_a_terminal(command);
    // The tests read English, whatever the locale, unless one asks otherwise.
    if !command.get_envs().any(|(k, _)| k == "LESSON_LANG") {
        command.env("LESSON_LANG", "en");
    }
    // A copy made by `runnable_by_anyone` may still be open for writing in
    // a child another test thread forked at that moment, until that child
    // execs: "Text file busy" for so long.
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            spawned => {
                break spawned
                    .unwrap_or_else(|e| panic!("starting {:?}: {e}", command.get_program()));
            }
        }
    }
}

/// The signals a terminal sends its foreground job.
const TERMINAL: [Signal; 3] = [Signal::SIGHUP, Signal::SIGINT, Signal::SIGQUIT];

/// SIGHUP, SIGINT and SIGQUIT at their defaults and unblocked in the
/// lesson, as a terminal's job has them, whatever this test process
/// inherited: `nohup`, or a script that runs the suite with `&`, leaves
/// them ignored (and a lesson keeps such an ignore, as a careful Unix
/// program does), `env --block-signal` blocked. Only where it inherited so:
/// a `pre_exec` makes std fork this multi-threaded process where it would
/// otherwise `posix_spawn`. A test that wants one ignored asks for it in
/// the command it runs.
#[allow(unsafe_code)]
fn as_at_a_terminal(command: &mut Command) {
    static ALTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let altered = *ALTERED.get_or_init(|| {
        let mask = nix::sys::signal::SigSet::thread_get_mask();
        TERMINAL.iter().any(|&signal| {
            common::ignored(signal) || mask.as_ref().map_or(true, |m| m.contains(signal))
        })
    });
    if !altered {
        return;
    }
    let unblock: nix::sys::signal::SigSet = TERMINAL.iter().copied().collect();
    let reset = move || {
        for signal in TERMINAL {
            // SAFETY: signal(2) is async-signal-safe, as the time between
            // fork and exec asks, and SIG_DFL runs no code of ours.
            unsafe { libc::signal(signal as libc::c_int, libc::SIG_DFL) };
        }
        let how = nix::sys::signal::SigmaskHow::SIG_UNBLOCK;
        nix::sys::signal::sigprocmask(how, Some(&unblock), None)?;
        Ok(())
    };
    // SAFETY: `reset` makes only async-signal-safe calls, allocates nothing
    // and takes no lock.
    unsafe { command.pre_exec(reset) };
}

/// Makes this test process the subreaper of everything it starts (Linux):
/// an orphan a lesson leaks is then adopted here, found by [`left_behind`]
/// and reaped by [`clean_up`], instead of staying a zombie of an init that
/// may never reap it.
fn adopt_orphans() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(target_os = "linux")]
        nix::sys::prctl::set_child_subreaper(true).expect("becoming a subreaper");
    });
}

/// Kills and reaps the leaked processes this test process adopted.
fn clean_up(leaked: &[system::ProcessInfo]) {
    let harness = std::process::id() as i32;
    for p in leaked.iter().filter(|p| p.ppid == harness) {
        let pid = Pid::from_raw(p.pid);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

/// Checks the usage contract: `--help` says what the lesson is and exits 0;
/// each bad argument is one line on standard error and exit status 2.
pub fn check_usage(program: &str, description: &str, bad: &[&[&str]]) {
    let run = |args: &[&str]| output(Command::new(program).args(args));
    let help = run(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        text.contains(description) && text.contains("--speed"),
        "{text}"
    );
    for args in bad.iter().chain([&["--no-such-option"][..]].iter()) {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?} should give one line: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

/// Runs `program` with `args` and the variables `env`, the language left to
/// them alone: no `LESSON_LANG`, and a locale that is not Chinese unless
/// `env` says so.
fn run_in(program: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("LESSON_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    command.envs(env.iter().copied());
    output(&mut command)
}

/// The lines of `text` that are not Chinese: a line with letters needs a
/// Chinese character, and may keep in English only names (options, values,
/// variables, commands), never two English words in a row nor clap's own
/// words.
pub fn english_lines(text: &str) -> Vec<&str> {
    const CLAPS: [&str; 9] = [
        "Usage", "Options", "Print", "help", "default", "env", "possible", "values", "error",
    ];
    text.lines()
        .filter(|line| {
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|t| t.trim_matches(|c: char| "[](),:;.'\"“”".contains(c)))
                .collect();
            let english = |w: &&str| w.len() > 1 && w.chars().all(|c| c.is_ascii_alphabetic());
            let letters = line.chars().any(char::is_alphabetic);
            letters && !has_chinese(line)
                || words.windows(2).any(|w| english(&w[0]) && english(&w[1]))
                || words.iter().any(|w| CLAPS.contains(w))
        })
        .collect()
}

/// `--help` and clap's usage errors speak the language the rest of the
/// lesson does: Chinese under `--lang zh`, `LESSON_LANG=zh` or a `zh`
/// locale (an empty `LESSON_LANG` counts as none), with the exit statuses
/// of English (0 for help; 2 and one line on standard error for bad usage,
/// the hint at `--help` included); English, as it always was, otherwise.
pub fn usage_speaks_chinese(program: &str) {
    let english_help = run_in(program, &["--help"], &[]);
    let english = String::from_utf8_lossy(&english_help.stdout).into_owned();
    assert!(
        english.contains("Usage:") && english.contains("Print help"),
        "{english}"
    );
    let chinese = [
        (&["--lang", "zh"][..], &[][..]),
        (&[], &[("LESSON_LANG", "zh")]),
        (&[], &[("LANG", "zh_CN.UTF-8")]),
        (&[], &[("LC_ALL", "zh_TW.UTF-8"), ("LESSON_LANG", "")]),
        (&["--lang=zh"], &[("LESSON_LANG", "en")]),
    ];
    for (args, env) in chinese {
        let help = run_in(program, &[args, &["--help"]].concat(), env);
        let text = String::from_utf8_lossy(&help.stdout);
        assert_eq!(help.status.code(), Some(0), "{args:?} {env:?}: {text}");
        assert!(
            text.contains("--speed <N|max>") && text.contains("-h, --help"),
            "{text}"
        );
        let english = english_lines(&text);
        assert!(
            english.is_empty(),
            "{args:?} {env:?}: lines not in Chinese:\n{}\n\n{text}",
            english.join("\n")
        );
    }
    for (args, env) in [
        (&["--lang", "en"][..], &[("LANG", "zh_CN.UTF-8")][..]),
        (&[], &[("LESSON_LANG", "en"), ("LANG", "zh_CN.UTF-8")]),
    ] {
        let help = run_in(program, &[args, &["--help"]].concat(), env);
        assert_eq!(help.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&help.stdout),
            english,
            "{args:?} {env:?}"
        );
    }
    let bad: [&[&str]; 5] = [
        &["--speed", "0"],
        &["--no-such-option"],
        &["--speed"],
        &["--seed", "many"],
        &["--pause=yes"],
    ];
    for args in bad {
        let english = run_in(program, args, &[]);
        let said = String::from_utf8_lossy(&english.stderr);
        assert_eq!(english.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.ends_with(" (see --help)\n") && english_lines(&said).len() == 1,
            "{said}"
        );
        let en = run_in(
            program,
            &[&["--lang", "en"], args].concat(),
            &[("LESSON_LANG", "zh")],
        );
        assert_eq!(String::from_utf8_lossy(&en.stderr), said, "{args:?}");
        assert_eq!(en.status.code(), Some(2));
        for (lang, env) in [("--lang=zh", &[][..]), ("", &[("LESSON_LANG", "zh")][..])] {
            let args = [&[lang][..], args].concat();
            let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
            let zh = run_in(program, &args, env);
            let err = String::from_utf8_lossy(&zh.stderr);
            assert_eq!(zh.status.code(), Some(2), "{args:?}: {err}");
            assert!(zh.stdout.is_empty(), "{args:?} printed to stdout");
            assert_eq!(
                err.lines().count(),
                1,
                "{args:?} should give one line: {err}"
            );
            assert!(err.trim_end().ends_with("（见 --help）"), "{args:?}: {err}");
            assert!(
                english_lines(&err).is_empty(),
                "{args:?} not in Chinese: {err}"
            );
        }
    }
    // A --lang clap refuses is its error, in the language the rest decides.
    let refused = run_in(program, &["--lang", "fr"], &[("LESSON_LANG", "zh")]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("fr") && english_lines(&err).is_empty(),
        "{err}"
    );
    let refused = run_in(program, &["--lang", "fr"], &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value 'fr'") && !has_chinese(&err),
        "{err}"
    );
}

/// Runs a lesson `command` to the end and collects its output, like
/// `Command::output`.
pub fn output(command: &mut Command) -> std::process::Output {
    let (out, left) = output_leaving(command);
    assert!(
        left.is_empty(),
        "{command:?} left processes behind: {left:#?}"
    );
    out
}

/// Like [`output`], and returns what the command left in its process
/// group (this test process has reaped what it adopted).
pub fn output_leaving(command: &mut Command) -> (std::process::Output, Vec<system::ProcessInfo>) {
    let child = spawn(
        command
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = child.id() as i32;
    let out = child.wait_with_output().expect("waiting for the lesson");
    let left = left_behind(pid);
    clean_up(&left);
    (out, left)
}

/// A directory of its own for one test, removed when dropped.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let n = RUNS.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("lesson-test-{}-{n}.d", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Scratch(dir)
    }

    /// `name` inside it, as a string for a command line.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// Writes the file `name` inside it; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        path
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pid holding an `flock` on `path`, as `/proc/locks` lists it (Linux).
#[cfg(target_os = "linux")]
pub fn lock_holder(path: &str) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 12345 08:01:4711 0 EOF"; waiters have "->".
        let fields: Vec<&str> = line.split_whitespace().collect();
        let held = fields.get(1) == Some(&"FLOCK") && fields.get(3) == Some(&"WRITE");
        let on = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
        (held && on == inode).then(|| fields.get(4)?.parse().ok())?
    })
}

/// A copy of the built lesson `program` that any user may run, for a test
/// that runs it as another user: the checkout itself may be private (a
/// home directory of mode 700, a `mktemp -d`). Made once per test process,
/// in a directory of mode 755; see [`copies`].
pub fn runnable_by_anyone(program: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static COPIES: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut copies_made = COPIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, copy)) = copies_made.iter().find(|(p, _)| p == program) {
        return copy.clone();
    }
    let name = std::path::Path::new(program)
        .file_name()
        .expect("a file name");
    let copy = copies().join(name);
    std::fs::copy(program, &copy).unwrap_or_else(|e| panic!("copying {program}: {e}"));
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copies_made.push((program.to_owned(), copy.clone()));
    copy
}

/// The directory of this test process's copies, `lesson-test-bin-RANDOM`.
/// The process holds an `flock` on it while it lives (the kernel lets go as
/// it ends, however it ends), and the next test process removes those that
/// nobody holds: a pid in the name would say nothing across pid namespaces.
/// It is locked under a hidden name, then renamed into place, so that no
/// one ever finds it unlocked under its own.
fn copies() -> &'static std::path::Path {
    use rustix::fs::{FlockOperation, flock};
    use std::os::unix::fs::PermissionsExt;
    static DIR: std::sync::OnceLock<(PathBuf, File)> = std::sync::OnceLock::new();
    let (dir, _lock) = DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let ours = entry
                .file_name()
                .to_string_lossy()
                .starts_with("lesson-test-bin-");
            let dead = || {
                File::open(entry.path())
                    .is_ok_and(|d| flock(&d, FlockOperation::NonBlockingLockExclusive).is_ok())
            };
            if ours && entry.file_type().is_ok_and(|t| t.is_dir()) && dead() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let staged = tempfile::Builder::new()
            .prefix(".lesson-test-bin-")
            .tempdir_in(&tmp)
            .unwrap_or_else(|e| panic!("creating a directory in {}: {e}", tmp.display()));
        let lock = File::open(staged.path()).expect("opening the directory just made");
        flock(&lock, FlockOperation::NonBlockingLockExclusive).expect("locking it");
        std::fs::set_permissions(staged.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let name = staged
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let dir = tmp.join(name.trim_start_matches('.'));
        std::fs::rename(staged.path(), &dir).expect("renaming it into place");
        let _ = staged.keep();
        (dir, lock)
    });
    dir
}

/// The uid and gid of the user `nobody`, for tests that need a user other
/// than root (root reads and writes any file, and ignores process limits).
pub const NOBODY: u32 = 65534;

/// A lesson whose standard input is a pipe this test holds open, as a
/// learner's terminal would be, and whose output goes to a file read as it
/// grows. Dropped while running, its whole process group is ended.
#[derive(Debug)]
pub struct Piped {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Starts `program` with `args` as a [`Piped`] lesson.
pub fn start_piped(program: &str, args: &[&str]) -> Piped {
    static FILES: AtomicUsize = AtomicUsize::new(0);
    let n = FILES.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("lesson-test-piped-{}-{n}", std::process::id()));
    let (stdout, stderr) = (base.with_extension("out"), base.with_extension("err"));
    let create =
        |p: &PathBuf| File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
    let mut child = spawn(
        Command::new(program)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("LESSON_SPEED")
            .env_remove("LESSON_SEED")
            .env_remove("LESSON_TRACE")
            .stdin(Stdio::piped())
            .stdout(create(&stdout))
            .stderr(create(&stderr)),
    );
    let stdin = child.stdin.take();
    Piped {
        child,
        stdin,
        stdout,
        stderr,
    }
}

impl Piped {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The whole lines written so far.
    pub fn lines(&self) -> String {
        let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        text[..text.rfind('\n').map_or(0, |i| i + 1)].to_owned()
    }

    pub fn output(&self) -> String {
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{err}", self.lines())
    }

    /// Waits (30 s at most) for the `count`th line containing `text`; returns it.
    pub fn wait_for(&mut self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ended = !self.running();
            let lines = self.lines();
            if let Some(line) = lines.lines().filter(|l| l.contains(text)).nth(count - 1) {
                return line.to_owned();
            }
            assert!(!ended, "ended before '{text}' #{count}\n{}", self.output());
            assert!(
                Instant::now() < deadline,
                "no '{text}' #{count} in 30 s\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Presses Enter.
    pub fn enter(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(b"\n").expect("writing Enter");
        stdin.flush().expect("flushing Enter");
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits (60 s at most) for the lesson to end; checks it left nothing.
    pub fn finish(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after 60 s\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let left = left_behind(self.pid());
        assert!(left.is_empty(), "left behind: {left:#?}\n{}", self.output());
        status
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.pid());
        if self.running() {
            let _ = killpg(group, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stdout);
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// No `/proc/locks` to read here: nobody is known to hold a lock.
#[cfg(not(target_os = "linux"))]
pub fn lock_holder(_path: &str) -> Option<i32> {
    None
}

pub mod schedules;
pub mod stops;
pub mod tickets;

/// With `--quiz` and the `right` answers piped, `program` scores them all,
/// each a `quiz` event with its id, choices, answer and the choice shown.
pub fn quiz_scores_all(program: &str, args: &[&str], right: &[u32]) {
    let run = quiz(program, args, right);
    let n = right.len();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(
        run.stdout.contains(&format!("Score: {n} of {n}")),
        "{}",
        run.output()
    );
    let events: Vec<_> = run.events("quiz").collect();
    assert_eq!(events.len(), n, "{}", run.output());
    for (e, answer) in events.iter().zip(right) {
        assert_eq!(e.fields["answer"], *answer, "{}", run.output());
        assert_eq!(e.fields["held"], true, "{}", run.output());
        let choices = e.fields["choices"].as_array().expect("choices");
        let shown = e.fields["shown"].as_u64().expect("shown") as usize;
        assert!((1..=choices.len()).contains(&shown), "{e:?}");
        assert!(e.fields["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
}

/// With `--quiz` and `wrong` answers that the run cannot bear out piped,
/// `program` scores none, and says so for each.
pub fn quiz_scores_none(program: &str, args: &[&str], wrong: &[u32]) {
    let run = quiz(program, args, wrong);
    let n = wrong.len();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(
        run.stdout.contains(&format!("Score: 0 of {n}")),
        "{}",
        run.output()
    );
    assert_eq!(
        run.stdout.matches("NOT THIS TIME.").count(),
        n,
        "{}",
        run.output()
    );
    assert!(run.events("quiz").all(|e| e.fields["held"] == false));
}

/// With `--quiz`, a piped answer that is no choice, or none at all, is an
/// error in one line, exit status 2, before anything is judged.
pub fn quiz_refuses_a_bad_or_missing_answer(program: &str, args: &[&str]) {
    for answers in [&[9][..], &[]] {
        let run = quiz(program, args, answers);
        assert_eq!(run.code(), Some(2), "{}", run.output());
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.output());
        assert!(run.stderr.contains("--quiz"), "{}", run.output());
        assert_eq!(run.events("quiz").count(), 0);
    }
}

/// True if `text` holds a Chinese character.
pub fn has_chinese(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(u32::from(c), 0x3400..=0x9FFF | 0xF900..=0xFAFF))
}

/// The columns `text` takes on a terminal: its display width, two for a
/// CJK character, as Unicode's East Asian Width has it.
pub fn columns(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// Runs `program` with `args` under `--lang zh` and checks that every line
/// it prints is Chinese, apart from what is no language: names, pids and
/// numbers, the timeline's rows, commands and what they print (`$ ps …`).
pub fn speaks_chinese(program: &str, args: &[&str], answers: &[u32]) -> Run {
    let mut args = args.to_vec();
    args.extend(["--lang", "zh"]);
    let run = if answers.is_empty() {
        run(program, &args)
    } else {
        quiz(program, &args, answers)
    };
    let mut command_output = false;
    let english: Vec<&str> = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            // "  0.512s   12345 p1        …": time, pid and name are no language.
            let text = match tokens.as_slice() {
                [time, pid, _name, rest @ ..]
                    if time.ends_with('s') && pid.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    rest.join(" ")
                }
                _ => tokens.join(" "),
            };
            if text.starts_with("$ ") {
                command_output = true;
                return false;
            }
            let no_language = text.is_empty()
                || text.contains('│')
                || text
                    .chars()
                    .all(|c| c.is_ascii_digit() || " .s–-".contains(c));
            if has_chinese(&text) || no_language {
                command_output = false;
                return false;
            }
            // The lines a command prints after "$ ps …" are its own.
            !command_output
        })
        .collect();
    assert!(
        english.is_empty(),
        "lines not in Chinese:\n{}\n\n{}",
        english.join("\n"),
        run.output()
    );
    run
}

/// The events of a run and the fields of each: what must not depend on
/// the language.
pub fn event_shapes(run: &Run) -> std::collections::BTreeSet<(String, Vec<String>)> {
    run.records
        .iter()
        .map(|r| {
            let mut keys: Vec<String> = r.fields.keys().cloned().collect();
            keys.sort();
            (r.event.clone(), keys)
        })
        .collect()
}

/// [`start`], with the lesson's scratch directory in `tmp` (`TMPDIR`): one
/// that a run killed by SIGKILL leaves behind stays out of the shared one.
pub fn start_in(tmp: &Scratch, program: &str, args: &[&str]) -> Running {
    start_in_under(tmp, &[], program, args)
}

/// [`start_in`], with `signals` (`TERM,INT`) blocked as the lesson starts:
/// GNU env's `--block-signal` leaves the mask so, which `exec` keeps. See
/// [`stops::env_blocks_signals`] for where it cannot.
pub fn start_in_blocking(tmp: &Scratch, signals: &str, program: &str, args: &[&str]) -> Running {
    let block = format!("--block-signal={signals}");
    start_in_under(tmp, &[block.as_str()], program, args)
}

fn start_in_under(tmp: &Scratch, env_options: &[&str], program: &str, args: &[&str]) -> Running {
    let tmpdir = format!("TMPDIR={}", tmp.path(""));
    // `env` execs the lesson: the same pid, and `start` still adds its --trace.
    start(
        "env",
        &[env_options, &[tmpdir.as_str(), program], args].concat(),
    )
}

/// Too few descriptors would fail a lesson half-way (`ulimit -n 6`): it
/// refuses to start, in one line, exit status 2.
pub fn refuses_too_few_descriptors(program: &str) {
    let out =
        output(Command::new("sh").args(["-c", r#"ulimit -n 6; exec "$0" --speed max"#, program]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ulimit -n"), "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// Too little address space would abort a lesson half-way on a failed
/// allocation (`ulimit -v 16384`): it refuses before its scratch directory
/// exists, in one line naming the limit and what it needs, exit status 2;
/// given what it says it needs, it runs. `args` after `--speed max`.
pub fn refuses_too_little_address_space(program: &str, args: &[&str]) {
    let tmp = Scratch::new();
    let under = |kib: &str| {
        let script = format!(r#"ulimit -v {kib}; exec "$0" --speed max "$@""#);
        let mut command = Command::new("bash");
        command.args(["-c", &script, program]).args(args);
        command
            .env("TMPDIR", tmp.path(""))
            .env_remove("LESSON_SPEED");
        output(command.env_remove("LESSON_TRACE"))
    };
    let out = under("16384");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("only 16384 KiB") && stderr.contains("ulimit -v"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path(""))
        .expect("TMPDIR")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "no scratch directory: {left:?}");
    let (_, needs) = stderr.split_once("needs ").expect("what it needs");
    let needs = needs.split_whitespace().next().expect("a number");
    let out = under(needs);
    assert_eq!(out.status.code(), Some(0), "ulimit -v {needs}: {out:?}");
}

/// Root ignores process limits, so `program` runs as nobody, with `args`
/// that would take most of a limit of 50 processes (`ulimit -u 50`): it
/// refuses before any child starts, in one line, exit status 2. Skipped,
/// and says so, when not root.
pub fn refuses_beyond_the_process_limit(program: &str, args: &[&str]) {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: only root can run the lesson as the user nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new();
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let trace = dir.path("trace.jsonl");
    let mut command = Command::new("bash");
    command
        .args(["-c", r#"ulimit -u 50; exec "$0" "$@""#])
        .arg(runnable_by_anyone(program))
        .args(args)
        .args(["--speed", "max", "--trace", &trace])
        .env_remove("LESSON_SPEED")
        .uid(NOBODY)
        .gid(NOBODY);
    let out = output(&mut command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ulimit -u"), "{stderr}");
    let records = read_trace(trace.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        records.iter().all(|r| r.who == "main"),
        "no child started: {records:#?}"
    );
}

/// Under a umask that takes the owner's own bits (`umask 277`), which would
/// leave a lesson's directory, trace and locks unreadable or unwritable to
/// it, the lesson runs to its end and leaves nothing behind but the files
/// it was asked for. Run as the user nobody where the test runs as root,
/// whom no file mode stops; in a directory of its own, where `args` may
/// name `ticket.json`.
pub fn runs_under_a_umask_that_spares_not_the_owner(program: &str, args: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new();
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let trace = dir.path("trace.jsonl");
    let mut command = Command::new("bash");
    command.args(["-c", r#"umask 277; exec "$0" "$@""#]);
    if nix::unistd::getuid().is_root() {
        command
            .arg(runnable_by_anyone(program))
            .uid(NOBODY)
            .gid(NOBODY);
    } else {
        command.arg(program);
    }
    command
        .args(args)
        .args(["--speed", "max", "--trace", &trace])
        .current_dir(dir.path(""))
        .env("TMPDIR", dir.path(""))
        .env_remove("LESSON_SPEED");
    let out = output(&mut command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(dir.path(""))
        .expect("the test's directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let asked = ["trace.jsonl", "ticket.json", "ticket.json.lock"];
    let left: Vec<&String> = names
        .iter()
        .filter(|n| !asked.contains(&n.as_str()))
        .collect();
    assert_eq!(left, Vec::<&String>::new(), "{stderr}");
    assert!(names.iter().any(|n| n == "trace.jsonl"), "{names:?}");
    // The owner's bits given back, and no more than that: nobody else's.
    for name in &names {
        let mode = std::fs::metadata(dir.path(name))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o600, "{name}: {mode:o}");
    }
}

/// A printer lesson's timeline stands where it stands in English under
/// `--lang zh`: every row's bar starts at the same column, whatever the
/// width of the words around (three colleagues, the default).
pub fn timeline_stays_aligned_in_chinese(program: &str, args: &[&str]) {
    let bars = |text: &str| -> Vec<usize> {
        text.lines()
            .filter_map(|l| l.find('│').map(|at| columns(&l[..at])))
            .collect()
    };
    let zh = speaks_chinese(program, args, &[]);
    let en = run(program, args);
    let (zh, en) = (bars(&zh.stdout), bars(&en.stdout));
    assert_eq!(zh.len(), 3, "{zh:?}");
    assert!(zh.iter().all(|&c| c == zh[0]), "{zh:?}");
    assert_eq!(zh, en);
}

/// The processes of a lesson's trace still in its process group `lesson`
/// (the lesson's pid), each once: its pid, its name in the log, and the
/// name the kernel keeps for it (`/proc/PID/comm`), the one `ps` and
/// `pstree` show. One that has ended and been reaped is left out, and so
/// is a pid that a process outside the lesson has taken since (a pid
/// another of its processes took is named by that one's records, the last).
pub fn kernel_names(lesson: i32, records: &[Record]) -> Vec<(i32, String, String)> {
    let mut who = std::collections::BTreeMap::new();
    for r in records {
        who.insert(r.pid, r.who.clone());
    }
    who.into_iter()
        .filter(|(pid, _)| system::process(*pid).is_some_and(|p| p.pgid == lesson))
        .filter_map(|(pid, who)| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, who, comm.trim_end().to_owned()))
        })
        .collect()
}

/// The command the last `--pause` hint in `output` says to look with, as a
/// learner would paste it: that of the step the lesson is paused at.
pub fn look_command(output: &str) -> Option<String> {
    let (_, command) = output.rsplit_once("look from another terminal: ")?;
    Some(command.lines().next()?.trim().to_owned())
}

/// One line of `/proc/locks`, as a hint shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLine {
    pub inode: u64,
    pub pid: i32,
    /// `->`: the process waits for the lock, blocked.
    pub waiting: bool,
}

/// Runs `command` in `sh`, as pasted into a terminal, and returns the lines
/// of `/proc/locks` it printed:
/// "1: FLOCK  ADVISORY  WRITE 12345 fe:00:4711 0 EOF", "1: -> FLOCK …".
pub fn locks_shown_by(command: &str) -> Vec<LockLine> {
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .unwrap_or_else(|e| panic!("sh -c {command}: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains("FLOCK") || line.contains("POSIX"))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields
                .iter()
                .position(|f| f.matches(':').count() == 2)
                .unwrap_or_else(|| panic!("no MAJ:MIN:INODE in {line}"));
            let inode = fields[at].rsplit(':').next().and_then(|i| i.parse().ok());
            let pid = fields.get(at - 1).and_then(|p| p.parse().ok());
            LockLine {
                inode: inode.unwrap_or_else(|| panic!("no inode in {line}")),
                pid: pid.unwrap_or_else(|| panic!("no pid in {line}")),
                waiting: fields.get(1) == Some(&"->"),
            }
        })
        .collect()
}

/// The times a printer's log lines give ("starts printing", "finished
/// printing") are those its timeline's rows give: a run agrees with itself.
pub fn log_agrees_with_timeline(run: &Run) {
    let said = |who: &str, what: &str| -> String {
        run.stdout
            .lines()
            .find(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.len() > 3 && words[2] == who && l.ends_with(what)
            })
            .and_then(|l| l.split_whitespace().next())
            .map(|t| t.trim_end_matches('s').to_owned())
            .unwrap_or_else(|| panic!("no '{who} {what}'\n{}", run.output()))
    };
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.contains('│')).collect();
    assert!(!rows.is_empty(), "no timeline\n{}", run.output());
    for row in rows {
        let who = row.split_whitespace().next().unwrap_or_default();
        let span = row.rsplit('│').next().unwrap_or_default().trim();
        let (start, end) = span
            .trim_end_matches(" s")
            .split_once('–')
            .unwrap_or_else(|| panic!("no span in {row:?}"));
        assert_eq!(
            start,
            said(who, "starts printing"),
            "{row}\n{}",
            run.output()
        );
        assert_eq!(
            end,
            said(who, "finished printing"),
            "{row}\n{}",
            run.output()
        );
    }
}

/// The number of the first line of `run`'s output that contains `what`.
pub fn line_of(run: &Run, what: &str) -> usize {
    run.stdout
        .lines()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?}\n{}", run.output()))
}

/// The numbers of the lines of `run`'s output that are quiz verdicts.
pub fn verdict_lines(run: &Run) -> Vec<usize> {
    run.stdout
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("RIGHT.") || l.starts_with("NOT THIS TIME."))
        .map(|(i, _)| i)
        .collect()
}

/// A printer's claims that hold at any speed: its log and its timeline
/// agree to the millisecond (three runs of four colleagues), and one
/// colleague alone is said to be alone, never joined.
pub fn printer_agrees_with_itself(program: &str) {
    for _ in 0..3 {
        let run = run(program, &["--speed", "20", "--workers", "4"]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        log_agrees_with_timeline(&run);
    }
    let run = run(program, &["--speed", "20", "--workers", "1"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    assert!(!run.stdout.contains("main joined each"), "{}", run.output());
    assert!(
        run.stdout.contains("one colleague alone"),
        "{}",
        run.output()
    );
}

/// A line of standard input that never ends (`/dev/zero`), where the lesson
/// waits for an answer, is bad input: exit 2 in one line, soon, not a
/// lesson that reads on and grows until it is killed.
pub fn refuses_a_line_that_never_ends(program: &str, args: &[&str]) {
    let zero = File::open("/dev/zero").expect("/dev/zero");
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("LESSON_SPEED")
        .stdin(Stdio::from(zero))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = command
        .spawn()
        .and_then(|c| c.wait_with_output())
        .expect("running the lesson");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("longer than 1024 bytes"), "{stderr}");
}

/// `--pause` fed a line that never ends (`/dev/zero`): each step takes 1024
/// bytes of it as an Enter, and the lesson runs to its end, whichever of its
/// processes holds a step.
pub fn a_pause_fed_a_line_that_never_ends_goes_on(program: &str, args: &[&str]) {
    let zero = File::open("/dev/zero").expect("/dev/zero");
    let out = Command::new(program)
        .args(args)
        .env_remove("LESSON_SPEED")
        .stdin(Stdio::from(zero))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|c| c.wait_with_output())
        .expect("running the lesson");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PAUSED"));
}
