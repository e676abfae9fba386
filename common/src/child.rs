//! Children: `fork`, which returns twice, `wait4` for a child, `kill` it;
//! and the notes' `Process(target=…)`, `start()`, `join()` over them. A
//! child's branch ends with `_exit`, never in its parent's code, not even
//! after a panic; every child not yet reaped is listed, to reap on any path.

use std::fmt;
use std::io::Write;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use compact_str::{CompactString, ToCompactString};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};
use rustix::process::{WaitId, WaitIdOptions};

use anyhow::bail;
use serde_json::json;

use crate::error::{Context as _, EXIT_PANIC, Result, Usage, anyhow};
use crate::signals::{self, MAX_CHILDREN};
use crate::{log, timing};

pub use crate::signals::reaped_elsewhere;

const EXIT_ERROR: i32 = 1;
/// Added to the exit status (if below it) of a child that could not write
/// all of its trace records (a full disk): its parent learns both. Clear of
/// the lessons' own statuses, `EXIT_PANIC` and 128 + a signal.
const TRACE_LOST: i32 = 32;

/// One lock for all this process knows of its children: the signal handlers
/// read `signals`' atomics, never this, so none can find it taken.
static STATE: LazyLock<Mutex<State>> = LazyLock::new(Mutex::default);

#[derive(Debug, Default)]
struct State {
    live: Vec<Child>,
    counts: Counts,
    /// `--panic-in`, and the names given to `Process`es, to check it against.
    panic_in: Option<String>,
    named: Vec<String>,
    /// When a waiter first saw the lesson stopping: its children's grace
    /// starts then.
    stop_noticed: Option<Instant>,
}

/// A forked child starts its own from zero.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    spawned: usize,
    /// Abnormal ends (failed, panicked, killed); returned errors.
    pub(crate) failures: usize,
    failed: usize,
    /// Reaped after a stop signal arrived, and those it killed.
    pub(crate) stopped: usize,
    pub(crate) killed_by_stop: usize,
    /// The signal that killed the first of them.
    pub(crate) killed_by: Option<Signal>,
    /// Children that could not write all of their trace records.
    pub(crate) trace_lost: usize,
    /// Adopts orphaned descendants (Linux); fork does not pass that on.
    subreaper: bool,
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn counts() -> Counts {
    state().counts
}

pub(crate) fn failed() -> usize {
    state().counts.failed
}

/// How a child ended, as its parent learns it from `wait4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    /// Its closure returned an error, or panicked.
    Failed,
    Panicked,
    Killed(Signal),
}

impl Ended {
    fn from_code(code: i32) -> Ended {
        match code {
            EXIT_ERROR => Ended::Failed,
            EXIT_PANIC => Ended::Panicked,
            code => Ended::Exited(code),
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
                log::record("error", json!({"message": e}));
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

#[derive(Debug, Clone)]
pub struct Child {
    pid: Pid,
    /// Kept inline (up to 24 bytes): its copies, the list's, the child's and
    /// the `Process`'s, allocate nothing and write to no page of the heap.
    name: CompactString,
    slot: usize,
    /// Sent by [`Child::kill`]: dying of it is no failure of the lesson.
    killed_with: Option<Signal>,
}

/// What the kernel kept of a dead child until its parent reaped it: how it
/// ended, its CPU time in its own code (`user`) and the kernel's (`sys`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reaped {
    pub pid: Pid,
    pub ended: Ended,
    pub user: Duration,
    pub sys: Duration,
    /// It could not write all of its trace records (see [`TRACE_LOST`]).
    trace_lost: bool,
}

impl Reaped {
    /// The trace fields of a `reaped` event: `{"of", "status", "user_ms",
    /// "sys_ms"}`, and `"signal"` instead of `"status"` if a signal ended it.
    pub fn fields(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let (user_ms, sys_ms) = (ms(self.user), ms(self.sys));
        let mut fields = json!({"of": self.pid.as_raw(), "user_ms": user_ms, "sys_ms": sys_ms});
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
        let (name, e) = (&self.name, self.errno);
        f.write_str(&tr!("cannot start {}: fork: {} ({})", name, e.desc(), e))
    }
}

impl std::error::Error for ForkFailed {}

#[derive(Debug)]
pub enum Fork {
    Child(InChild),
    Parent(Child),
}

/// The child's side of a fork. Its branch ends with [`InChild::exit`];
/// left any other way (a `return`, a `?`, a panic), the token is dropped
/// and ends the process there, so a child never runs its parent's code.
#[derive(Debug)]
#[must_use = "the child's branch ends with exit"]
pub struct InChild(());

impl InChild {
    /// `_exit`, never a return into the parent's code.
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

/// `fork(2)`: returns twice, [`Fork::Child`] in the new process named
/// `name`, [`Fork::Parent`] in this one. A name made by `format_args!` is
/// formatted straight into the child's, with no `String` allocated and
/// freed for it: every page the parent writes between two forks is one it
/// has to copy while the last child still shares it.
#[inline] // into the caller: a child returns through it, and its code lies with the caller's
pub fn fork(name: impl fmt::Display) -> Result<Fork> {
    fork_as(name.to_compact_string())
}

fn fork_as(name: CompactString) -> Result<Fork> {
    signals::check_stop()?;
    // A lesson without headings asks its quiz as it starts: before this.
    crate::quiz::before_fork()?;
    signals::forward_stop_signals()?;
    if state().live.len() >= MAX_CHILDREN {
        let e = tr!(
            "cannot start {}: {} children are unreaped already",
            &*name,
            MAX_CHILDREN
        );
        return Err(anyhow!(e));
    }
    let ordinal = state().counts.spawned;
    state().counts.spawned += 1;
    let parent = signals::pid() as i32;
    if ordinal == 0 {
        crate::schedule::check_lock_opened_before_fork()?;
    }
    // With a schedule, the pipe its turns will come down.
    let turns = crate::schedule::before_fork()?;
    // Or what is still in a buffer would be printed by both processes.
    flush_std();
    // A SIGCHLD handler (the zombie's, part 4) could reap the newborn before
    // its pid is on the list, and leave it there for a stranger to get:
    // with one, the signals are held back until it is listed. The stop
    // handlers need no such wait: they read the list's atomics only, a stop
    // that comes before the child is listed is passed on to it as it is
    // (`list`), and in the child the inherited handler ends it.
    let sigchld_taken = !signals::sigchld_by_default();
    let old_mask = sigchld_taken.then(signals::hold_back).transpose()?;
    // SAFETY: the lessons are single-threaded, so the child gets a consistent
    // copy of memory; its branch ends by `_exit` (see `InChild`).
    let forked = unsafe { nix::unistd::fork() };
    let restore = || old_mask.as_ref().map(signals::restore);
    match forked {
        Ok(ForkResult::Child) => {
            crate::schedule::in_child(turns);
            Ok(Fork::Child(become_child(
                name,
                ordinal,
                parent,
                old_mask.as_ref(),
            )))
        }
        Ok(ForkResult::Parent { child: pid }) => {
            crate::schedule::in_parent(pid.as_raw(), &name, turns);
            if state().panic_in.is_some() {
                // What `--panic-in` is checked against at the end.
                log::record("fork", json!({"of": pid.as_raw(), "name": &*name}));
            }
            let listed = list(pid, name, ordinal);
            restore();
            listed.map(Fork::Parent)
        }
        Err(errno) => {
            restore();
            let name = name.to_string();
            Err(ForkFailed { name, errno }.into())
        }
    }
}

/// `fork`s a child that runs `target`, and exits with the status it gives.
pub fn spawn<R: IntoExitStatus>(name: &str, target: impl FnOnce() -> R) -> Result<Child> {
    spawn_as(CompactString::new(name), target)
}

fn spawn_as<R: IntoExitStatus>(name: CompactString, target: impl FnOnce() -> R) -> Result<Child> {
    match fork_as(name)? {
        Fork::Child(me) => me.exit(target()),
        Fork::Parent(child) => Ok(child),
    }
}

/// `old_mask`: the signal mask to go back to, where `fork_as` held signals
/// back, which it does for a parent that takes SIGCHLD (see there).
fn become_child(
    name: CompactString,
    ordinal: usize,
    parent: i32,
    old_mask: Option<&SigSet>,
) -> InChild {
    let panics = state().panic_in.as_deref() == Some(&*name);
    timing::draws_for(&name);
    // Named first of what others can see, so that it is found under its own
    // name in `ps` from the start, and every line it writes carries it.
    log::become_child(name, ordinal);
    signals::forked();
    signals::default_handling_in_child(old_mask.is_some());
    let _ = prctl_set_pdeathsig(Some(Signal::SIGTERM), Pid::from_raw(parent));
    // A list of its own, empty: the parent's copy is forgotten, not dropped,
    // so that its pages stay shared with the parent instead of being copied.
    std::mem::forget(std::mem::take(&mut state().live));
    state().counts = Counts::default();
    if let Some(old_mask) = old_mask {
        signals::restore(old_mask);
    }
    let me = InChild(());
    if panics {
        // Unwinds into nothing of the parent's: `me` ends the process.
        let name = log::who();
        panic!("{name} panics on purpose (--panic-in {name})");
    }
    me
}

fn end_child(status: i32) -> ! {
    // A child stopped, or failing, with children of its own reaps them
    // before it goes, or they would be orphans, left to an init that may
    // never reap.
    if signals::stopping() || status == EXIT_ERROR || status == EXIT_PANIC {
        kill_all(Signal::SIGTERM);
        reap_all();
    }
    // Stopped by Ctrl-C after it had children of its own (and so a handler
    // of its own), it ends of the signal all the same, with no core file, as
    // a child without one does: its parent counts it with the rest, in one
    // line.
    if let Some(signal) = signals::stop_signal().filter(|_| signals::installed_here()) {
        flush_std();
        signals::die_of(signal);
    }
    // Its events are the lesson's evidence: its parent must learn that some
    // are lost, and still how it ended (a buyer that bought, bought).
    let status = match log::trace_error() {
        Some(_) if (0..TRACE_LOST).contains(&status) => status + TRACE_LOST,
        _ => status,
    };
    flush_std();
    crate::schedule::ending();
    signals::_exit(status)
}

/// Puts `pid` on the list of children to reap and to pass Ctrl-C on to.
fn list(pid: Pid, name: CompactString, ordinal: usize) -> Result<Child> {
    let slot = signals::forward_to(pid.as_raw(), ordinal)
        .with_context(|| tr!("{}: {} children are unreaped already", name, MAX_CHILDREN))?;
    let child = Child {
        pid,
        name,
        slot,
        killed_with: None,
    };
    state().live.push(child.clone());
    Ok(child)
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the child to end and reaps it. If the lesson is being
    /// stopped, the child is reaped all the same, then an error says so.
    pub fn wait4(self) -> Result<Reaped> {
        let reaped = reap(&self)?;
        signals::check_stop()?;
        Ok(reaped)
    }

    /// On purpose: dying of `signal` is then no failure.
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
    name: CompactString,
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
        name: impl fmt::Display,
        target: impl FnOnce() -> R + 'a,
    ) -> Self {
        let name = name.to_compact_string();
        let mut state = state();
        if state.panic_in.is_some() {
            state.named.push(name.to_string());
        }
        Process {
            name,
            target: Some(Box::new(move || target().into_exit_status())),
            child: None,
        }
    }

    pub fn start(&mut self) -> Result<()> {
        let target = self.target.take();
        let target = target.with_context(|| tr!("{} was started twice", self.name))?;
        check_panic_in()?;
        let child = spawn_as(self.name.clone(), target)?;
        // For the verdict: whether each started only after the last joined.
        // Serialized as it is written, with no JSON value made first.
        #[derive(serde::Serialize)]
        struct Spawn<'a> {
            of: i32,
            name: &'a str,
        }
        let fields = Spawn {
            of: child.pid().as_raw(),
            name: &self.name,
        };
        log::record("spawn", fields);
        self.child = Some(child);
        Ok(())
    }

    pub fn join(&mut self) -> Result<Ended> {
        let child = self.child.take();
        let child = child.with_context(|| tr!("{} was joined before it was started", self.name))?;
        let pid = child.pid().as_raw();
        scheduled_until(Some(pid))?;
        let ended = child.wait4()?.ended;
        log::record("join", json!({ "of": pid }));
        Ok(ended)
    }
}

/// Takes on `pid`, an orphan this subreaper adopted, as a child like any other.
pub fn adopt(pid: Pid, name: &str) -> Result<Child> {
    signals::forward_stop_signals()?;
    let ordinal = state().counts.spawned;
    list(pid, CompactString::new(name), ordinal)
}

/// The kernel sends this child `signal` (`None`: nothing) when its parent
/// dies, so that no child outlives a lesson killed by SIGKILL; a `parent`
/// that died just before is caught by hand. Does nothing on macOS.
pub fn prctl_set_pdeathsig(signal: Option<Signal>, parent: Pid) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        signals::parent_signals_death(None);
        // Through rustix, which makes the system calls itself, as for the
        // name (`log::become_child`): no page of libc's code for them.
        use rustix::process::{Signal as RawSignal, getppid};
        let raw = signal.and_then(|s| RawSignal::from_named_raw(s as i32));
        rustix::process::set_parent_process_death_signal(raw).context("prctl(PR_SET_PDEATHSIG)")?;
        match signal {
            Some(signal) if getppid() != rustix::process::Pid::from_raw(parent.as_raw()) => {
                let _ = nix::sys::signal::raise(signal);
            }
            Some(_) => signals::parent_signals_death(Some(parent.as_raw())),
            None => {}
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (signal, parent);
    Ok(())
}

/// This process adopts its orphaned descendants, as init would, and reaps
/// them before it ends. Where it cannot, it says why and returns false.
pub fn prctl_set_child_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    let outcome =
        nix::sys::prctl::set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)");
    // macOS has no subreaper: orphans always go to launchd, pid 1.
    #[cfg(not(target_os = "linux"))]
    let outcome: Result<()> = Err(anyhow!(tr!(
        "this system has no subreaper: orphans always go to pid 1"
    )));
    match outcome {
        Ok(()) => state().counts.subreaper = true,
        Err(e) => log::warn(tr!(
            "cannot adopt orphans ({}); they go to the system",
            format!("{e:#}")
        )),
    }
    state().counts.subreaper
}

/// Reaps every child not joined yet, as Python's main process does before it
/// exits; then an error if the lesson is being stopped.
pub fn join_all() -> Result<()> {
    scheduled_until(None)?;
    reap_all();
    signals::check_stop()
}

/// With a schedule, hands out the turns until `pid` (every child, for
/// `None`) has ended. A turn that cannot be given ends the run: the
/// children still running are killed, on purpose, to be reaped.
fn scheduled_until(pid: Option<i32>) -> Result<()> {
    let handed = crate::schedule::until_ended(pid);
    if handed.is_err() {
        let mut state = state();
        // Not one reaped already by a SIGCHLD handler: its pid may be a
        // stranger's by now.
        for child in state.live.iter_mut().filter(|c| is_mine(c.pid)) {
            child.killed_with = Some(Signal::SIGTERM);
            let _ = nix::sys::signal::kill(child.pid, Signal::SIGTERM);
        }
    }
    handed
}

/// The lesson's last step, whatever happened. A subreaper also reaps the
/// descendants it adopted, so that none is left to an init that may never.
pub(crate) fn reap_all() {
    let children = std::mem::take(&mut state().live);
    for child in &children {
        // Those a SIGCHLD handler, or the kernel, reaped already (`ECHILD`)
        // are not ours any more.
        if let Err(e) = reap_or_gone(child) {
            let e = format!("{e:#}");
            log::warn(tr!("cannot reap {} (pid {}): {}", child.name, child.pid, e));
        }
    }
    while state().counts.subreaper {
        match wait4(None, 0) {
            Ok(_) if signals::stopping() => state().counts.stopped += 1,
            Ok(None) => unreachable!("wait4 without WNOHANG returned no child"),
            Ok(Some(reaped)) => log::warn(tr!(
                "reaped pid {}, an adopted orphan: it {}",
                reaped.pid,
                reaped.ended
            )),
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no child left
        }
    }
}

/// A failed lesson does so before it reaps: a child may be waiting for
/// something the lesson will never do.
pub(crate) fn kill_all(signal: Signal) {
    // Not one a SIGCHLD handler or the kernel reaped already: its pid may
    // be a stranger's by now.
    for child in state().live.iter().filter(|c| is_mine(c.pid)) {
        let _ = nix::sys::signal::kill(child.pid, signal);
    }
}

pub(crate) fn panic_in(name: &str) {
    state().panic_in = Some(name.to_owned());
}

fn named_so(name: &str, names: &[String]) -> Result<()> {
    if names.iter().any(|n| n == name) {
        return Ok(());
    }
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
    bail!(Usage(tr!(
        "--panic-in {}: no process of this lesson is called so; its processes are {}",
        name,
        listed
    )))
}

/// A lesson that names its `Process`es before it starts one (as the notes
/// do) has `--panic-in` checked at its first `start`, before any child can
/// have done anything; one that forks as it goes, by the trace's `fork`
/// records at its end (see `lesson::run`).
fn check_panic_in() -> Result<()> {
    let state = state();
    match &state.panic_in {
        Some(name) if state.counts.spawned == 0 => named_so(name, &state.named),
        _ => Ok(()),
    }
}

/// Reads the trace only with `--panic-in`: a run without it has nothing to check.
pub(crate) fn check_panic_in_at_end() -> Result<()> {
    let Some(name) = state().panic_in.clone() else {
        return Ok(());
    };
    let records = log::records()?;
    let forks = records.iter().filter(|r| r.event == "fork");
    let names = forks.filter_map(|r| Some(r.fields.get("name")?.as_str()?.to_owned()));
    named_so(&name, &names.collect::<Vec<_>>())
}

/// How long a child has to end once a stop was passed on to it: one that
/// still runs then (it was stopped again, or it ignores the signal) is
/// killed.
const GRACE: Duration = Duration::from_secs(5);

/// Waits until `child` has ended, and leaves it unreaped. Once the lesson
/// is stopping, for [`GRACE`] at most, then it kills it (SIGKILL), which no
/// process can ignore, and says so; returns whether it did.
fn wait_for_end(child: &Child) -> nix::Result<bool> {
    while !signals::stopping() {
        // Not retried on EINTR, unlike `waitid_wnowait`: a stop signal must
        // end the wait for a child that may never end.
        match waitid_once(child.pid, WaitIdOptions::empty()) {
            Err(Errno::EINTR) => continue,
            other => return other.map(|_| false),
        }
    }
    let since = *state().stop_noticed.get_or_insert_with(Instant::now);
    // Asked once more after the grace: a child that ended meanwhile (while
    // the grace ran out on another) is no child to kill.
    loop {
        if waitid_once(child.pid, WaitIdOptions::NOHANG)? {
            return Ok(false);
        }
        if since.elapsed() >= GRACE {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = nix::sys::signal::kill(child.pid, Signal::SIGKILL);
    let stop = signals::stop_signal()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (name, pid, grace) = (&child.name, child.pid, GRACE.as_secs());
    log::warn(tr!(
        "{} (pid {}) had not ended {} s after {}: killed (SIGKILL)",
        name,
        pid,
        grace,
        stop
    ));
    waitid_wnowait(child.pid).map(|()| true)
}

fn reap(child: &Child) -> Result<Reaped> {
    let failed = |e| child.failed(&tr!("waiting for"), e);
    reap_or_gone(child)?.ok_or_else(|| failed(Errno::ECHILD))
}

/// Reaps `child`; `None` if a SIGCHLD handler, or the kernel (SIGCHLD
/// ignored), reaped it already.
fn reap_or_gone(child: &Child) -> Result<Option<Reaped>> {
    let failed = |e| child.failed(&tr!("waiting for"), e);
    let pid = child.pid.as_raw();
    // The dead child still holds its pid until it is reaped; take it off the
    // handler's list first, so a late Ctrl-C can never hit a process that
    // gets the pid next. No signal needs holding back for that: a handler
    // runs in this one thread, before the slot is emptied or after.
    let passed_on = signals::stopping();
    signals::forward_no_more(child.slot, pid);
    // Most children have ended by the time they are joined: one call reaps.
    let mut reaped = wait4(Some(child.pid), libc::WNOHANG);
    let mut killed = false;
    if let Ok(None) = reaped {
        // Still running: back on the list, told of a stop that came while
        // it was off it (one that came before was passed on to it then).
        signals::forward_again(child.slot, pid, passed_on);
        let waited = wait_for_end(child);
        // Ended, or reaped meanwhile by a SIGCHLD handler or by the kernel
        // (SIGCHLD ignored): off the list again.
        signals::forward_no_more(child.slot, pid);
        reaped = match waited {
            Err(Errno::ECHILD) => Err(Errno::ECHILD),
            waited => {
                killed = waited.map_err(failed)?;
                wait4(Some(child.pid), 0)
            }
        };
    }
    let mut state = state();
    if let Some(at) = state.live.iter().rposition(|c| c.pid == child.pid) {
        state.live.swap_remove(at);
    }
    let reaped = match reaped {
        // Reaped already: by a SIGCHLD handler's `waitpid(-1)`, or by the
        // kernel (SIGCHLD ignored).
        Err(Errno::ECHILD) => return Ok(None),
        Ok(Some(reaped)) => reaped,
        Ok(None) => unreachable!("wait4 without WNOHANG returned no child"),
        Err(e) => return Err(failed(e)),
    };
    let (ended, stop) = (reaped.ended, signals::stop_signal());
    // Said once for all of them, when the lesson ends.
    // Of any stop signal: passed on by this lesson, or sent to its group.
    let by_stop = stop.is_some() && matches!(ended, Ended::Killed(s) if signals::is_stop_signal(s));
    let on_purpose = matches!(ended, Ended::Killed(s) if Some(s) == child.killed_with || killed);
    let unexpected = !matches!(ended, Ended::Exited(_)) && !on_purpose && !by_stop;
    let counts = &mut state.counts;
    counts.stopped += usize::from(stop.is_some());
    counts.failed += usize::from(ended == Ended::Failed);
    counts.killed_by_stop += usize::from(by_stop);
    counts.trace_lost += usize::from(reaped.trace_lost);
    if let (true, Ended::Killed(s)) = (by_stop, ended) {
        counts.killed_by.get_or_insert(s);
    }
    counts.failures += usize::from(by_stop || unexpected);
    if unexpected {
        log::warn(format!("{} (pid {}) {ended}", child.name, child.pid));
    }
    Ok(Some(reaped))
}

/// `wait4`: reaps `pid` (any child if `None`), waiting for it to end;
/// with `WNOHANG` in `options`, `None` while it still runs.
fn wait4(pid: Option<Pid>, options: libc::c_int) -> nix::Result<Option<Reaped>> {
    let mut status: libc::c_int = 0;
    let wanted = pid.map_or(-1, Pid::as_raw);
    // SAFETY: an all-zero rusage is a valid value to be overwritten;
    // `status` and `usage` are valid and writable.
    let (rc, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::wait4(wanted, &mut status, options, &mut usage), usage)
    };
    let pid = match Errno::result(rc)? {
        0 => return Ok(None),
        pid => Pid::from_raw(pid),
    };
    let (ended, trace_lost) = match WaitStatus::from_raw(pid, status)? {
        WaitStatus::Exited(_, code) if (TRACE_LOST..2 * TRACE_LOST).contains(&code) => {
            (Ended::from_code(code - TRACE_LOST), true)
        }
        WaitStatus::Exited(_, code) => (Ended::from_code(code), false),
        WaitStatus::Signaled(_, signal, _) => (Ended::Killed(signal), false),
        other => unreachable!("wait4 without WUNTRACED reported {other:?}"),
    };
    let cpu = |t: libc::timeval| timing::duration(t.tv_sec, t.tv_usec);
    let (user, sys) = (cpu(usage.ru_utime), cpu(usage.ru_stime));
    Ok(Some(Reaped {
        pid,
        ended,
        user,
        sys,
        trace_lost,
    }))
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT | more)`, again if interrupted.
fn waitid(pid: Pid, more: WaitIdOptions) -> nix::Result<()> {
    loop {
        match waitid_once(pid, more) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT | more)` once: whether it ended
/// (with `WNOHANG`, false while it runs).
fn waitid_once(pid: Pid, more: WaitIdOptions) -> nix::Result<bool> {
    let pid = rustix::process::Pid::from_raw(pid.as_raw()).ok_or(Errno::EINVAL)?;
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | more;
    rustix::process::waitid(WaitId::Pid(pid), options)
        .map(|status| status.is_some())
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

/// Whether `pid` is still a child to reap: `waitid` with `WNOHANG` says
/// `ECHILD` once it was reaped by someone else.
fn is_mine(pid: Pid) -> bool {
    waitid(pid, WaitIdOptions::NOHANG).is_ok()
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT)`: blocks until the child `pid`
/// has ended, and leaves it unreaped, a zombie.
pub fn waitid_wnowait(pid: Pid) -> nix::Result<()> {
    waitid(pid, WaitIdOptions::empty())
}

/// Standard output only: standard error keeps no buffer to flush.
fn flush_std() {
    let _ = std::io::stdout().flush();
}
