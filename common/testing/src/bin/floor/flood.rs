//! The floor of `zombie --flood N --cpu-ms 0`: the lesson's four parts,
//! with the same 38 lines and 12 + 2N records, each one `write`.
//!
//! Per child of the flood: its parent forks it, it `_exit`s, its parent
//! sees it ended and unreaped (`waitid` with `WNOWAIT`) and never reaps
//! it; once that parent is killed, this process, their subreaper, reaps
//! it (`wait4`) and writes its `adopted` and `reaped` records: 6 system
//! calls. Once per run, what the other parts need at the least:
//! 1. one child writes a record and a line and exits with status 7; it is
//!    seen ended and unreaped (`waitid` `WNOWAIT`), killed (`kill -9`),
//!    seen still there (`waitid` again), reaped (`wait4`) and seen gone
//!    (`kill(pid, 0)`: `ESRCH`). The lesson also runs `ps`; the floor
//!    prints its lines without it: `ps` adds nothing `waitid` does not know.
//! 2. a pipe; the flood's parent, forked, becomes a user of its own (root:
//!    `setgroups`, `setgid`, `setuid`, then `PR_SET_PDEATHSIG`), sets its
//!    `RLIMIT_NPROC`, forks the flood, sees one fork more fail with
//!    `EAGAIN`, writes the count to the pipe and waits to be killed; the
//!    count of the pids (`/proc/sys/kernel/pid_max`: `open`, `read`).
//! 3. `kill` the parent and reap it, then reap the flood; one `waitid`
//!    finds no zombie left.
//! 4. a) 5 children, seen ended (`waitid` `WNOWAIT`), reaped (`wait4`),
//!    none left (`waitid`); b) a child that installs a SIGCHLD handler,
//!    forks 5 and waits (`sigsuspend`) until its handler has reaped them
//!    (`waitpid(-1, WNOHANG)` until none is left); c) a child that ignores
//!    SIGCHLD, forks 5 and calls `wait`, which returns `ECHILD` once the
//!    kernel has reaped them all. And `PR_SET_CHILD_SUBREAPER` first.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nix::errno::Errno;
use nix::libc;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, kill, sigaction,
};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, wait, waitid, waitpid};
use nix::unistd::{Gid, Pid, Uid, getuid, pipe, read, setgid, setgroups, setuid};

use crate::bare::{Out, exit_now, fork, write_all};

/// How many children each way of part 4 forks, as in the lesson.
const CHILDREN: usize = 5;

/// A root flood parent becomes this user plus its pid, as the lesson's does.
const LONER_UIDS: u32 = 0x4000_0000;

pub fn run(n: usize) -> io::Result<bool> {
    let out = Out::new()?;
    let me = std::process::id();
    out.record("main", "begin", "\"lesson\":\"zombie floor\"")?;
    out.line("main", &format!("zombie floor starts: pid {me}, flood {n}"))?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(io::Error::last_os_error());
    }
    a_zombie(&out)?;
    let (parent, zombies) = the_flood(&out, n)?;
    let reaped = kill_the_parent(&out, parent, zombies)?;
    what_real_programs_do(&out)?;
    out.finish()?;
    Ok(reaped == n)
}

fn heading(out: &Out, title: &str, text: &str) -> io::Result<()> {
    out.plain("")?;
    out.plain(&format!("── {title} ──"))?;
    out.plain(text)
}

/// Waits until `pid` has ended, and leaves it unreaped.
fn ended(pid: Pid) -> io::Result<()> {
    waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)?;
    Ok(())
}

/// Whether a child of this process has ended and is still unreaped.
fn any_zombie() -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    matches!(waitid(Id::All, flags), Ok(status) if status != WaitStatus::StillAlive)
}

/// `wait4(pid)`: how it ended, and its CPU time in ms (user, kernel).
fn wait4(pid: Pid) -> io::Result<(Pid, i32, f64, f64)> {
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage, which wait4 then fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid and writable.
    let got = unsafe { libc::wait4(pid.as_raw(), &mut status, 0, &mut usage) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok((
        Pid::from_raw(got),
        libc::WEXITSTATUS(status),
        ms(usage.ru_utime),
        ms(usage.ru_stime),
    ))
}

fn a_zombie(out: &Out) -> io::Result<()> {
    heading(
        out,
        "1. Every child is a zombie until it is reaped",
        "A child that ends gives back its memory and open files at once, but the kernel keeps its pid.",
    )?;
    let Some(child) = fork()? else {
        let said = out
            .record("child", "exit", "\"status\":7")
            .and_then(|()| out.line("child", "burns 0 ms of CPU, then exits with status 7"));
        exit_now(if said.is_ok() { 7 } else { 1 })
    };
    ended(child)?;
    out.record("main", "state", &format!("\"of\":{child},\"state\":\"Z\""))?;
    out.line(
        "main",
        &format!("pid {child} has ended, yet it is still there: state Z (zombie)"),
    )?;
    // What the lesson shows of ps, without running it.
    for line in [
        format!("$ ps -o pid,ppid,stat,args -p {child}"),
        "    PID  PPID STAT COMMAND".to_owned(),
        format!("  {child} {} Z    [child] <defunct>", std::process::id()),
        "STAT Z: the zombie state: it has ended, and its parent has not reaped it yet".to_owned(),
        "[child]: ps puts the name in brackets when a process has no command line left".to_owned(),
        "child: the name the child gave itself as it started".to_owned(),
        "<defunct>: what ps calls a zombie".to_owned(),
        "PPID: this floor".to_owned(),
    ] {
        out.line("main", &line)?;
    }
    kill(child, Signal::SIGKILL)?;
    let state = if any_zombie() { "Z" } else { "?" };
    out.record(
        "main",
        "kill",
        &format!("\"of\":{child},\"signal\":\"SIGKILL\",\"state\":\"{state}\""),
    )?;
    out.line(
        "main",
        &format!("kill -9 {child}: it is still there, in state {state}"),
    )?;
    let (_, status, user, sys) = wait4(child)?;
    let fields =
        format!("\"of\":{child},\"user_ms\":{user:.3},\"sys_ms\":{sys:.3},\"status\":{status}");
    out.record("main", "reaped", &fields)?;
    out.line(
        "main",
        &format!("reaped pid {child} (wait4): it exited with status {status}"),
    )?;
    if kill(child, None) == Err(Errno::ESRCH) {
        out.record("main", "gone", &format!("\"of\":{child}"))?;
    }
    out.line(
        "main",
        &format!("pid {child} is gone from the process table"),
    )
}

fn the_flood(out: &Out, n: usize) -> io::Result<(Pid, usize)> {
    heading(
        out,
        "2. The harm: zombies pile up",
        "A parent that never waits keeps every dead child in the process table.",
    )?;
    let (from_parent, to_main) = pipe()?;
    let Some(parent) = fork()? else {
        drop(from_parent);
        let flooded = never_reaps(out, n, &to_main);
        exit_now(if flooded.is_ok() { 0 } else { 1 })
    };
    drop(to_main);
    let mut count = [0; 8];
    if read(&from_parent, &mut count)? != count.len() {
        return Err(io::Error::other(
            "the flood's parent ended before its children did",
        ));
    }
    let zombies = u64::from_ne_bytes(count) as usize;
    out.record("main", "flood", &format!("\"zombies\":{zombies}"))?;
    out.line(
        "main",
        &format!("{zombies} zombies wait under pid {parent}"),
    )?;
    let mut max = [0; 32];
    let got = File::open("/proc/sys/kernel/pid_max").and_then(|mut f| f.read(&mut max))?;
    let max = String::from_utf8_lossy(&max[..got]);
    out.line(
        "main",
        &format!(
            "they hold {zombies} of the {} pids this system has",
            max.trim()
        ),
    )?;
    Ok((parent, zombies))
}

/// The parent of the flood: forks `n` children and never reaps them.
fn never_reaps(out: &Out, n: usize, to_main: &OwnedFd) -> io::Result<()> {
    let root = getuid().is_root();
    if root {
        let id = LONER_UIDS + std::process::id();
        setgroups(&[Gid::from_raw(id)])?;
        setgid(Gid::from_raw(id))?;
        setuid(Uid::from_raw(id))?;
    }
    // SAFETY: prctl with integer arguments only. A change of user clears it.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let already = if root { 1 } else { processes_of(getuid())? };
    let limit = (already + n) as u64;
    setrlimit(Resource::RLIMIT_NPROC, limit, limit)?;
    out.line(
        "parent",
        &format!("I set my process limit (RLIMIT_NPROC) to {limit}: me, and {n} children"),
    )?;
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        match fork() {
            Ok(None) => exit_now(0),
            Ok(Some(child)) => children.push(child),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    for &child in &children {
        ended(child)?;
    }
    out.line(
        "parent",
        &format!(
            "my {} children have all exited, and I never wait for them",
            children.len()
        ),
    )?;
    match fork() {
        Ok(None) => exit_now(0),
        Ok(Some(_)) => out.line("parent", "one more fork still worked")?,
        Err(_) => {
            out.record("parent", "fork_refused", "\"error\":\"EAGAIN\"")?;
            out.line(
                "parent",
                &format!("one more fork fails with EAGAIN: my {n} zombies use up my process limit"),
            )?;
        }
    }
    write_all(to_main, &(children.len() as u64).to_ne_bytes())?;
    loop {
        nix::unistd::pause();
    }
}

/// How many processes `user` runs (the limit counts them all): a look at
/// each pid in /proc, where its owner is the user who runs it.
fn processes_of(user: Uid) -> io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let pid = entry
            .file_name()
            .to_str()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()));
        if pid && entry.metadata().is_ok_and(|m| m.uid() == user.as_raw()) {
            n += 1;
        }
    }
    Ok(n)
}

fn kill_the_parent(out: &Out, parent: Pid, zombies: usize) -> io::Result<usize> {
    heading(
        out,
        "3. The fix: kill the parent",
        "Its zombies become orphans, and whoever adopts them reaps them: here, this floor.",
    )?;
    let killed = Instant::now();
    kill(parent, Signal::SIGKILL)?;
    waitpid(parent, None)?;
    out.line(
        "main",
        &format!(
            "killed the parent (SIGKILL) and reaped it: its {zombies} zombies are orphans now"
        ),
    )?;
    let me = std::process::id();
    let mut reaped = 0;
    for _ in 0..zombies {
        let (pid, status, user, sys) = wait4(Pid::from_raw(-1))?;
        out.record("main", "adopted", &format!("\"of\":{pid},\"by\":{me}"))?;
        let fields =
            format!("\"of\":{pid},\"user_ms\":{user:.3},\"sys_ms\":{sys:.3},\"status\":{status}");
        out.record("main", "reaped", &fields)?;
        reaped += 1;
    }
    out.line(
        "main",
        &format!("all {reaped} were adopted by pid {me}, this floor"),
    )?;
    let left = usize::from(any_zombie());
    out.record("main", "flood", &format!("\"zombies\":{left}"))?;
    let ms = killed.elapsed().as_secs_f64() * 1e3;
    out.line(
        "main",
        &format!("reaped them all, {ms:.1} ms after the kill: zombies left: {left}"),
    )?;
    Ok(reaped)
}

fn what_real_programs_do(out: &Out) -> io::Result<()> {
    heading(
        out,
        "4. What real programs do",
        "A program that means to live fixes its own code, in one of three ways.",
    )?;
    // a) Wait for each child.
    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        match fork()? {
            None => exit_now(0),
            Some(child) => children.push(child),
        }
    }
    for &child in &children {
        ended(child)?;
    }
    out.line(
        "main",
        &format!("a) wait for each child: all {CHILDREN} have ended, {CHILDREN} zombies"),
    )?;
    for &child in &children {
        wait4(child)?;
    }
    let after = usize::from(any_zombie());
    out.record(
        "main",
        "fix",
        &format!("\"way\":\"wait\",\"before\":{CHILDREN},\"after\":{after}"),
    )?;
    out.line("main", &format!("   wait4 reaped each: {after} zombies"))?;
    // b) and c) change how SIGCHLD is taken: each in a child of its own.
    for way in [
        reap_in_a_handler as fn(&Out) -> io::Result<()>,
        ignore_sigchld,
    ] {
        let Some(child) = fork()? else {
            exit_now(if way(out).is_ok() { 0 } else { 1 })
        };
        if !matches!(wait4(child)?, (_, 0, _, _)) {
            return Err(io::Error::other("a way of part 4 failed"));
        }
    }
    Ok(())
}

static REAPED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigchld(_: libc::c_int) {
    let saved = Errno::last_raw();
    // SAFETY: waitpid is async-signal-safe; a null status is allowed.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {
        REAPED.fetch_add(1, Ordering::SeqCst);
    }
    Errno::set_raw(saved);
}

fn reap_in_a_handler(out: &Out) -> io::Result<()> {
    let chld = SigSet::from(Signal::SIGCHLD);
    let mut before = SigSet::empty();
    chld.thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map(|old| before = old)?;
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: on_sigchld calls only waitpid, keeps errno, and touches an atomic.
    unsafe { sigaction(Signal::SIGCHLD, &action) }?;
    for _ in 0..CHILDREN {
        if fork()?.is_none() {
            exit_now(0)
        }
    }
    while REAPED.load(Ordering::SeqCst) < CHILDREN {
        let _ = before.suspend();
    }
    let reaped = REAPED.load(Ordering::SeqCst);
    out.record(
        "handler",
        "fix",
        &format!("\"way\":\"sigchld\",\"reaped\":{reaped},\"after\":0"),
    )?;
    out.line(
        "handler",
        &format!("b) a SIGCHLD handler calls waitpid(-1, WNOHANG): it reaped {reaped}; 0 zombies"),
    )
}

fn ignore_sigchld(out: &Out) -> io::Result<()> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_IGN runs no code of this process.
    unsafe { sigaction(Signal::SIGCHLD, &ignore) }?;
    for _ in 0..CHILDREN {
        if fork()?.is_none() {
            exit_now(0)
        }
    }
    let waited = match wait() {
        Err(Errno::ECHILD) => "wait() finds no child at all (ECHILD)".to_owned(),
        other => format!("wait() returned {other:?}"),
    };
    out.record("ignorer", "fix", "\"way\":\"ignore\",\"after\":0")?;
    out.line(
        "ignorer",
        &format!(
            "c) signal(SIGCHLD, SIG_IGN): the kernel reaps them itself; 0 zombies, and {waited}"
        ),
    )
}
