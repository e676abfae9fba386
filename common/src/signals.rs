//! Ctrl-C (SIGINT) and SIGTERM: a lesson that gets one passes it on to the
//! children it has not reaped yet, then stops. The bottom layer: everything
//! that waits asks it whether the lesson is stopping.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signal::{kill, sigaction, sigprocmask};
use nix::unistd::Pid;

use crate::error::{Context, Result, anyhow};

/// How many children one process may have unreaped at once.
pub(crate) const MAX_CHILDREN: usize = 4096;

const STOP_SIGNALS: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// The pids a stop signal is passed on to. A signal handler may not take a
/// lock or allocate, so it reads these atomics and nothing else.
static FORWARD_TO: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];
/// The stop signal received (SIGINT or SIGTERM), 0 while none was.
static STOP: AtomicI32 = AtomicI32::new(0);
/// The pid that installed the handler: a child starts with default handling.
static HANDLER_IN: AtomicI32 = AtomicI32::new(0);

pub(crate) fn stop_signal() -> Option<Signal> {
    Signal::try_from(STOP.load(SeqCst)).ok()
}

/// True once SIGINT or SIGTERM arrived: nothing new should start.
pub fn stopping() -> bool {
    STOP.load(SeqCst) != 0
}

/// An error once the lesson is being stopped, to end what it was doing.
pub fn check_stop() -> Result<()> {
    match stop_signal() {
        Some(signal) => Err(anyhow!(tr!("stopped by {}", signal))),
        None => Ok(()),
    }
}

/// Installs, once per process, the handler that passes SIGINT and SIGTERM
/// on. Without `SA_RESTART`, so a parent blocked in a wait notices.
pub(crate) fn forward_stop_signals() -> Result<()> {
    if installed_here() {
        return Ok(());
    }
    for slot in FORWARD_TO.iter().filter(|s| s.load(SeqCst) != 0) {
        slot.store(0, SeqCst);
    }
    let set = STOP_SIGNALS.into_iter().collect();
    let action = SigAction::new(SigHandler::Handler(on_stop_signal), SaFlags::empty(), set);
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only touches atomics and calls kill(2), which
        // is async-signal-safe.
        unsafe { sigaction(signal, &action) }.context(format!("installing a {signal} handler"))?;
    }
    HANDLER_IN.store(std::process::id() as i32, SeqCst);
    Ok(())
}

/// True in a process that installed the handler itself: one that has started
/// children of its own.
pub(crate) fn installed_here() -> bool {
    HANDLER_IN.load(SeqCst) == std::process::id() as i32
}

extern "C" fn on_stop_signal(signal: libc::c_int) {
    let saved = Errno::last_raw();
    STOP.store(signal, SeqCst);
    let (signal, pids) = (Signal::try_from(signal).ok(), FORWARD_TO.iter());
    for pid in pids.map(|slot| slot.load(SeqCst)).filter(|&pid| pid > 0) {
        // kill(2) is async-signal-safe (nix's `kill` only calls it); the pid
        // is an unreaped child.
        let _ = kill(Pid::from_raw(pid), signal);
    }
    Errno::set_raw(saved);
}

/// In a freshly forked child: SIGINT and SIGTERM end it, as for any program,
/// until it starts children of its own.
pub(crate) fn default_handling_in_child() {
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
        default_for(signal);
    }
    HANDLER_IN.store(0, SeqCst);
}

fn default_for(signal: Signal) {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installs the default disposition, no handler code.
    let _ = unsafe { sigaction(signal, &default) };
}

/// Takes a free place in the list a stop signal is passed on to, for `pid`.
/// Looked for from just after the last one taken, so that starting n
/// children costs n steps, not n².
pub(crate) fn forward_to(pid: i32) -> Option<usize> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = NEXT.load(SeqCst);
    let slot = (start..MAX_CHILDREN)
        .chain(0..start)
        .find(|&i| FORWARD_TO[i].load(SeqCst) == 0)?;
    FORWARD_TO[slot].store(pid, SeqCst);
    NEXT.store((slot + 1) % MAX_CHILDREN, SeqCst);
    Some(slot)
}

/// Gives the place back: its pid is about to be reaped, and could be
/// reused by a stranger that a late Ctrl-C must never hit.
pub(crate) fn forward_no_more(slot: usize, pid: i32) {
    let _ = FORWARD_TO[slot].compare_exchange(pid, 0, SeqCst, SeqCst);
}

/// For a SIGCHLD handler that reaped `pid` itself: Ctrl-C is no longer
/// passed on to that pid, which a stranger may get next. Async-signal-safe:
/// it touches atomics only, and takes no lock.
pub fn reaped_elsewhere(pid: libc::pid_t) {
    for slot in &FORWARD_TO {
        let _ = slot.compare_exchange(pid, 0, SeqCst, SeqCst);
    }
}

/// Holds SIGINT, SIGTERM and SIGCHLD back until [`restore`]: the handlers
/// must never see a list of children that is half updated (a SIGCHLD
/// handler that reaps must not take a child before it is on the list).
pub(crate) fn hold_back() -> Result<SigSet> {
    let held = STOP_SIGNALS.into_iter().chain([Signal::SIGCHLD]).collect();
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut old))
        .context("blocking SIGINT and SIGTERM")?;
    Ok(old)
}

pub(crate) fn restore(old: &SigSet) {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(old), None);
}

/// Ends this process of `signal`, as the signal ends a process by default.
pub(crate) fn die_of(signal: Signal) -> ! {
    default_for(signal);
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&signal.into()), None);
    let _ = nix::sys::signal::raise(signal);
    // At once, should the signal not.
    _exit(128 + signal as i32)
}

pub(crate) fn _exit(status: i32) -> ! {
    // SAFETY: `_exit` ends the process at once. Unlike `exit` or returning,
    // it runs none of the parent's cleanup (temporary files, atexit), which
    // belongs to the parent alone.
    unsafe { libc::_exit(status) }
}
