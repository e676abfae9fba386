//! 版本一 (version 1): three colleagues, three processes, one printer, and
//! nothing to keep them apart. All of them print at the same time; watch the
//! "starts" and "finished" lines interleave and the timeline's bars overlap.

use std::process::ExitCode;

use common::{Process, Result, say, sleep_like_seed};

/// One colleague at the printer (the notes write this body three times, as
/// task1, task2 and task3).
fn task() -> Result<()> {
    say("ask", "wants the printer");
    say("start", "starts printing");
    sleep_like_seed();
    say("end", "finished printing");
    Ok(())
}

fn main() -> ExitCode {
    common::printer::lesson(common::about!(), |names| {
        let mut colleagues: Vec<Process> = Vec::new();
        for name in names {
            colleagues.push(Process::new(name, task));
        }
        for p in &mut colleagues {
            p.start()?;
        }
        Ok(())
    })
}
