//! The zombie lesson's options, and the guard rails of its flood: how many
//! zombies it may make here, and how the flooding parent confines itself so
//! that `fork` fails for it alone.

use std::process::ExitCode;

use nix::unistd::{Gid, Uid, getuid, setgid, setuid};

use crate::lesson::{self, About, Options};
use crate::{Result, system};

/// The most zombies `--flood` makes: far below any real limit, and below
/// [`crate::process::MAX_CHILDREN`].
pub const MAX_FLOOD: u32 = 4000;

/// A root flood parent becomes the unprivileged user `LONER_UIDS + its
/// pid`, so that the process limit applies to it (root ignores
/// `RLIMIT_NPROC`). No other process has that user, not even another flood
/// parent running at the same time (pids are unique), so the count the
/// limit is set from cannot change under it, as it would for `nobody`.
const LONER_UIDS: u32 = 0x4000_0000;

#[derive(Debug, clap::Parser)]
#[command(
    after_help = "WARNING: with --no-subreaper, on a system whose pid 1 does not reap adopted \
children (many containers), the flood's zombies stay in the process table until reboot."
)]
pub struct Args {
    /// How many children exit under a parent that never reaps them (part 2)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FLOOD)))]
    pub flood: u32,

    /// CPU time the first child burns before it exits, in milliseconds (part 1)
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub cpu_ms: u64,

    /// Do not adopt the orphaned zombies: leave them to the system (see the warning below)
    #[arg(long)]
    pub no_subreaper: bool,

    #[command(flatten)]
    pub options: Options,
}

/// Runs the zombie lesson; `body` gets the options and whether the lesson
/// adopts orphans (it does on Linux unless `--no-subreaper`).
pub fn lesson(about: About, body: impl FnOnce(&Args, bool) -> Result) -> ExitCode {
    lesson::run(
        about,
        |args: &Args| &args.options,
        |args| {
            lesson::check_room(args.flood, "--flood")?;
            body(args, lesson::adopt_orphans(args.no_subreaper))
        },
        |_, _| Ok(()),
    )
}

/// Drops root for good, in this process only.
fn become_user(id: u32) -> nix::Result<()> {
    let group = Gid::from_raw(id);
    #[cfg(not(target_vendor = "apple"))]
    nix::unistd::setgroups(&[group])?;
    setgid(group)?;
    setuid(Uid::from_raw(id))
}

/// Called by the flooding parent, in itself only: lowers its process limit
/// so that, once it has `n` more children, `fork` fails for it with
/// `EAGAIN`. Root first becomes an unprivileged user of its own, for whom
/// the limit counts. Returns what it did, or why it could not confine itself.
pub fn confine_forks(n: u32) -> std::result::Result<String, String> {
    let root = getuid().is_root();
    if root {
        let uid = LONER_UIDS + std::process::id();
        become_user(uid).map_err(|e| format!("cannot become user {uid}: {e}"))?;
    }
    // This process counts already.
    let limit = (system::processes_of_user(getuid().as_raw()) + n as usize) as u64;
    crate::lesson::set_nproc_limit(limit).map_err(|e| format!("cannot lower RLIMIT_NPROC: {e}"))?;
    let how = if root {
        format!(
            "root ignores process limits, so I became user {}, who runs nothing else; ",
            getuid()
        )
    } else {
        String::new()
    };
    Ok(format!(
        "{how}my process limit (RLIMIT_NPROC) is now {limit}: room for {n} children and no more"
    ))
}
