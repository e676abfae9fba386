//! The floor of printer-v1, and with the lock of printer-v3. Per worker:
//! the parent forks it and writes its `spawn` record; the worker writes 4
//! records (ask, start, sleep, end) and 3 lines (wants, starts, finished
//! printing) and `_exit`s; with the lock it also `open`s the lock file,
//! `flock`s it before it starts and unlocks it after; the parent reaps it
//! (`wait4`). 11 system calls per worker, 14 with the lock, as many as the
//! printers' trace records and lines ask for. Once per run: the
//! scratch directory, the trace and the lock file, the `begin` (and
//! `lock`) record, the first line and the summary's lines (4, 8 for v3).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use nix::libc;
use nix::sys::wait::{WaitStatus, wait};

use crate::bare::{Out, exit_now, flock, fork};

pub fn run(workers: usize, lock: bool) -> io::Result<bool> {
    let mut out = Out::new()?;
    let lesson = if lock { "printer-v3" } else { "printer-v1" };
    out.record("main", "begin", &format!("\"lesson\":\"{lesson} floor\""))?;
    let path = out.dir.join("lock-0");
    if lock {
        File::create(&path)?;
        out.made(path.clone());
        out.record("main", "lock", &format!("\"path\":{path:?}"))?;
    }
    let pid = std::process::id();
    out.line(
        "main",
        &format!("{lesson} floor starts: pid {pid}, {workers} workers"),
    )?;
    let mut forked = 0;
    for i in 1..=workers {
        let who = format!("p{i}");
        match fork()? {
            None => worker(&out, &who, lock.then_some(path.as_path())),
            Some(child) => {
                forked += 1;
                out.record(
                    "main",
                    "spawn",
                    &format!("\"of\":{child},\"name\":\"{who}\""),
                )?;
            }
        }
    }
    let mut failed = 0;
    for _ in 0..forked {
        if !matches!(wait()?, WaitStatus::Exited(_, 0)) {
            failed += 1;
        }
    }
    let summary: &[&str] = if lock { &SUMMARY_V3 } else { &SUMMARY_V1 };
    for line in summary {
        out.plain(&line.replace("{workers}", &workers.to_string()))?;
    }
    out.finish()?;
    Ok(failed == 0)
}

fn worker(out: &Out, who: &str, lock: Option<&Path>) -> ! {
    let mut held = None;
    let printed = print(out, who, lock, &mut held);
    exit_now(if printed.is_ok() { 0 } else { 1 })
}

fn print(out: &Out, who: &str, lock: Option<&Path>, held: &mut Option<File>) -> io::Result<()> {
    out.record(who, "ask", "")?;
    out.line(who, "wants the printer")?;
    if let Some(path) = lock {
        let file = held.insert(OpenOptions::new().read(true).write(true).open(path)?);
        flock(file, libc::LOCK_EX)?;
    }
    out.record(who, "start", "")?;
    out.line(who, "starts printing")?;
    out.record(who, "sleep", "\"seconds\":2")?;
    out.record(who, "end", "")?;
    out.line(who, "finished printing")?;
    if let Some(file) = held {
        flock(file, libc::LOCK_UN)?;
    }
    Ok(())
}

/// What the printers print after their workers' lines, one line each.
const SUMMARY_V1: [&str; 4] = [
    "",
    "Timeline of {workers} colleagues (too many rows to draw): at most 1 printing at once.",
    "Verdict: nothing overlapped in this run, but only by chance: no lock keeps them apart.",
    "Time: at --speed max nothing sleeps, so there is no printing time to compare.",
];
const SUMMARY_V3: [&str; 8] = [
    "",
    "Timeline of {workers} colleagues (too many rows to draw): at most 1 printing at once.",
    "Verdict: serial, one at a time, as the lock makes it, in the order p1 → p2 → p3 → …",
    "They asked as p1 & p2 & p3 & … (at the same moment), then p4 & p5 & … (at the same moment)",
    "p5 asked for the printer before p4, yet p4 got it first: the lock served them as it chose.",
    "The notes say a lock makes it first come, first served: flock promises no order.",
    "Time: at --speed max nothing sleeps, so there is no printing time to compare.",
    "Lock or join (the notes): both make the printing serial; join fixes the order by hand.",
];
