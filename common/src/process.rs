//! `Process(target=…)`, `start()`, `join()` over `fork` and `waitpid`.
//!
//! A child is a `fork` that runs a closure and then `_exit`s: it never returns
//! into its parent's code, not after an error and not after a panic. Its
//! parent reaps it and learns how it ended. Ctrl-C (SIGINT) and SIGTERM sent
//! to a parent are passed on to the children it has not reaped yet.

use std::fmt;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signal::{sigaction, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::{Context, Result, log, timing};

/// Exit status of a child whose target returned an error.
pub const EXIT_ERROR: i32 = 1;
/// Exit status of a child whose target panicked (Rust's own convention).
pub const EXIT_PANIC: i32 = 101;

/// How many children one process may have unreaped at once.
pub const MAX_CHILDREN: usize = 4096;

/// The pids a stop signal is passed on to. A signal handler may not take a
/// lock or allocate, so it reads these atomics and nothing else.
static FORWARD_TO: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];
/// The stop signal received (SIGINT or SIGTERM), 0 while none was.
static STOP: AtomicI32 = AtomicI32::new(0);
/// The pid that installed the handler: a child starts with default handling.
static HANDLER_IN: AtomicI32 = AtomicI32::new(0);
static SPAWNED: AtomicUsize = AtomicUsize::new(0);
static FAILURES: AtomicUsize = AtomicUsize::new(0);
static LIVE: Mutex<Vec<Child>> = Mutex::new(Vec::new());

const STOP_SIGNALS: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// How a child ended, as its parent learns it from `waitpid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It called `exit` with this status (0: its target returned normally).
    Exited(i32),
    /// Its target returned an error (exit status [`EXIT_ERROR`]).
    Failed,
    /// Its target panicked (exit status [`EXIT_PANIC`]).
    Panicked,
    /// A signal ended it.
    Killed(Signal),
}

impl Ended {
    /// True unless it failed, panicked or was killed.
    pub fn is_normal(self) -> bool {
        matches!(self, Ended::Exited(_))
    }

    fn from_status(status: WaitStatus) -> Self {
        match status {
            WaitStatus::Exited(_, EXIT_ERROR) => Ended::Failed,
            WaitStatus::Exited(_, EXIT_PANIC) => Ended::Panicked,
            WaitStatus::Exited(_, code) => Ended::Exited(code),
            WaitStatus::Signaled(_, signal, _) => Ended::Killed(signal),
            other => unreachable!("waitpid without WUNTRACED reported {other:?}"),
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Failed => write!(f, "failed (exit status {EXIT_ERROR})"),
            Ended::Panicked => write!(f, "panicked (exit status {EXIT_PANIC})"),
            Ended::Killed(signal) => write!(f, "was killed by {signal}"),
        }
    }
}

/// What a child's target returns becomes its exit status.
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
                log::warn(format!("error: {e}"));
                EXIT_ERROR
            }
        }
    }
}

/// A started child: its pid and its name, until it is joined.
#[derive(Debug, Clone)]
pub struct Child {
    pid: Pid,
    name: String,
    slot: usize,
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the child to end and reaps it (`waitpid`). If the lesson is
    /// being stopped, the child is reaped all the same and then an error says so.
    pub fn join(self) -> Result<Ended> {
        let ended = reap(&self)?;
        stopped_error()?;
        Ok(ended)
    }
}

/// Runs `target` in a new child process named `name` and returns at once.
///
/// Standard output and error are flushed first, or text still in a buffer
/// would be printed by both processes. The child exits with the status its
/// target gives ([`IntoExitStatus`]), or [`EXIT_PANIC`] if it panics.
pub fn spawn<R: IntoExitStatus>(name: &str, target: impl FnOnce() -> R) -> Result<Child> {
    stopped_error()?;
    forward_stop_signals()?;
    let slot = FORWARD_TO
        .iter()
        .position(|s| s.load(Ordering::SeqCst) == 0)
        .ok_or_else(|| format!("cannot start {name}: {MAX_CHILDREN} children are running"))?;
    let ordinal = SPAWNED.fetch_add(1, Ordering::SeqCst);
    flush_std();
    // Held back until the child's pid is known to the handler: a Ctrl-C in
    // between would otherwise miss the newborn child, and the child would run
    // its parent's handler.
    let old_mask = block_stop_signals().context("blocking SIGINT and SIGTERM")?;
    // SAFETY: the lessons are single-threaded, so the child gets a consistent
    // copy of memory; it only runs `target` and leaves by `_exit`.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => run_child(name, ordinal, &old_mask, target),
        Ok(ForkResult::Parent { child }) => {
            FORWARD_TO[slot].store(child.as_raw(), Ordering::SeqCst);
            let child = Child {
                pid: child,
                name: name.to_owned(),
                slot,
            };
            live().push(child.clone());
            restore_mask(&old_mask);
            Ok(child)
        }
        Err(e) => {
            restore_mask(&old_mask);
            Err(format!("cannot start {name}: fork: {}", e.desc()).into())
        }
    }
}

fn run_child<R: IntoExitStatus>(
    name: &str,
    ordinal: usize,
    old_mask: &SigSet,
    target: impl FnOnce() -> R,
) -> ! {
    for signal in STOP_SIGNALS {
        // SAFETY: installs the default disposition, no handler code.
        let _ = unsafe { sigaction(signal, &default_action()) };
    }
    // The parent's children are not this process's children.
    for slot in &FORWARD_TO {
        slot.store(0, Ordering::SeqCst);
    }
    live().clear();
    HANDLER_IN.store(0, Ordering::SeqCst);
    SPAWNED.store(0, Ordering::SeqCst);
    FAILURES.store(0, Ordering::SeqCst);
    log::become_child(name, ordinal);
    timing::draws_for(name);
    restore_mask(old_mask);
    let status = catch_unwind(AssertUnwindSafe(|| {
        if crate::lesson::panics_in(name) {
            panic!("{name} panics on purpose (--panic-in {name})");
        }
        target().into_exit_status()
    }))
    .unwrap_or(EXIT_PANIC);
    flush_std();
    // SAFETY: `_exit` ends the process at once. Unlike `exit` or returning,
    // it runs none of the parent's cleanup (temporary files, atexit), which
    // belongs to the parent alone.
    unsafe { libc::_exit(status) }
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
        Process {
            name: name.into(),
            target: Some(Box::new(move || target().into_exit_status())),
            child: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid once started.
    pub fn pid(&self) -> Option<Pid> {
        self.child.as_ref().map(Child::pid)
    }

    /// Forks the child, which runs the target; returns at once.
    pub fn start(&mut self) -> Result<()> {
        let target = self
            .target
            .take()
            .ok_or_else(|| format!("{} was started twice", self.name))?;
        self.child = Some(spawn(&self.name, target)?);
        Ok(())
    }

    /// Waits for the child to end and reaps it.
    pub fn join(&mut self) -> Result<Ended> {
        let child = self
            .child
            .take()
            .ok_or_else(|| format!("{} was joined before it was started", self.name))?;
        child.join()
    }
}

/// Reaps every child still running, waiting for each; returns how many.
/// The lesson calls this before it ends, whatever happened.
pub fn reap_all() -> usize {
    let children = live().clone();
    for child in &children {
        if let Err(e) = reap(child) {
            log::warn(format!(
                "cannot reap {} (pid {}): {e}",
                child.name, child.pid
            ));
        }
    }
    children.len()
}

/// How many children ended abnormally (failed, panicked, killed).
pub fn failures() -> usize {
    FAILURES.load(Ordering::SeqCst)
}

/// The stop signal this process received, if any.
pub fn stop_signal() -> Option<Signal> {
    Signal::try_from(STOP.load(Ordering::SeqCst)).ok()
}

/// True once SIGINT or SIGTERM arrived: nothing new should start.
pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst) != 0
}

fn stopped_error() -> Result<()> {
    match stop_signal() {
        Some(signal) => Err(format!("stopped by {signal}").into()),
        None => Ok(()),
    }
}

fn reap(child: &Child) -> Result<Ended> {
    wait_until_dead(child.pid).with_pid(child)?;
    // The dead child still holds its pid until it is reaped; take it off the
    // handler's list first, so a late Ctrl-C can never hit a process that
    // gets the pid next.
    let old_mask = block_stop_signals().context("blocking SIGINT and SIGTERM")?;
    FORWARD_TO[child.slot].store(0, Ordering::SeqCst);
    let status = waitpid(child.pid, None);
    restore_mask(&old_mask);
    live().retain(|c| c.pid != child.pid);
    let ended = Ended::from_status(status.with_pid(child)?);
    if !ended.is_normal() {
        FAILURES.fetch_add(1, Ordering::SeqCst);
        log::warn(format!("{} (pid {}) {ended}", child.name, child.pid));
    }
    Ok(ended)
}

trait WithPid<T> {
    fn with_pid(self, child: &Child) -> Result<T>;
}

impl<T> WithPid<T> for nix::Result<T> {
    fn with_pid(self, child: &Child) -> Result<T> {
        self.map_err(|e| {
            format!(
                "waiting for {} (pid {}): {}",
                child.name,
                child.pid,
                e.desc()
            )
            .into()
        })
    }
}

/// Blocks until `pid` has ended, leaving it unreaped (`waitid` with `WNOWAIT`).
pub fn wait_until_dead(pid: Pid) -> nix::Result<()> {
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let id = libc::id_t::try_from(pid.as_raw()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `info` is a valid, writable siginfo_t.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// Installs, once per process, the handler that passes SIGINT and SIGTERM
/// on to the children. Without `SA_RESTART`, so a parent blocked in a wait
/// notices.
pub fn forward_stop_signals() -> Result<()> {
    let me = std::process::id() as i32;
    if HANDLER_IN.load(Ordering::SeqCst) == me {
        return Ok(());
    }
    let mut during = SigSet::empty();
    for signal in STOP_SIGNALS {
        during.add(signal);
    }
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        during,
    );
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only touches atomics and calls kill(2), which
        // is async-signal-safe.
        unsafe { sigaction(signal, &action) }.context(format!("installing a {signal} handler"))?;
    }
    HANDLER_IN.store(me, Ordering::SeqCst);
    Ok(())
}

extern "C" fn on_stop_signal(signal: libc::c_int) {
    let saved = Errno::last_raw();
    STOP.store(signal, Ordering::SeqCst);
    for slot in &FORWARD_TO {
        let pid = slot.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) is async-signal-safe; the pid is an unreaped child.
            unsafe { libc::kill(pid, signal) };
        }
    }
    Errno::set_raw(saved);
}

fn default_action() -> SigAction {
    SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty())
}

fn block_stop_signals() -> nix::Result<SigSet> {
    let mut block = SigSet::empty();
    for signal in STOP_SIGNALS {
        block.add(signal);
    }
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old))?;
    Ok(old)
}

fn restore_mask(old: &SigSet) {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(old), None);
}

fn flush_std() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

fn live() -> std::sync::MutexGuard<'static, Vec<Child>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}
