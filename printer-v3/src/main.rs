//! 版本三 (version 3): all start at once again, but each must `acquire` a
//! shared `Lock` before printing. They print one at a time, in the order
//! they got the lock: compare who asked with who got.

mod quiz;

use std::process::ExitCode;

use common::Lock;
use common::{Options, Process, Result, event, sleep_like_seed, tr};

#[derive(Debug, clap::Parser)]
#[command(about)]
struct Args {
    /// How many colleagues (processes p1, p2, …) share the printer
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=2000))]
    workers: u32,
    // --schedule, --every-schedule: common hands out turns at the sleep point.
    #[command(flatten)]
    turns: common::Turns,
    #[command(flatten)]
    options: Options,
}

/// One colleague at the printer (the notes write this body three times, as
/// task1, task2 and task3).
fn task(mutex: &Lock) -> Result<()> {
    event("ask", (), tr!("wants the printer"));
    // Each child open()s the lock file itself: one opened before fork
    // would be a single lock shared by all, and exclude nobody.
    let mut lock = mutex.open()?;
    let printer = lock.acquire()?;
    event("start", (), tr!("starts printing"));
    sleep_like_seed();
    event("end", (), tr!("finished printing"));
    printer.release()
}

fn main() -> ExitCode {
    common::run!(|args: Args| {
        common::check_room(args.workers, "--workers")?;
        let mutex = Lock::new()?;
        let mut colleagues: Vec<Process> = Vec::new();
        for i in 1..=args.workers {
            colleagues.push(Process::new(format!("p{i}"), || task(&mutex)));
        }
        for p in &mut colleagues {
            p.start()?;
        }
        // Python's main process joins its children before it exits, and so
        // does this one (any not joined yet), to learn how each one ended.
        common::child::join_all()?;
        common::timeline::draw(args.workers)
    })
}
