//! 版本二 (version 2): the same three colleagues, but the parent `join`s each
//! one before it starts the next. Now they print one at a time, always p1,
//! then p2, then p3: the code fixed the order, nobody ever waits in line.

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
            p.join()?;
        }
        Ok(())
    })
}
