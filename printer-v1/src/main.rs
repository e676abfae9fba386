//! 版本一 (version 1): three colleagues, three processes, one printer, and
//! nothing to keep them apart. All of them print at the same time; watch the
//! "starts" and "finished" lines interleave and the timeline's bars overlap.

use std::process::ExitCode;

use common::{Options, Process, Result, event, sleep_like_seed};

#[derive(Debug, clap::Parser)]
#[command(about)]
struct Args {
    /// How many colleagues (processes p1, p2, …) share the printer
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=2000))]
    workers: u32,

    #[command(flatten)]
    options: Options,
}

/// One colleague at the printer (the notes write this body three times, as
/// task1, task2 and task3).
fn task() -> Result<()> {
    event("ask", (), "wants the printer");
    event("start", (), "starts printing");
    sleep_like_seed();
    event("end", (), "finished printing");
    Ok(())
}

fn main() -> ExitCode {
    common::run(|args: Args| {
        let mut colleagues: Vec<Process> = Vec::new();
        for i in 1..=args.workers {
            colleagues.push(Process::new(format!("p{i}"), task));
        }
        for p in &mut colleagues {
            p.start()?;
        }
        // Python's main process waits for its children before it exits, and so
        // does this one, for any not joined yet: else they would stay zombies.
        common::child::reap_all();
        common::timeline::draw(args.workers)
    })
}
