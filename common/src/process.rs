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
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signal::{sigaction, sigprocmask};
use nix::sys::wait::WaitStatus;
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
/// Whether orphaned descendants are adopted by this process (Linux).
static SUBREAPER: AtomicBool = AtomicBool::new(false);

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
                crate::trace_with("error", serde_json::json!({"message": e.to_string()}));
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
        Ok(self.join_with_usage()?.ended)
    }

    /// Like [`Child::join`], and also returns the CPU time the child used,
    /// which the kernel kept for its parent along with how it ended (`wait4`).
    pub fn join_with_usage(self) -> Result<Reaped> {
        let reaped = reap(&self, false)?;
        stopped_error()?;
        Ok(reaped)
    }

    /// Ends the child with `signal` on purpose and reaps it: being killed
    /// is then no failure of the lesson.
    pub fn terminate(self, signal: Signal) -> Result<Reaped> {
        nix::sys::signal::kill(self.pid, signal).with_pid(&self)?;
        reap(&self, true)
    }
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

    /// CPU time in milliseconds: (user, sys).
    pub fn cpu_ms(&self) -> (f64, f64) {
        (self.user.as_secs_f64() * 1e3, self.sys.as_secs_f64() * 1e3)
    }
}

/// `fork` failed: `errno` says why (`EAGAIN`: a process limit was reached).
#[derive(Debug)]
pub struct ForkFailed {
    pub name: String,
    pub errno: Errno,
}

impl fmt::Display for ForkFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot start {}: fork: {} ({})",
            self.name,
            self.errno.desc(),
            self.errno
        )
    }
}

impl std::error::Error for ForkFailed {}

impl ForkFailed {
    /// `EAGAIN`: the user's process limit, or the system's, was reached.
    pub fn hit_process_limit(&self) -> bool {
        self.errno == Errno::EAGAIN
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
    let slot = free_slot()
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
        Err(errno) => {
            restore_mask(&old_mask);
            Err(ForkFailed {
                name: name.to_owned(),
                errno,
            }
            .into())
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
    // The lists of children still hold the parent's, until this process
    // starts children of its own (see `forward_stop_signals`): left alone,
    // their pages stay shared with the parent instead of being copied.
    HANDLER_IN.store(0, Ordering::SeqCst);
    SPAWNED.store(0, Ordering::SeqCst);
    FAILURES.store(0, Ordering::SeqCst);
    // fork does not pass the subreaper attribute on.
    SUBREAPER.store(false, Ordering::SeqCst);
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

/// Takes on `pid`, a process this one adopted as a subreaper, as a child
/// like any other: Ctrl-C is passed on to it, and it can be joined.
pub fn adopt(pid: Pid, name: &str) -> Result<Child> {
    forward_stop_signals()?;
    let slot = free_slot()
        .ok_or_else(|| format!("cannot adopt {name}: {MAX_CHILDREN} children are running"))?;
    let child = Child {
        pid,
        name: name.to_owned(),
        slot,
    };
    FORWARD_TO[slot].store(pid.as_raw(), Ordering::SeqCst);
    live().push(child.clone());
    Ok(child)
}

/// Makes this process the one that adopts its orphaned descendants, as
/// init would (Linux `prctl(PR_SET_CHILD_SUBREAPER)`). From then on the
/// lesson also reaps, before it ends, any descendant it adopted.
#[cfg(target_os = "linux")]
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
    SUBREAPER.store(true, Ordering::SeqCst);
    Ok(())
}

/// macOS has no subreaper: orphans always go to launchd, pid 1.
#[cfg(not(target_os = "linux"))]
pub fn become_subreaper() -> Result<()> {
    Err("this system has no subreaper: orphans always go to pid 1".into())
}

/// True if this process adopts its orphaned descendants.
pub fn is_subreaper() -> bool {
    SUBREAPER.load(Ordering::SeqCst)
}

/// Reaps every child still running, waiting for each; returns how many.
/// The lesson calls this before it ends, whatever happened. A subreaper
/// also waits for every descendant it adopted and did not take on by
/// [`adopt`], so that none is left to an init that may never reap it.
pub fn reap_all() -> usize {
    let children = live().clone();
    for child in &children {
        if let Err(e) = reap(child, false) {
            log::warn(format!(
                "cannot reap {} (pid {}): {e}",
                child.name, child.pid
            ));
        }
    }
    let mut adopted = 0;
    while is_subreaper() {
        match wait4(None) {
            Ok(reaped) => {
                adopted += 1;
                log::warn(format!(
                    "reaped pid {}, an adopted orphan: it {}",
                    reaped.pid, reaped.ended
                ));
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no child left
        }
    }
    children.len() + adopted
}

/// Sends `signal` to every child not yet reaped; returns how many. The
/// lesson does so when it fails, before it reaps them: a child may be
/// waiting for something the failed lesson will never do.
pub fn signal_all(signal: Signal) -> usize {
    let children = live().clone();
    for child in &children {
        let _ = nix::sys::signal::kill(child.pid, signal);
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

fn reap(child: &Child, on_purpose: bool) -> Result<Reaped> {
    wait_until_dead(child.pid).with_pid(child)?;
    // The dead child still holds its pid until it is reaped; take it off the
    // handler's list first, so a late Ctrl-C can never hit a process that
    // gets the pid next.
    let old_mask = block_stop_signals().context("blocking SIGINT and SIGTERM")?;
    FORWARD_TO[child.slot].store(0, Ordering::SeqCst);
    let reaped = wait4(Some(child.pid));
    restore_mask(&old_mask);
    live().retain(|c| c.pid != child.pid);
    let reaped = reaped.with_pid(child)?;
    if !reaped.ended.is_normal() && !on_purpose {
        FAILURES.fetch_add(1, Ordering::SeqCst);
        log::warn(format!(
            "{} (pid {}) {}",
            child.name, child.pid, reaped.ended
        ));
    }
    Ok(reaped)
}

/// Reaps `pid` (any child if `None`), waiting for it to end, and returns
/// what the kernel kept: how it ended and its CPU time.
fn wait4(pid: Option<Pid>) -> nix::Result<Reaped> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let wanted = pid.map_or(-1, Pid::as_raw);
    // SAFETY: `status` and `usage` are valid and writable.
    let rc = unsafe { libc::wait4(wanted, &mut status, 0, &mut usage) };
    let pid = Pid::from_raw(Errno::result(rc)?);
    let time = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64)
    };
    Ok(Reaped {
        pid,
        ended: Ended::from_status(WaitStatus::from_raw(pid, status)?),
        user: time(usage.ru_utime),
        sys: time(usage.ru_stime),
    })
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
/// notices. A forked child that calls it gets lists of children of its own.
pub fn forward_stop_signals() -> Result<()> {
    let me = std::process::id() as i32;
    if HANDLER_IN.load(Ordering::SeqCst) == me {
        return Ok(());
    }
    for slot in FORWARD_TO.iter().filter(|s| s.load(Ordering::SeqCst) != 0) {
        slot.store(0, Ordering::SeqCst);
    }
    live().clear();
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

/// A free place in the list of children, looked for from just after the
/// last one taken, so that starting n children costs n steps, not n².
fn free_slot() -> Option<usize> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = NEXT.load(Ordering::SeqCst);
    let slot = (start..MAX_CHILDREN)
        .chain(0..start)
        .find(|&i| FORWARD_TO[i].load(Ordering::SeqCst) == 0)?;
    NEXT.store((slot + 1) % MAX_CHILDREN, Ordering::SeqCst);
    Some(slot)
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
