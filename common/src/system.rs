//! What the system reports about a process: its state (`R`, `S`, `Z` …), its
//! parent and its command name. Linux reads `/proc/PID/stat`, which has the
//! whole name up to the kernel's 15 bytes and no column cut by `ps`; macOS,
//! which has no `/proc`, asks `ps`. Also the limits on processes: the
//! pids the system has, and how many one user may run (`RLIMIT_NPROC`);
//! and `ps` as a lesson shows it to the learner, its zombie's line explained.

use std::time::{Duration, Instant};

use nix::libc;

use crate::{log, signals, timing};

/// One process as the system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    /// The command name, as the kernel keeps it (at most 15 bytes on Linux).
    pub comm: String,
    /// One letter: `R` running, `S` sleeping, `Z` zombie, …
    pub state: char,
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
}

impl ProcessInfo {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// The process `pid`, or `None` if there is no such process.
#[cfg(target_os = "linux")]
pub fn process(pid: i32) -> Option<ProcessInfo> {
    parse_stat(&read_proc(&format!("/proc/{pid}/stat"))?)
}

/// A file of `/proc` that the kernel writes in one go (`stat`, `status`, a
/// setting), read whole in one page-sized `read`: one that leaves room in
/// the page has it all, so no second `read` is made to find the end (a
/// scan makes one for each process). Not with `std::fs::read_to_string`:
/// the size `/proc` gives is 0, so it reads in steps from 32 bytes up.
fn read_proc(path: &str) -> Option<String> {
    read_proc_until(path, true)
}

/// A file of `/proc` that the kernel writes a piece at a time (a list of
/// children), which a `read` may return part of: read until one finds none.
#[cfg(target_os = "linux")]
fn read_proc_to_end(path: &str) -> Option<String> {
    read_proc_until(path, false)
}

/// Reads `path` until a `read` returns nothing, or, with `short_read_ends`,
/// until one returns less than it had room for.
fn read_proc_until(path: &str, short_read_ends: bool) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let (mut text, mut len) = (vec![0; 4096], 0);
    loop {
        let room = text.len() - len;
        let got = match file.read(&mut text[len..]) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        len += got;
        if short_read_ends && got < room {
            break;
        }
        if len == text.len() {
            text.resize(2 * len, 0);
        }
    }
    text.truncate(len);
    String::from_utf8(text).ok()
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid pgrp …`. The name
/// may itself hold spaces and parentheses, so it ends at the last `)`.
#[cfg(any(test, target_os = "linux"))]
fn parse_stat(stat: &str) -> Option<ProcessInfo> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some(ProcessInfo {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgid: rest.get(2)?.parse().ok()?,
    })
}

/// Every process of the system.
#[cfg(target_os = "linux")]
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(process)
        .collect()
}

/// How many pids the system has in use: one a thread, a process being its
/// first thread, whatever pid namespace holds it. The fourth field of
/// `/proc/loadavg` (running/all) counts them in one small read, where
/// listing `/proc` would read a directory entry for every process, and see
/// neither the threads nor another namespace's processes.
/// Where `/proc/loadavg` cannot be read or says nothing, the processes
/// `/proc` lists are counted instead.
#[cfg(target_os = "linux")]
pub fn pids_in_use() -> usize {
    let text = read_proc("/proc/loadavg").unwrap_or_default();
    loadavg_tasks(&text)
        .filter(|&n| n > 0)
        .unwrap_or_else(|| processes().len())
}

/// "0.57 0.92 0.63 2/77 29633": 77.
#[cfg(target_os = "linux")]
fn loadavg_tasks(loadavg: &str) -> Option<usize> {
    let (_, all) = loadavg.split_whitespace().nth(3)?.split_once('/')?;
    all.parse().ok()
}

#[cfg(not(target_os = "linux"))]
pub fn pids_in_use() -> usize {
    processes().len()
}

/// The process `pid`, or `None` if there is no such process.
#[cfg(not(target_os = "linux"))]
pub fn process(pid: i32) -> Option<ProcessInfo> {
    ask_ps(&["-p", &pid.to_string()]).pop()
}

/// Every process of the system.
#[cfg(not(target_os = "linux"))]
pub fn processes() -> Vec<ProcessInfo> {
    ask_ps(&["-A"])
}

/// Asks `ps` (where there is no `/proc`) about the processes `which` selects.
#[cfg(not(target_os = "linux"))]
fn ask_ps(which: &[&str]) -> Vec<ProcessInfo> {
    let Ok(out) = std::process::Command::new("ps")
        .args(which)
        .args(["-o", "pid=,stat=,ppid=,pgid=,comm="])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse_ps)
        .collect()
}

/// Parses a line of `ps -o pid=,stat=,ppid=,pgid=,comm=`.
#[cfg(any(test, not(target_os = "linux")))]
fn parse_ps(line: &str) -> Option<ProcessInfo> {
    let mut fields = line.split_whitespace();
    let pid = fields.next()?.parse().ok()?;
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    let path = fields.collect::<Vec<_>>().join(" ");
    Some(ProcessInfo {
        pid,
        comm: path.rsplit('/').next().unwrap_or_default().to_owned(),
        state,
        ppid,
        pgid,
    })
}

/// The children of `ppid`, as the process table lists them. On Linux the
/// kernel keeps each thread's list of the children it forked
/// (`/proc/PID/task/TID/children`): only those are read, not every
/// process's `stat`.
pub fn children_of(ppid: i32) -> Vec<ProcessInfo> {
    #[cfg(target_os = "linux")]
    if let Some(mut pids) = kernels_children(ppid) {
        // In the order of /proc; once each, should a list change between reads.
        pids.sort_unstable();
        pids.dedup();
        return pids
            .into_iter()
            .filter_map(process)
            .filter(|p| p.ppid == ppid)
            .collect();
    }
    processes().into_iter().filter(|p| p.ppid == ppid).collect()
}

/// The pids on the children lists of every thread of `pid`; `None` where
/// the kernel keeps none to read (built without `CONFIG_PROC_CHILDREN`).
#[cfg(target_os = "linux")]
fn kernels_children(pid: i32) -> Option<Vec<i32>> {
    let mut pids = Vec::new();
    // No such process: no children.
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Some(pids);
    };
    for thread in threads {
        let tid = thread.ok()?.file_name();
        let list = read_proc_to_end(&format!("/proc/{pid}/task/{}/children", tid.to_str()?))?;
        pids.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Some(pids)
}

/// The children of `ppid` that are zombies.
pub fn zombies_of(ppid: i32) -> Vec<ProcessInfo> {
    children_of(ppid)
        .into_iter()
        .filter(ProcessInfo::is_zombie)
        .collect()
}

/// Gives whoever adopted the zombies `pids` two of the lesson's seconds (at
/// least 0.2 s) to reap them; returns how many are still zombies.
pub fn wait_until_reaped(pids: &[i32]) -> usize {
    let still = || {
        pids.iter()
            .filter(|&&pid| process(pid).is_some_and(|p| p.is_zombie()))
            .count()
    };
    let within = timing::scaled(2.0).max(Duration::from_millis(200));
    let deadline = Instant::now() + within;
    while still() > 0 && Instant::now() < deadline && !signals::stopping() {
        timing::sleep(Duration::from_millis(10));
    }
    still()
}

/// Why an adopter may never reap, and what to do about it.
pub fn pid_1_problem() -> String {
    tr!(
        "This is the container pid-1 problem: whatever runs as pid 1 must reap the orphans it \
         adopts, and most programs never do. Put a small init in front of them (tini, or docker \
         run --init). Until their adopter reaps them or the system restarts, these zombies stay."
    )
}

/// Runs `ps` with `args`, as TLPI's programs do with `system("ps")`, and
/// shows what it prints, line by line; returns it.
pub fn ps(args: &[&str]) -> String {
    match std::process::Command::new("ps").args(args).output() {
        Ok(out) => {
            log::say(format!("$ ps {}", args.join(" ")));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines().for_each(|line| log::say(format!("  {line}")));
            text
        }
        Err(e) => {
            log::say(tr!("(cannot run ps here: {})", e));
            String::new()
        }
    }
}

/// Says what the line `ps -o pid,ppid,stat,args` printed in `shown` for
/// the zombie `pid` shows, and only what it shows: each letter of its STAT,
/// a name in brackets, `<defunct>`, and this process as its parent. `name`
/// is what the log calls the zombie.
pub fn explain_ps(shown: &str, pid: i32, name: &str) {
    let pid = pid.to_string();
    let mut lines = shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    let Some(fields) = lines.find(|fields| fields.first() == Some(&pid.as_str())) else {
        return;
    };
    let [_, ppid, stat, command @ ..] = fields.as_slice() else {
        return;
    };
    for letter in stat.chars() {
        let meaning = match letter {
            'Z' => tr!("the zombie state: it has ended, and its parent has not reaped it yet"),
            '+' => tr!(
                "it is in the foreground process group of its terminal, the one Ctrl-C is sent to"
            ),
            'N' => tr!("it runs at a low priority (nice)"),
            '<' => tr!("it runs at a high priority"),
            _ => tr!("see PROCESS STATE CODES in man ps"),
        };
        log::say(tr!("STAT {}: {}", letter, meaning));
    }
    let command = command.join(" ");
    if let Some((shown_as, _)) = command.strip_prefix('[').and_then(|c| c.split_once(']')) {
        log::say(tr!(
            "[{}]: ps puts the name in brackets when a process has no command line left; a \
             zombie's went with its memory",
            shown_as
        ));
        log::say(if shown_as == name {
            tr!(
                "{}: the name the child gave itself as it started (prctl PR_SET_NAME), the one \
                 the log calls it by",
                shown_as
            )
        } else {
            tr!("{}: the program's name, which the child kept", shown_as)
        });
    }
    if command.contains("<defunct>") {
        log::say(tr!("<defunct>: what ps calls a zombie"));
    }
    let me = std::process::id() as i32;
    if *ppid == me.to_string() {
        let program = process(me).map(|p| p.comm).unwrap_or_default();
        log::say(tr!(
            "PPID {}: this lesson, main in the log; ps lists it under the program's name, {}",
            ppid,
            program
        ));
    }
}

/// "pid 1 (init)": a process's pid and command name, for the learner.
pub fn describe(pid: i32) -> String {
    match process(pid) {
        Some(p) => format!("pid {pid} ({})", p.comm),
        None => format!("pid {pid}"),
    }
}

/// The most pids the system hands out at once (Linux `pid_max`).
pub fn pid_max() -> Option<usize> {
    read_proc("/proc/sys/kernel/pid_max")?.trim().parse().ok()
}

/// How many processes belong to the (real) user `uid`: what
/// `RLIMIT_NPROC` counts, zombies included.
#[cfg(target_os = "linux")]
pub fn processes_of_user(uid: u32) -> usize {
    // Linux's RLIMIT_NPROC counts threads: each process's `Threads:`.
    let threads_of_uid = |pid: &str| -> Option<usize> {
        let status = read_proc(&format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        };
        (field("Uid:")? == uid as usize).then(|| field("Threads:").unwrap_or(1))
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| threads_of_uid(&pid))
        .sum()
}

#[cfg(not(target_os = "linux"))]
pub fn processes_of_user(uid: u32) -> usize {
    let Ok(out) = std::process::Command::new("ps")
        .args(["-A", "-o", "ruid="])
        .output()
    else {
        return 0;
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|u| u.parse() == Ok(uid))
        .count()
}

// Through libc: nix has no RLIMIT_NPROC on macOS, which has the limit.

/// `getrlimit(RLIMIT_NPROC)`: the soft limit on the processes of this
/// process's user (`ulimit -u`).
pub(crate) fn getrlimit_nproc() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    match unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } {
        0 => Ok(limit.rlim_cur),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// `setrlimit(RLIMIT_NPROC)`: sets both limits on the processes of this
/// process's user to `max`.
pub fn setrlimit_nproc(max: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: max,
        rlim_max: max,
    };
    // SAFETY: `limit` is a valid rlimit.
    match unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_pids_in_use_are_loadavgs_fourth_field() {
        assert_eq!(loadavg_tasks("0.57 0.92 0.63 2/77 29633\n"), Some(77));
        assert_eq!(loadavg_tasks("0.57 0.92 0.63 0/0 1"), Some(0));
        assert_eq!(loadavg_tasks("0.57 0.92 0.63"), None);
        assert_eq!(loadavg_tasks(""), None);
        assert!(pids_in_use() > 0);
    }

    /// The test runs in a thread of its own: its child is on that thread's
    /// list, not the main thread's, and is found all the same.
    #[test]
    fn a_child_started_by_any_thread_is_found() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep starts");
        let pid = child.id() as i32;
        let found = children_of(std::process::id() as i32)
            .iter()
            .any(|p| p.pid == pid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(found, "pid {pid} is not among the children found");
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_is_read_whole() {
        let stat = "42 (a (b) c) Z 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let p = parse_stat(stat).expect("parses");
        assert_eq!(
            (p.pid, p.comm.as_str(), p.state, p.ppid, p.pgid),
            (42, "a (b) c", 'Z', 7, 42)
        );
    }

    #[test]
    fn a_ps_line_is_read_as_on_macos() {
        let p = parse_ps("  501 Z+     500   500 /usr/bin/my prog").expect("parses");
        assert_eq!(
            (p.pid, p.state, p.ppid, p.pgid, p.comm.as_str()),
            (501, 'Z', 500, 500, "my prog")
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_found_running() {
        let me = process(std::process::id() as i32).expect("found");
        assert_eq!(me.ppid, std::os::unix::process::parent_id() as i32);
        assert!(matches!(me.state, 'R' | 'S'));
    }
}
