//! The guard rails of the zombie lesson's flood: its parent confines itself
//! so that `fork` fails for it alone, long before the system runs out of pids.

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, getppid, getuid, setgid, setuid};

use nix::errno::Errno;

use crate::child::{ForkFailed, prctl_set_pdeathsig};
use crate::system;

/// A root flood parent becomes the unprivileged user `LONER_UIDS + its
/// pid`, so that the process limit applies to it (root ignores
/// `RLIMIT_NPROC`). No other process has that user, not even another flood
/// parent running at the same time (pids are unique), so the count the
/// limit is set from cannot change under it, as it would for `nobody`.
const LONER_UIDS: u32 = 0x4000_0000;

/// What [`confine_forks`] did: the line that says so, and the limit set.
#[derive(Debug)]
pub struct Confined {
    pub text: String,
    pub limit: u64,
}

/// Called by the flooding parent, in itself only: lowers its process limit
/// (`setrlimit(RLIMIT_NPROC)`) so that, once it has `n` more children,
/// `fork` fails for it with `EAGAIN`. Root first becomes an unprivileged
/// user of its own (`setuid`), for whom the limit counts. Returns what it
/// did, or why it could not confine itself.
pub fn confine_forks(n: u32) -> Result<Confined, String> {
    let root = getuid().is_root();
    let lesson = getppid();
    if root {
        let uid = LONER_UIDS + std::process::id();
        become_user(uid).map_err(|e| tr!("cannot become user {}: {}", uid, e))?;
        // A change of user forgets the signal asked for on the parent's death.
        prctl_set_pdeathsig(Some(Signal::SIGTERM), lesson).map_err(|e| format!("{e:#}"))?;
    }
    // The limit counts every process of the user, this one included.
    let already = system::processes_of_user(getuid().as_raw());
    let limit = (already + n as usize) as u64;
    system::setrlimit_nproc(limit).map_err(|e| tr!("cannot lower RLIMIT_NPROC: {}", e))?;
    let mine = match already {
        1 => tr!("me"),
        k => tr!("{} processes my user already runs, me included", k),
    };
    let set = tr!(
        "I set my process limit (RLIMIT_NPROC, which counts all of my user's processes) \
         to {}: {}, and {} children, no more",
        limit,
        mine,
        n
    );
    let text = if root {
        tr!(
            "root ignores process limits, so I became a user of my own (uid {}); {}",
            getuid(),
            set
        )
    } else {
        set
    };
    Ok(Confined { text, limit })
}

/// Whether `e` is a `fork` the process limit refused (`EAGAIN`).
pub fn refused(e: &crate::error::Error) -> bool {
    e.downcast_ref::<ForkFailed>()
        .is_some_and(|f| f.errno == Errno::EAGAIN)
}

/// Why fork `i` of `n` already failed: the limit counts every process of
/// the user, and others of theirs took room since it was set (another
/// lesson of the same user, say); or, with no limit of the lesson's own,
/// the user's limit is reached.
pub fn refused_early(i: u32, n: u32, confined: bool) -> String {
    let now = system::processes_of_user(getuid().as_raw());
    if confined {
        tr!(
            "fork {} of {} already fails with EAGAIN: my user runs {} processes now, more than \
             when I set the limit, and the limit counts them all, so the last {} zombies are \
             not mine to make",
            i,
            n,
            now,
            n - i + 1
        )
    } else {
        tr!(
            "fork {} of {} fails with EAGAIN: my user's process limit is reached ({} processes)",
            i,
            n,
            now
        )
    }
}

/// Why one fork more than the limit allows still worked: the user's other
/// processes ended since it was set, and left room.
pub fn did_not_hold(limit: u64) -> String {
    let now = system::processes_of_user(getuid().as_raw());
    tr!(
        "one more fork still worked: the process limit did not hold (my user runs {} \
         processes now, against my limit of {}: others of my user ended since I set it)",
        now,
        limit
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
