//! Children: `fork`, which returns twice, `wait4` for a child, `kill` it;
//! and the notes' `Process(target=…)`, `start()`, `join()` over the same
//! calls.
//!
//! A child's branch ends with `_exit`: it never returns into its parent's
//! code, not after an error and not after a panic. Its parent reaps it and
//! learns how it ended. Every child not yet reaped is on a list, so that the
//! lesson can reap it on any path and pass Ctrl-C on to it.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};

use crate::error::{Context as _, anyhow};
use crate::error::{Result, Usage};
use crate::signals::{self, MAX_CHILDREN};
use crate::{log, timing};

/// Exit status of a child whose closure returned an error.
const EXIT_ERROR: i32 = 1;
/// Exit status of a child whose closure panicked (Rust's own convention).
const EXIT_PANIC: i32 = 101;

static SPAWNED: AtomicUsize = AtomicUsize::new(0);
static FAILURES: AtomicUsize = AtomicUsize::new(0);
/// Children whose closure returned an error (exit status [`EXIT_ERROR`]).
static FAILED: AtomicUsize = AtomicUsize::new(0);
/// Children reaped after a stop signal arrived, and those it killed.
static STOPPED: AtomicUsize = AtomicUsize::new(0);
static KILLED_BY_STOP: AtomicUsize = AtomicUsize::new(0);
static LIVE: Mutex<Vec<Child>> = Mutex::new(Vec::new());
/// Whether orphaned descendants are adopted by this process (Linux).
static SUBREAPER: AtomicBool = AtomicBool::new(false);
/// `--panic-in`: the name of the child that panics, and the names this
/// process has given its `Process`es so far, to check it against.
static PANIC_IN: Mutex<Option<PanicIn>> = Mutex::new(None);

#[derive(Debug)]
struct PanicIn {
    name: String,
    named: Vec<String>,
}

/// How a child ended, as its parent learns it from `wait4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It called `exit` with this status (0: its closure returned normally).
    Exited(i32),
    /// Its closure returned an error (exit status [`EXIT_ERROR`]).
    Failed,
    /// Its closure panicked (exit status [`EXIT_PANIC`]).
    Panicked,
    /// A signal ended it.
    Killed(Signal),
}

impl Ended {
    fn from_status(status: WaitStatus) -> Self {
        match status {
            WaitStatus::Exited(_, EXIT_ERROR) => Ended::Failed,
            WaitStatus::Exited(_, EXIT_PANIC) => Ended::Panicked,
            WaitStatus::Exited(_, code) => Ended::Exited(code),
            WaitStatus::Signaled(_, signal, _) => Ended::Killed(signal),
            other => unreachable!("wait4 without WUNTRACED reported {other:?}"),
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&match self {
            Ended::Exited(code) => tr!("exited with status {}", code),
            Ended::Failed => tr!("failed (exit status {})", EXIT_ERROR),
            Ended::Panicked => tr!("panicked (exit status {})", EXIT_PANIC),
            Ended::Killed(signal) => tr!("was killed by {}", signal),
        })
    }
}

/// What a child's closure returns becomes its exit status.
pub trait IntoExitStatus {
    fn into_exit_status(self) -> i32;
}

impl IntoExitStatus for () {
    fn into_exit_status(self) -> i32 {
        0
    }
}

impl IntoExitStatus for i32 {
    fn into_exit_status(self) -> i32 {
        self
    }
}

impl<T: IntoExitStatus, E: fmt::Display> IntoExitStatus for std::result::Result<T, E> {
    fn into_exit_status(self) -> i32 {
        match self {
            Ok(value) => value.into_exit_status(),
            Err(e) => {
                // `{:#}`: an error's whole chain of contexts, on one line.
                let e = format!("{e:#}");
                log::record("error", serde_json::json!({"message": e}));
                // Stopped, it ends as the signal ends a process (see
                // `end_child`): the lesson says so once, for all.
                if !signals::stopping() {
                    log::warn(tr!("error: {}", e));
                }
                EXIT_ERROR
            }
        }
    }
}

/// A child not yet reaped.
#[derive(Debug, Clone)]
pub struct Child {
    pid: Pid,
    name: String,
    slot: usize,
    /// The signal this process sent it with [`Child::kill`]: dying of it is
    /// no failure of the lesson.
    killed_with: Option<Signal>,
}

/// What the kernel kept of a dead child until its parent reaped it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reaped {
    pub pid: Pid,
    pub ended: Ended,
    /// CPU time spent in the child's own code.
    pub user: Duration,
    /// CPU time the kernel spent working for the child.
    pub sys: Duration,
}

impl Reaped {
    /// The trace fields of a `reaped` event: `{"of", "status", "user_ms",
    /// "sys_ms"}`, and `"signal"` instead of `"status"` if a signal ended it.
    pub fn fields(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let mut fields = serde_json::json!({
            "of": self.pid.as_raw(),
            "user_ms": ms(self.user),
            "sys_ms": ms(self.sys),
        });
        match self.ended {
            Ended::Killed(signal) => fields["signal"] = signal.as_str().into(),
            Ended::Exited(code) => fields["status"] = code.into(),
            Ended::Failed => fields["status"] = EXIT_ERROR.into(),
            Ended::Panicked => fields["status"] = EXIT_PANIC.into(),
        }
        fields
    }
}

/// `fork` failed: `errno` says why (`EAGAIN`: a process limit was reached).
#[derive(Debug)]
pub struct ForkFailed {
    name: String,
    pub errno: Errno,
}

impl fmt::Display for ForkFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, errno) = (&self.name, self.errno);
        f.write_str(&tr!(
            "cannot start {}: fork: {} ({})",
            name,
            errno.desc(),
            errno
        ))
    }
}

impl std::error::Error for ForkFailed {}

/// What [`fork`] returns: one value in each of the two processes.
#[derive(Debug)]
pub enum Fork {
    /// In the new process, where `fork(2)` returned 0.
    Child(InChild),
    /// In the parent, where `fork(2)` returned the child's pid.
    Parent(Child),
}

/// The child's side of a fork. Its branch ends with [`InChild::exit`];
/// left any other way (a `return`, a `?`, a panic), the token is dropped
/// and ends the process there, so a child never runs its parent's code.
#[derive(Debug)]
#[must_use = "the child's branch ends with exit"]
pub struct InChild {
    _only_from_fork: (),
}

impl InChild {
    /// Ends the child with the status `status` gives ([`IntoExitStatus`]):
    /// the process's `_exit`, never a return into the parent's code.
    pub fn exit(self, status: impl IntoExitStatus) -> ! {
        let status = status.into_exit_status();
        std::mem::forget(self);
        end_child(status)
    }
}

impl Drop for InChild {
    fn drop(&mut self) {
        if std::thread::panicking() {
            end_child(EXIT_PANIC)
        }
        log::warn(tr!("left its branch without exit"));
        end_child(EXIT_ERROR)
    }
}

/// `fork(2)`: a new process named `name`, a copy of this one. Returns
/// twice: [`Fork::Child`] in the child, [`Fork::Parent`] in the parent.
///
/// Standard output and error are flushed first, or text still in a buffer
/// would be printed by both processes.
pub fn fork(name: &str) -> Result<Fork> {
    signals::check_stop()?;
    // A lesson without headings asks its quiz as it starts: before this.
    crate::quiz::before_fork()?;
    if signals::forward_stop_signals()? {
        live().clear();
    }
    if live().len() >= MAX_CHILDREN {
        return Err(anyhow!(tr!(
            "cannot start {}: {} children are unreaped already",
            name,
            MAX_CHILDREN
        )));
    }
    let ordinal = SPAWNED.fetch_add(1, Ordering::SeqCst);
    let parent = std::process::id() as i32;
    flush_std();
    // Held back until the child's pid is on the list: a Ctrl-C in between
    // would otherwise miss the newborn child, and the child would run its
    // parent's handler.
    let old_mask = signals::hold_back()?;
    // SAFETY: the lessons are single-threaded, so the child gets a consistent
    // copy of memory; its branch ends by `_exit` (see `InChild`).
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => Ok(Fork::Child(become_child(name, ordinal, parent, &old_mask))),
        Ok(ForkResult::Parent { child: pid }) => {
            if panic_lock().is_some() {
                // What `--panic-in` is checked against at the end.
                log::record(
                    "fork",
                    serde_json::json!({"of": pid.as_raw(), "name": name}),
                );
            }
            let listed = list(pid, name);
            signals::restore(&old_mask);
            listed.map(Fork::Parent)
        }
        Err(errno) => {
            signals::restore(&old_mask);
            let name = name.to_owned();
            Err(ForkFailed { name, errno }.into())
        }
    }
}

/// `fork`s a child named `name` that runs `target` and exits with the
/// status it gives. Returns at once, in the parent.
pub fn spawn<R: IntoExitStatus>(name: &str, target: impl FnOnce() -> R) -> Result<Child> {
    match fork(name)? {
        Fork::Child(me) => me.exit(target()),
        Fork::Parent(child) => Ok(child),
    }
}

/// The child's first steps, before its branch: it takes its name, the
/// default signal handling, a list of children of its own.
fn become_child(
    name: &str,
    ordinal: usize,
    parent: i32,
    old_mask: &nix::sys::signal::SigSet,
) -> InChild {
    // Named first, so that it is found under its own name in `ps` from the
    // start, and every line it writes carries it.
    log::become_child(name, ordinal);
    signals::default_handling_in_child();
    let _ = prctl_set_pdeathsig(Some(Signal::SIGTERM), Pid::from_raw(parent));
    // The list of children still holds the parent's, until this process
    // forks children of its own (see `fork`): left alone, its pages stay
    // shared with the parent instead of being copied.
    SPAWNED.store(0, Ordering::SeqCst);
    FAILURES.store(0, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    STOPPED.store(0, Ordering::SeqCst);
    KILLED_BY_STOP.store(0, Ordering::SeqCst);
    // fork does not pass the subreaper attribute on.
    SUBREAPER.store(false, Ordering::SeqCst);
    timing::draws_for(name);
    signals::restore(old_mask);
    let me = InChild {
        _only_from_fork: (),
    };
    if panicking_in().is_some_and(|n| n == name) {
        // Unwinds into nothing of the parent's: `me` ends the process.
        panic!("{name} panics on purpose (--panic-in {name})");
    }
    me
}

/// The child's last steps: it reaps children of its own if it is ending
/// badly, then `_exit`s with `status`.
fn end_child(status: i32) -> ! {
    // A child stopped, or failing, with children of its own reaps them
    // before it goes, or they would be orphans, left to an init that may
    // never reap.
    // (Only one that forked: until then, its list is its parent's.)
    let ending_badly = signals::stopping() || status == EXIT_ERROR || status == EXIT_PANIC;
    if ending_badly && signals::installed_here() {
        kill_all(Signal::SIGTERM);
        reap_all();
    }
    // Stopped by Ctrl-C after it had children of its own (and so a handler
    // of its own), it ends of the signal all the same, as a child without
    // one does: its parent counts it with the rest, in one line.
    if let Some(signal) = signals::stop_signal().filter(|_| signals::installed_here()) {
        flush_std();
        signals::die_of(signal);
    }
    // Its events are the lesson's evidence: without them it failed.
    let status = match log::trace_error() {
        Some(_) => EXIT_ERROR,
        None => status,
    };
    flush_std();
    // SAFETY: `_exit` ends the process at once. Unlike `exit` or returning,
    // it runs none of the parent's cleanup (temporary files, atexit), which
    // belongs to the parent alone.
    unsafe { libc::_exit(status) }
}

/// Puts `pid` on the list of children to reap and to pass Ctrl-C on to.
fn list(pid: Pid, name: &str) -> Result<Child> {
    let slot = signals::forward_to(pid.as_raw())
        .with_context(|| tr!("{}: {} children are unreaped already", name, MAX_CHILDREN))?;
    let child = Child {
        pid,
        name: name.to_owned(),
        slot,
        killed_with: None,
    };
    live().push(child.clone());
    Ok(child)
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the child to end and reaps it (`wait4`): returns how it
    /// ended and the CPU time it used, which the kernel kept for its parent.
    /// If the lesson is being stopped, the child is reaped all the same and
    /// then an error says so.
    pub fn wait4(self) -> Result<Reaped> {
        let reaped = reap(&self)?;
        signals::check_stop()?;
        Ok(reaped)
    }

    /// Sends it `signal` (`kill`) on purpose: dying of it is then no failure.
    pub fn kill(&mut self, signal: Signal) -> Result<()> {
        self.killed_with = Some(signal);
        nix::sys::signal::kill(self.pid, signal).map_err(|e| self.failed("kill", e))
    }

    fn failed(&self, call: &str, e: Errno) -> crate::error::Error {
        let (name, pid) = (&self.name, self.pid);
        anyhow!(tr!("{} {} (pid {}): {}", call, name, pid, e.desc()))
    }
}

/// `Process(target=…)` of the notes: a child to be, started by `start`.
pub struct Process<'a> {
    name: String,
    target: Option<Box<dyn FnOnce() -> i32 + 'a>>,
    child: Option<Child>,
}

impl fmt::Debug for Process<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("child", &self.child)
            .finish_non_exhaustive()
    }
}

impl<'a> Process<'a> {
    pub fn new<R: IntoExitStatus>(
        name: impl Into<String>,
        target: impl FnOnce() -> R + 'a,
    ) -> Self {
        let name = name.into();
        if let Some(p) = panic_lock().as_mut() {
            p.named.push(name.clone());
        }
        Process {
            name,
            target: Some(Box::new(move || target().into_exit_status())),
            child: None,
        }
    }

    /// `fork`s the child, which runs the target; returns at once.
    pub fn start(&mut self) -> Result<()> {
        let target = self
            .target
            .take()
            .with_context(|| tr!("{} was started twice", self.name))?;
        check_panic_in()?;
        let child = spawn(&self.name, target)?;
        // For the verdict: whether each started only after the last joined.
        log::record(
            "spawn",
            serde_json::json!({"of": child.pid().as_raw(), "name": self.name}),
        );
        self.child = Some(child);
        Ok(())
    }

    /// Waits for the child to end and reaps it (`wait4`).
    pub fn join(&mut self) -> Result<Ended> {
        let child = self
            .child
            .take()
            .with_context(|| tr!("{} was joined before it was started", self.name))?;
        let pid = child.pid().as_raw();
        let ended = child.wait4()?.ended;
        log::record("join", serde_json::json!({ "of": pid }));
        Ok(ended)
    }
}

/// Takes on `pid`, a process this one adopted as a subreaper, as a child
/// like any other: Ctrl-C is passed on to it, and it can be reaped.
pub fn adopt(pid: Pid, name: &str) -> Result<Child> {
    if signals::forward_stop_signals()? {
        live().clear();
    }
    list(pid, name)
}

/// Asks the kernel to send this child `signal` when its parent dies
/// (Linux `prctl(PR_SET_PDEATHSIG)`; `None`: to send nothing), so that no
/// child outlives a lesson killed by SIGKILL. Every child asks for SIGTERM
/// as it starts. A `parent` that died just before (it is no longer this
/// process's parent) is checked for by hand: the child then sends the
/// signal to itself. Does nothing on macOS.
pub fn prctl_set_pdeathsig(signal: Option<Signal>, parent: Pid) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let set = nix::sys::prctl::set_pdeathsig(signal);
        crate::error::Context::context(set, "prctl(PR_SET_PDEATHSIG)")?;
        if let Some(signal) = signal.filter(|_| nix::unistd::getppid() != parent) {
            let _ = nix::sys::signal::raise(signal);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (signal, parent);
    Ok(())
}

/// Makes this process the one that adopts its orphaned descendants, as
/// init would (Linux `prctl(PR_SET_CHILD_SUBREAPER)`); from then on the
/// lesson also reaps, before it ends, any descendant it adopted. Returns
/// false, and says why, where it cannot: the orphans then go to the system.
pub fn prctl_set_child_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    let outcome = crate::error::Context::context(
        nix::sys::prctl::set_child_subreaper(true),
        "prctl(PR_SET_CHILD_SUBREAPER)",
    );
    // macOS has no subreaper: orphans always go to launchd, pid 1.
    #[cfg(not(target_os = "linux"))]
    let outcome: Result<()> = Err(anyhow!(tr!(
        "this system has no subreaper: orphans always go to pid 1"
    )));
    match outcome {
        Ok(()) => SUBREAPER.store(true, Ordering::SeqCst),
        Err(e) => log::warn(tr!(
            "cannot adopt orphans ({}); they go to the system",
            format!("{e:#}")
        )),
    }
    SUBREAPER.load(Ordering::SeqCst)
}

/// Waits for every child not joined yet, and reaps it, as Python's main
/// process does before it exits. If the lesson is being stopped, they are
/// reaped all the same and then an error says so.
pub fn join_all() -> Result<()> {
    reap_all();
    signals::check_stop()
}

/// Reaps every child still running, waiting for each; returns how many.
/// The lesson calls this before it ends, whatever happened. A subreaper
/// also waits for every descendant it adopted and did not take on by
/// [`adopt`], so that none is left to an init that may never reap it.
pub(crate) fn reap_all() -> usize {
    let mut children = live().clone();
    // Those a SIGCHLD handler, or the kernel, reaped already are not ours.
    children.retain(|child| {
        let mine = is_mine(child.pid);
        if !mine {
            signals::forward_no_more(child.slot, child.pid.as_raw());
            live().retain(|c| c.pid != child.pid);
        }
        mine
    });
    for child in &children {
        if let Err(e) = reap(child) {
            let e = format!("{e:#}");
            log::warn(tr!("cannot reap {} (pid {}): {}", child.name, child.pid, e));
        }
    }
    let mut adopted = 0;
    while SUBREAPER.load(Ordering::SeqCst) {
        match wait4(None) {
            Ok(reaped) => {
                adopted += 1;
                if signals::stopping() {
                    STOPPED.fetch_add(1, Ordering::SeqCst);
                } else {
                    log::warn(tr!(
                        "reaped pid {}, an adopted orphan: it {}",
                        reaped.pid,
                        reaped.ended
                    ));
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no child left
        }
    }
    children.len() + adopted
}

/// Sends `signal` to every child not yet reaped. The lesson does so when
/// it fails, before it reaps them: a child may be waiting for something
/// the failed lesson will never do.
pub(crate) fn kill_all(signal: Signal) {
    // Not one a SIGCHLD handler or the kernel reaped already: its pid may
    // be a stranger's by now.
    for child in live().iter().filter(|c| is_mine(c.pid)) {
        let _ = nix::sys::signal::kill(child.pid, signal);
    }
}

/// How many children ended abnormally (failed, panicked, killed).
pub(crate) fn failures() -> usize {
    FAILURES.load(Ordering::SeqCst)
}

/// How many children returned an error (exit status [`EXIT_ERROR`]).
pub(crate) fn failed() -> usize {
    FAILED.load(Ordering::SeqCst)
}

/// How many children were reaped after a stop signal arrived, and how
/// many of them it killed.
pub(crate) fn stopped() -> (usize, usize) {
    (
        STOPPED.load(Ordering::SeqCst),
        KILLED_BY_STOP.load(Ordering::SeqCst),
    )
}

pub(crate) fn panic_in(name: &str) {
    *panic_lock() = Some(PanicIn {
        name: name.to_owned(),
        named: Vec::new(),
    });
}

fn panic_lock() -> std::sync::MutexGuard<'static, Option<PanicIn>> {
    PANIC_IN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn panicking_in() -> Option<String> {
    panic_lock().as_ref().map(|p| p.name.clone())
}

/// The refusal of a `--panic-in` that names none of `names`, the processes
/// of this run.
pub(crate) fn no_such_process(name: &str, names: &[String]) -> crate::error::Error {
    let listed = match names.len() {
        0 => tr!("none"),
        1..=12 => names.join(", "),
        n => tr!(
            "{}, … {} ({} in all)",
            names[..10].join(", "),
            names[n - 1],
            n
        ),
    };
    Usage(tr!(
        "--panic-in {}: no process of this lesson is called so; its processes are {}",
        name,
        listed
    ))
    .into()
}

/// A lesson that names its `Process`es before it starts one (as the notes
/// do) has `--panic-in` checked at its first `start`, before any child can
/// have done anything; one that forks as it goes, from the trace at its end
/// (see `lesson::run`).
fn check_panic_in() -> Result<()> {
    match panic_lock().as_ref() {
        Some(p) if SPAWNED.load(Ordering::SeqCst) == 0 && !p.named.contains(&p.name) => {
            Err(no_such_process(&p.name, &p.named))
        }
        _ => Ok(()),
    }
}

/// With `--panic-in`, whether a process of this run was called so; else the
/// refusal, with the names its processes had (the `fork` records).
pub(crate) fn check_panic_in_at_end(records: &[log::Record]) -> Result<()> {
    let Some(name) = panicking_in() else {
        return Ok(());
    };
    let forked = records.iter().filter(|r| r.event == "fork");
    let names: Vec<String> = forked
        .filter_map(|r| r.fields.get("name")?.as_str().map(String::from))
        .collect();
    if names.contains(&name) {
        return Ok(());
    }
    Err(no_such_process(&name, &names))
}

fn reap(child: &Child) -> Result<Reaped> {
    waitid_wnowait(child.pid).map_err(|e| child.failed(&tr!("waiting for"), e))?;
    // The dead child still holds its pid until it is reaped; take it off the
    // handler's list first, so a late Ctrl-C can never hit a process that
    // gets the pid next.
    let old_mask = signals::hold_back()?;
    signals::forward_no_more(child.slot, child.pid.as_raw());
    let reaped = wait4(Some(child.pid));
    signals::restore(&old_mask);
    live().retain(|c| c.pid != child.pid);
    let reaped = reaped.map_err(|e| child.failed(&tr!("waiting for"), e))?;
    let on_purpose = matches!(reaped.ended, Ended::Killed(s) if Some(s) == child.killed_with);
    let stop = signals::stop_signal();
    if stop.is_some() {
        STOPPED.fetch_add(1, Ordering::SeqCst);
    }
    if reaped.ended == Ended::Failed {
        FAILED.fetch_add(1, Ordering::SeqCst);
    }
    if stop.is_some_and(|s| reaped.ended == Ended::Killed(s)) {
        // Said once for all of them, when the lesson ends.
        KILLED_BY_STOP.fetch_add(1, Ordering::SeqCst);
        FAILURES.fetch_add(1, Ordering::SeqCst);
    } else if !matches!(reaped.ended, Ended::Exited(_)) && !on_purpose {
        FAILURES.fetch_add(1, Ordering::SeqCst);
        log::warn(format!(
            "{} (pid {}) {}",
            child.name, child.pid, reaped.ended
        ));
    }
    Ok(reaped)
}

/// `wait4`: reaps `pid` (any child if `None`), waiting for it to end, and
/// returns what the kernel kept: how it ended and its CPU time.
fn wait4(pid: Option<Pid>) -> nix::Result<Reaped> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let wanted = pid.map_or(-1, Pid::as_raw);
    // SAFETY: `status` and `usage` are valid and writable.
    let rc = unsafe { libc::wait4(wanted, &mut status, 0, &mut usage) };
    let pid = Pid::from_raw(Errno::result(rc)?);
    Ok(Reaped {
        pid,
        ended: Ended::from_status(WaitStatus::from_raw(pid, status)?),
        user: timing::duration(usage.ru_utime.tv_sec, usage.ru_utime.tv_usec),
        sys: timing::duration(usage.ru_stime.tv_sec, usage.ru_stime.tv_usec),
    })
}

/// Whether `pid` is still a child to reap: `waitid` with `WNOHANG` says
/// `ECHILD` once it was reaped by someone else.
fn is_mine(pid: Pid) -> bool {
    let Ok(id) = libc::id_t::try_from(pid.as_raw()) else {
        return false;
    };
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
    // SAFETY: `info` is a valid, writable siginfo_t.
    unsafe { libc::waitid(libc::P_PID, id, &mut info, flags) == 0 }
}

/// For a SIGCHLD handler that reaped `pid` itself: Ctrl-C is no longer
/// passed on to that pid, which a stranger may get next. Async-signal-safe:
/// it touches atomics only, and takes no lock.
pub fn reaped_elsewhere(pid: libc::pid_t) {
    signals::forward_no_more_to(pid);
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT)`: blocks until the child `pid`
/// has ended, and leaves it unreaped, a zombie.
pub fn waitid_wnowait(pid: Pid) -> nix::Result<()> {
    let id = libc::id_t::try_from(pid.as_raw()).map_err(|_| Errno::EINVAL)?;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

fn flush_std() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

fn live() -> std::sync::MutexGuard<'static, Vec<Child>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}
