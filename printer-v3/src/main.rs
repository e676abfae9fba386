//! 版本三 (version 3): all colleagues start at once again, but each must
//! `acquire` a shared `Lock` before printing. They print one at a time, and
//! the order comes from who got the lock first: compare who asked with who got.

use std::process::ExitCode;

use common::{Lock, Process, Result, say, sleep_like_seed};

/// One colleague at the printer (the notes write this body three times, as
/// task1, task2 and task3).
fn task(mutex: &Lock) -> Result<()> {
    say("ask", "wants the printer");
    let printer = mutex.acquire()?;
    say("start", "starts printing");
    sleep_like_seed();
    say("end", "finished printing");
    printer.release()
}

fn main() -> ExitCode {
    common::printer::lesson(common::about!(), |names| {
        let mutex = Lock::new()?;
        let mut colleagues: Vec<Process> = Vec::new();
        for name in names {
            colleagues.push(Process::new(name, || task(&mutex)));
        }
        for p in &mut colleagues {
            p.start()?;
        }
        Ok(())
    })
}
