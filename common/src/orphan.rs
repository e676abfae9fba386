//! The orphan lesson's options, and how an orphan learns it was adopted.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::unistd::{Pid, getppid};

use crate::Result;
use crate::lesson::{self, About, Options};

#[derive(Debug, clap::Parser)]
#[command(
    after_help = "WARNING: with --no-subreaper, on a system whose pid 1 does not reap adopted \
children (many containers), the orphan stays a zombie until reboot."
)]
pub struct Args {
    /// Do not adopt the orphan: leave it to the system (see the warning below)
    #[arg(long)]
    pub no_subreaper: bool,

    #[command(flatten)]
    pub options: Options,
}

/// Runs the orphan lesson; `body` gets whether the lesson adopts orphans
/// (it does on Linux unless `--no-subreaper`).
pub fn lesson(about: About, body: impl FnOnce(bool) -> Result) -> ExitCode {
    lesson::run(
        about,
        |args: &Args| &args.options,
        |args| body(lesson::adopt_orphans(args.no_subreaper)),
        |_, _| Ok(()),
    )
}

/// Waits until this process's parent is no longer `parent` (it died and
/// someone adopted us), asking `getppid()` every millisecond; returns the new parent.
pub fn wait_for_new_parent(parent: Pid) -> Result<Pid> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = getppid();
        if now != parent {
            return Ok(now);
        }
        if Instant::now() > deadline {
            return Err(format!("pid {parent} is still my parent after 30 s").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
