//! Ctrl-C (SIGINT), SIGTERM and every other signal that ends a process by
//! default: a lesson that gets one passes it on to the children it has not
//! reaped yet (waking any that are stopped), then stops. The bottom layer:
//! everything that waits asks it whether the lesson is stopping.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signal::{kill, sigaction, sigprocmask};
use nix::unistd::Pid;

use crate::error::{Context, Result, anyhow};

/// How many children one process may have unreaped at once.
pub(crate) const MAX_CHILDREN: usize = 4096;

/// The signals whose default action ends a process, the program errors
/// (SIGSEGV, SIGBUS, …, SIGABRT) and SIGPIPE (which Rust ignores) aside: a
/// lesson stops on each as on SIGTERM. (The real-time signals, which also
/// end a process by default, are left to it.)
const STOP_SIGNALS: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    // Linux's own; on macOS SIGIO's default is to discard it.
    #[cfg(target_os = "linux")]
    Signal::SIGIO,
    #[cfg(target_os = "linux")]
    Signal::SIGPWR,
    #[cfg(target_os = "linux")]
    Signal::SIGSTKFLT,
];

/// Those of them a shell or `nohup` leaves ignored on purpose: SIGINT and
/// SIGQUIT in a job a script starts with `&`, SIGHUP under `nohup`. Ignored
/// as the lesson starts, they stay ignored, as a careful Unix program
/// leaves them (in its children too, which inherit the ignore). The others
/// it always handles: SIGTERM above all, which it passes on and its
/// children get when their parent dies.
const KEPT_IF_IGNORED: [Signal; 3] = [Signal::SIGHUP, Signal::SIGINT, Signal::SIGQUIT];

/// Those of them that would also leave a core file: a child that ends of
/// one leaves none ([`die_of`]).
const CORE_SIGNALS: [Signal; 3] = [Signal::SIGQUIT, Signal::SIGXCPU, Signal::SIGXFSZ];

/// Whether `signal` is one a lesson stops on.
pub(crate) fn is_stop_signal(signal: Signal) -> bool {
    STOP_SIGNALS.contains(&signal)
}

/// The pids a stop signal is passed on to. A signal handler may not take a
/// lock or allocate, so it reads these atomics and nothing else.
static FORWARD_TO: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];
/// The first stop signal received, 0 while none was: a second one changes
/// nothing, the stop is under the first one's name.
static STOP: AtomicI32 = AtomicI32::new(0);
/// The pid that installed the handler: a child starts with default handling.
static HANDLER_IN: AtomicI32 = AtomicI32::new(0);
/// This process's parent, as `getppid` said once `PR_SET_PDEATHSIG` was
/// set: the kernel signals this process when that parent dies. 0 (ask the
/// kernel each time) where no such signal was asked for, once any signal
/// came, and while signals are held back, when one would come late.
static PARENT: AtomicI32 = AtomicI32::new(0);

/// Stop signals are held back past something done, until it is recorded
/// ([`restore_once_reported`]): one may be waiting, `PR_SET_PDEATHSIG`'s too.
static HELD: AtomicBool = AtomicBool::new(false);
/// This process's pid, asked of the kernel once (`getpid` is a system call
/// each time, and every line and record carries it); 0 until asked.
static PID: AtomicU32 = AtomicU32::new(0);

/// `getppid`, but asked of the kernel only where the answer may have changed
/// (see [`PARENT`]): every record carries it, and it changes when the
/// process is orphaned.
pub(crate) fn parent() -> u32 {
    match PARENT.load(SeqCst) {
        pid if pid > 0 && !HELD.load(SeqCst) => pid as u32,
        _ => std::os::unix::process::parent_id(),
    }
}

/// This process's pid.
pub(crate) fn pid() -> u32 {
    match PID.load(SeqCst) {
        0 => {
            let me = std::process::id();
            PID.store(me, SeqCst);
            me
        }
        me => me,
    }
}

/// In a freshly forked child: its pid is its own, not its parent's (asked
/// when first wanted: a child that only exits never asks), and its parent
/// is the process that forked it.
pub(crate) fn forked() {
    PID.store(0, SeqCst);
    PARENT.store(0, SeqCst);
}

/// In a lesson's main process: the kernel sends it SIGURG when its parent
/// dies (`PR_SET_PDEATHSIG`), whose handler forgets the parent that
/// `getppid` gave once, so that the next record asks again. SIGURG, which
/// the kernel sends otherwise only for a socket's urgent data (this process
/// has no socket), ends nothing; with `SA_RESTART`, it cuts no wait short
/// but a `poll`'s, which the kernel never restarts (the schedule's polls
/// look again).
/// Elsewhere there is no such signal: every record asks.
pub(crate) fn learn_of_parent_death() {
    #[cfg(target_os = "linux")]
    parent_death_forgets_parent();
}

#[cfg(target_os = "linux")]
fn parent_death_forgets_parent() {
    let action = SigAction::new(
        SigHandler::Handler(on_parent_death),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    let learned = unsafe { sigaction(Signal::SIGURG, &action) }.is_ok()
        && nix::sys::prctl::set_pdeathsig(Signal::SIGURG).is_ok();
    if !learned {
        return;
    }
    let parent = std::os::unix::process::parent_id() as i32;
    PARENT.store(parent, SeqCst);
    // Dead between the two calls, and the signal not yet handled: ask each time.
    if std::os::unix::process::parent_id() as i32 != parent {
        PARENT.store(0, SeqCst);
    }
}

#[cfg(target_os = "linux")]
extern "C" fn on_parent_death(_: libc::c_int) {
    PARENT.store(0, SeqCst);
}

/// The kernel will signal this process when `pid`, its parent, dies
/// (`None`: it will not). Linux only: macOS has no such signal.
#[cfg(target_os = "linux")]
pub(crate) fn parent_signals_death(pid: Option<i32>) {
    PARENT.store(pid.unwrap_or(0), SeqCst);
}

pub(crate) fn stop_signal() -> Option<Signal> {
    Signal::try_from(STOP.load(SeqCst)).ok()
}

/// True once a stop signal arrived: nothing new should start.
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

/// Installs, once per process, the handler that passes the stop signals
/// on, but for SIGHUP, SIGINT or SIGQUIT found ignored ([`KEPT_IF_IGNORED`]).
/// Without `SA_RESTART`, so a parent blocked in a wait notices.
pub(crate) fn forward_stop_signals() -> Result<()> {
    if installed_here() {
        return Ok(());
    }
    for slot in FORWARD_TO.iter().filter(|s| s.load(SeqCst) != 0) {
        slot.store(0, SeqCst);
    }
    let set = STOP_SIGNALS.iter().copied().collect();
    let action = SigAction::new(SigHandler::Handler(on_stop_signal), SaFlags::empty(), set);
    for &signal in STOP_SIGNALS {
        // Asked before, not put back after: a hangup in between would stop
        // a lesson that `nohup` started.
        if KEPT_IF_IGNORED.contains(&signal) && ignored(signal) {
            continue;
        }
        // SAFETY: the handler touches only atomics and makes only
        // async-signal-safe calls: kill(2) in main; in a child, `die_of`'s
        // prctl, sigaction, sigprocmask, raise and _exit.
        unsafe { sigaction(signal, &action) }.context(format!("installing a {signal} handler"))?;
    }
    HANDLER_IN.store(pid() as i32, SeqCst);
    Ok(())
}

/// Whether `signal` is ignored (SIG_IGN) in this process, read without
/// changing it.
pub fn ignored(signal: Signal) -> bool {
    disposition(signal) == Some(libc::SIG_IGN)
}

/// Whether this process takes SIGCHLD as the kernel does by default: no
/// handler, not ignored. Asked of the kernel; an answer it refuses is a no.
pub(crate) fn sigchld_by_default() -> bool {
    disposition(Signal::SIGCHLD) == Some(libc::SIG_DFL)
}

/// How this process takes `signal` (SIG_DFL, SIG_IGN or a handler's
/// address), read without changing it.
fn disposition(signal: Signal) -> Option<libc::sighandler_t> {
    let mut now = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: with no new action, sigaction only writes the current one.
    let read =
        unsafe { libc::sigaction(signal as libc::c_int, std::ptr::null(), now.as_mut_ptr()) };
    // SAFETY: written by the call, which succeeded.
    (read == 0).then(|| unsafe { now.assume_init() }.sa_sigaction)
}

/// True in a process that installed the handler itself: one that has started
/// children of its own.
pub(crate) fn installed_here() -> bool {
    HANDLER_IN.load(SeqCst) == pid() as i32
}

extern "C" fn on_stop_signal(signal: libc::c_int) {
    let saved = Errno::last_raw();
    // It may be `PR_SET_PDEATHSIG`'s: the parent is then no longer the one
    // remembered.
    PARENT.store(0, SeqCst);
    if HANDLER_IN.load(SeqCst) != nix::unistd::getpid().as_raw() {
        // A child, which inherited the handler with its parent's memory and
        // has no children of its own: it ends of the signal as it would
        // without a handler, but leaves no core file. Done here, when a
        // signal comes, rather than at each fork, which would cost every
        // child a `sigaction` for each stop signal. But SIGXFSZ, which a
        // child ignores (`default_handling_in_child`), is ignored here too:
        // it came as the child was born, before it could say so.
        match Signal::try_from(signal) {
            Ok(Signal::SIGXFSZ) => {}
            Ok(signal) => die_of(signal),
            Err(_) => {}
        }
        Errno::set_raw(saved);
        return;
    }
    let _ = STOP.compare_exchange(0, signal, SeqCst, SeqCst);
    for pid in FORWARD_TO
        .iter()
        .map(|slot| slot.load(SeqCst))
        .filter(|&pid| pid > 0)
    {
        pass_stop_on(pid);
    }
    Errno::set_raw(saved);
}

/// Passes the stop on to the unreaped child `pid`: Ctrl-C as itself, any
/// other stop as SIGTERM, which ends a child without a core file. SIGCONT
/// wakes it should it be stopped, as a shell's `kill` of a job does: a
/// stopped process ends of no signal but SIGKILL until it runs again.
/// Async-signal-safe: kill(2) is (nix's `kill` only calls it).
fn pass_stop_on(pid: i32) {
    let passed = match STOP.load(SeqCst) {
        libc::SIGINT => Signal::SIGINT,
        _ => Signal::SIGTERM,
    };
    let _ = kill(Pid::from_raw(pid), passed);
    let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
}

/// In a freshly forked child: a stop signal ends it, as for any program,
/// until it starts children of its own (the inherited handler sees that it
/// is not the process that installed it, and ends it then). SIGXFSZ, the
/// kernel's answer to a write past `ulimit -f`, is ignored, as before it
/// comes: the write fails with EFBIG, which the child reports, and one sent
/// from outside cuts no wait short (an `flock` would fail of EINTR). A
/// SIGCHLD handler of its parent's, or its SIG_IGN (`sigchld_taken`), is not
/// its own.
pub(crate) fn default_handling_in_child(sigchld_taken: bool) {
    set_disposition(Signal::SIGXFSZ, libc::SIG_IGN);
    if sigchld_taken {
        default_sigchld();
    }
}

/// Undoes what `exec` keeps of the program that started this one, and a
/// lesson cannot work with. SIGCHLD ignored (bash's `trap '' CHLD`): the
/// kernel would reap every child itself as it ends, leaving neither a
/// zombie to show nor an exit status to learn. The stop signals, SIGCHLD
/// or SIGURG blocked (the signal mask is kept too): Ctrl-C and SIGTERM
/// would stop nothing, and the children, which inherit the mask, would not
/// end of their parent's death. One that came while blocked arrives now.
pub(crate) fn undo_inherited() {
    default_sigchld();
    let ours: SigSet = STOP_SIGNALS
        .iter()
        .copied()
        .chain([Signal::SIGCHLD, Signal::SIGURG])
        .collect();
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&ours), None);
}

fn default_sigchld() {
    set_disposition(Signal::SIGCHLD, libc::SIG_DFL);
}

/// A signal that ends this process from now on leaves no core file: not
/// even to a `core_pattern` pipe, which `ulimit -c 0` does not stop (Linux);
/// elsewhere, `ulimit -c 0`.
fn no_core_file() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
    #[cfg(not(target_os = "linux"))]
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
}

/// `disposition`: `SIG_IGN` or `SIG_DFL`.
fn set_disposition(signal: Signal, disposition: libc::sighandler_t) {
    // Through libc, not nix: nix makes the empty mask with sigemptyset(3)
    // and copies the old action back with memcpy, two pages of libc's code
    // that a child which only starts and exits would map for this alone.
    // SAFETY: an all-zero action has no flags and the empty mask (Linux,
    // macOS); with SIG_IGN or SIG_DFL it runs no code of ours; no old
    // action is asked for.
    let _ = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = disposition;
        libc::sigaction(signal as libc::c_int, &action, std::ptr::null_mut())
    };
}

/// Takes a free place in the list a stop signal is passed on to, for `pid`,
/// the `ordinal`th child started. Looked for from the place of that
/// number, so that starting n children costs n steps, not n².
pub(crate) fn forward_to(pid: i32, ordinal: usize) -> Option<usize> {
    let start = ordinal % MAX_CHILDREN;
    let slot = (start..MAX_CHILDREN)
        .chain(0..start)
        .find(|&i| FORWARD_TO[i].load(SeqCst) == 0)?;
    FORWARD_TO[slot].store(pid, SeqCst);
    // A stop that came before it was on the list (between its fork and now)
    // did not reach it: passed on here. One that comes just as it is listed
    // may reach it twice, as two Ctrl-Cs would.
    if stopping() {
        pass_stop_on(pid);
    }
    Some(slot)
}

/// Gives the place back: its pid is about to be reaped, and could be
/// reused by a stranger that a late Ctrl-C must never hit.
pub(crate) fn forward_no_more(slot: usize, pid: i32) {
    let _ = FORWARD_TO[slot].compare_exchange(pid, 0, SeqCst, SeqCst);
}

/// Takes the place back for `pid`, found still running after all; a stop
/// that came while it was off the list (`passed_on`: one had come before,
/// and was passed on to it then) is passed on to it now. One that comes
/// just as it is put back may reach it twice, as two Ctrl-Cs would.
pub(crate) fn forward_again(slot: usize, pid: i32, passed_on: bool) {
    FORWARD_TO[slot].store(pid, SeqCst);
    if !passed_on && stopping() {
        pass_stop_on(pid);
    }
}

/// For a SIGCHLD handler that reaped `pid` itself: Ctrl-C is no longer
/// passed on to that pid, which a stranger may get next. Async-signal-safe:
/// it touches atomics only, and takes no lock.
pub fn reaped_elsewhere(pid: libc::pid_t) {
    for slot in &FORWARD_TO {
        let _ = slot.compare_exchange(pid, 0, SeqCst, SeqCst);
    }
}

/// Holds the stop signals and SIGCHLD back until [`restore`]: the handlers
/// must never see a list of children that is half updated (a SIGCHLD
/// handler that reaps must not take a child before it is on the list).
pub(crate) fn hold_back() -> Result<SigSet> {
    let held = STOP_SIGNALS
        .iter()
        .copied()
        .chain([Signal::SIGCHLD])
        .collect();
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut old))
        .context("blocking the stop signals")?;
    Ok(old)
}

pub(crate) fn restore(old: &SigSet) {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(old), None);
}

/// The mask to go back to once this process has reported what it did: see
/// [`restore_once_reported`].
static UNTIL_REPORTED: std::sync::Mutex<Option<SigSet>> = std::sync::Mutex::new(None);

/// Keeps the stop signals held back past something done (a file renamed
/// into place), until this process has recorded it ([`reported`]): a
/// process stopped in between would have done it and never said so.
pub(crate) fn restore_once_reported(old: SigSet) {
    let mut held = UNTIL_REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    held.get_or_insert(old);
    HELD.store(true, SeqCst);
}

/// This process has recorded what it did: a stop signal held back since
/// ends it now.
pub(crate) fn reported() {
    // Asked first, without the lock, which every record would otherwise take.
    if !HELD.load(SeqCst) {
        return;
    }
    let old = UNTIL_REPORTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(old) = old {
        restore(&old);
    }
    HELD.store(false, SeqCst);
}

/// Ends this child of `signal`, as the signal ends a process by default,
/// but with no core file. Async-signal-safe: it makes system calls only
/// (prctl, sigaction, sigprocmask, raise, _exit).
pub(crate) fn die_of(signal: Signal) -> ! {
    if CORE_SIGNALS.contains(&signal) {
        no_core_file();
    }
    set_disposition(signal, libc::SIG_DFL);
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
