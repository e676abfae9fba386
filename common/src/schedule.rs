//! `--schedule` and `--every-schedule`: the notes' sleeps (their "network
//! delay") are where one process can overtake another, so each is a *sleep
//! point*. With a schedule, a child of the lesson's main process that comes
//! to one says so down a pipe and waits for its turn instead of sleeping;
//! main hands out the turns, one at a time, each once every child has come
//! to rest: at a sleep point (it said so), blocked in `flock` (it said it was
//! about to block, and `/proc/locks` lists it waiting), or ended (`waitid`).
//! The children are real processes, the file and the lock real ones; only
//! the order in which they pass their sleep points is chosen.

use std::collections::HashSet;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::json;

use crate::error::{EXIT_PANIC, Result, Usage, anyhow};
use crate::{log, signals, timing};

/// The options of the lessons with sleep points: flatten them into the
/// lesson's `Args` (the ticket offices have them in `sale::Office`).
#[derive(Debug, Clone, clap::Args)]
pub struct Turns {
    /// Force one interleaving: the numbers of the processes (1 for p1 or buyer-1, …) in the order
    /// they pass their sleep points, like 1,2,1,2; once the list is used up, lowest number first.
    /// With --seed too, it replays a run, but for who gets a lock several wait for
    #[arg(long, value_name = "LIST", value_parser = order, conflicts_with = "every_schedule")]
    pub schedule: Option<Order>,

    /// Run every distinct schedule of the sleep points, each a real run from the same start, and
    /// reckon them all (at most 4 processes and 3 tickets)
    #[arg(long)]
    pub every_schedule: bool,

    /// Make the classic mistake on purpose: main opens the lock file once, before fork, and every
    /// child's open() gets a copy of that one open file description, so flock excludes nobody
    #[arg(long)]
    pub lock_opened_before_fork: bool,
}

/// The numbers of a `--schedule`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order(pub Vec<u32>);

/// Far longer than any schedule of the lessons' sizes needs.
const MAX_TURNS: usize = 10_000;
/// Above the lessons' largest number of children.
const MAX_NUMBER: u32 = 4000;
/// `--every-schedule`'s sizes: beyond them the runs number thousands.
pub const MAX_PROCESSES: u32 = 4;
pub const MAX_TICKETS: u64 = 3;

fn order(text: &str) -> std::result::Result<Order, String> {
    let numbers: Vec<&str> = text.split(',').map(str::trim).collect();
    if numbers.len() > MAX_TURNS {
        return Err(tr!("a schedule of at most {} turns", MAX_TURNS));
    }
    let parsed = numbers.iter().map(|n| match n.parse::<u32>() {
        Ok(n) if (1..=MAX_NUMBER).contains(&n) => Ok(n),
        _ => Err(tr!(
            "'{}' is not a process number: give numbers from 1, separated by commas, like 1,2,1,2",
            n.chars().take(20).collect::<String>()
        )),
    });
    parsed.collect::<std::result::Result<_, _>>().map(Order)
}

impl std::fmt::Display for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&commas(&self.0))
    }
}

/// `1,2,1,2`.
pub(crate) fn commas(turns: &[u32]) -> String {
    let numbers: Vec<String> = turns.iter().map(u32::to_string).collect();
    numbers.join(",")
}

/// What the options asked for, fixed at the start for every run.
#[derive(Debug, Default)]
struct Plan {
    order: Option<Vec<u32>>,
    every: bool,
    shared_lock: bool,
}

static PLAN: OnceLock<Plan> = OnceLock::new();

/// Fixes the plan; with `--schedule`, its run begins. Called once the
/// trace is open.
pub(crate) fn init(turns: Option<&Turns>, pause: bool) -> Result<()> {
    let plan = turns.map_or_else(Plan::default, |t| Plan {
        order: t.schedule.as_ref().map(|o| o.0.clone()),
        every: t.every_schedule,
        shared_lock: t.lock_opened_before_fork,
    });
    if plan.every && pause {
        let why = tr!("--every-schedule runs every schedule on its own: it cannot --pause");
        return Err(Usage(why).into());
    }
    let order = plan.order.clone();
    let _ = PLAN.set(plan);
    if let Some(order) = order {
        begin_run(order);
    }
    Ok(())
}

fn plan() -> &'static Plan {
    PLAN.get_or_init(Plan::default)
}

/// `--every-schedule`.
pub(crate) fn every() -> bool {
    plan().every
}

/// `--schedule` or `--every-schedule`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn on() -> bool {
    plan().every || plan().order.is_some()
}

/// `--schedule`.
pub(crate) fn forced() -> bool {
    plan().order.is_some()
}

/// `--lock-opened-before-fork`.
pub(crate) fn lock_opened_before_fork() -> bool {
    plan().shared_lock
}

/// Set once the lesson has made a `Lock`.
static LOCK_MADE: AtomicBool = AtomicBool::new(false);

pub(crate) fn lock_made() {
    LOCK_MADE.store(true, Ordering::Relaxed);
}

/// `--lock-opened-before-fork` in a lesson that has made no lock by the
/// time it would fork (or stock its file): there is nothing to open.
pub(crate) fn check_lock_opened_before_fork() -> Result<()> {
    if lock_opened_before_fork() && !LOCK_MADE.load(Ordering::Relaxed) {
        let why =
            tr!("--lock-opened-before-fork: this lesson makes no lock to open before it forks");
        return Err(Usage(why).into());
    }
    Ok(())
}

/// What a child says down the pipe to main: its number, and this.
const ARRIVED: u32 = 0;
const BLOCKING: u32 = 1 << 16;
const ENDING: u32 = 2 << 16;

/// Where a child of this run is, as main knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between two points: main waits until it says where it is.
    Running,
    /// It said it is about to block in `flock`; not yet listed waiting.
    AboutToBlock,
    /// At a sleep point, waiting for its turn.
    Ready,
    /// Listed in `/proc/locks` as waiting for the lock that `holder` holds.
    Blocked {
        holder: i32,
    },
    /// It said it is ending: main waits for it to be a zombie.
    Ending,
    Ended,
}

#[derive(Debug)]
struct Scheduled {
    number: u32,
    pid: i32,
    name: String,
    /// The write end of its pipe of turns: one byte, one turn.
    go: File,
    at: At,
    /// The holder of the lock it was last said to wait for.
    said_waiting_for: Option<i32>,
}

/// The state before one turn: who was at a sleep point, who waited for the
/// lock (and for whom).
#[derive(Debug, Clone, Default)]
pub(crate) struct Point {
    pub(crate) ready: Vec<u32>,
    pub(crate) blocked: Vec<(u32, String, String)>,
}

/// One run's turns, as main handed them out.
#[derive(Debug, Default)]
struct Run {
    /// The pipe every child of the run tells main where it is: (read, write).
    said: Option<(File, File)>,
    children: Vec<Scheduled>,
    forced: Vec<u32>,
    turns: Vec<u32>,
    points: Vec<Point>,
    /// With `--every-schedule`: the first forced turn that could not be
    /// given (the kernel handed the lock to another this time).
    diverged: Option<usize>,
    used_up_said: bool,
}

/// Main's side: the run going on, if the lesson is scheduled.
static RUN: Mutex<Option<Run>> = Mutex::new(None);

/// Whether a run ever began: read, not locked, at every `fork`, so that a
/// lesson without turns writes nothing to `RUN`'s page, which the parent
/// would have to copy while its last child still shares it.
static EVER_SCHEDULED: AtomicBool = AtomicBool::new(false);

/// A child's side: its number, the pipe's write end, its pipe of turns.
static MINE: Mutex<Option<(u32, File, File)>> = Mutex::new(None);

fn run() -> MutexGuard<'static, Option<Run>> {
    RUN.lock().unwrap_or_else(|e| e.into_inner())
}

fn mine() -> MutexGuard<'static, Option<(u32, File, File)>> {
    MINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new run begins: its children are numbered from 1, and their first
/// turns go as `forced` says.
pub(crate) fn begin_run(forced: Vec<u32>) {
    log::record(
        "schedule",
        json!({ "forced": commas(&forced), "every": every() }),
    );
    *run() = Some(Run {
        forced,
        ..Run::default()
    });
    EVER_SCHEDULED.store(true, Ordering::Relaxed);
}

/// The pipe of turns of the child about to be forked, and the pipe it will
/// tell main by; `None` when this process schedules nothing.
pub(crate) fn before_fork() -> Result<Option<(File, File)>> {
    if !EVER_SCHEDULED.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let mut run = run();
    let Some(run) = run.as_mut() else {
        return Ok(None);
    };
    if run.said.is_none() {
        let (read, write) = nix::unistd::pipe().map_err(|e| anyhow!("pipe: {}", e.desc()))?;
        run.said = Some((read.into(), write.into()));
    }
    let (read, write) = nix::unistd::pipe().map_err(|e| anyhow!("pipe: {}", e.desc()))?;
    Ok(Some((read.into(), write.into())))
}

/// In the new child: it keeps its own pipe of turns and the write end of
/// main's; the rest (its siblings' pipes) it closes.
pub(crate) fn in_child(go: Option<(File, File)>) {
    // No pipe of turns, no run (`before_fork`).
    let Some((read, _)) = go else {
        return;
    };
    let Some(run) = run().take() else {
        return;
    };
    let number = run.children.len() as u32 + 1;
    if let Some((_, write)) = run.said {
        *mine() = Some((number, write, read));
    }
}

/// In main, once the child `pid` is forked.
pub(crate) fn in_parent(pid: i32, name: &str, go: Option<(File, File)>) {
    let Some((_, write)) = go else {
        return;
    };
    if let Some(run) = run().as_mut() {
        let number = run.children.len() as u32 + 1;
        run.children.push(Scheduled {
            number,
            pid,
            name: name.to_owned(),
            go: write,
            at: At::Running,
            said_waiting_for: None,
        });
    }
}

/// Whether this process is a child waiting for turns.
pub(crate) fn scheduled() -> bool {
    mine().is_some()
}

fn say(what: u32) {
    if let Some((number, said, _)) = mine().as_mut() {
        let _ = said.write_all(&(*number | what).to_ne_bytes());
    }
}

/// A child about to block in `flock` says so first: main then looks for it
/// in `/proc/locks`, which lists who waits for which lock.
pub(crate) fn about_to_block() {
    say(BLOCKING);
}

/// A child about to `_exit` says so: main then waits for it to end.
pub(crate) fn ending() {
    say(ENDING);
}

/// The notes' `time.sleep(random.randint(1, 3))`, at the lesson's speed: a
/// sleep point. With a schedule, the child waits there for its turn
/// instead. Returns the seconds drawn (drawn also then, so that `--seed`
/// gives each process the same draws either way).
pub fn sleep_like_seed() -> u64 {
    let seconds = timing::randint(1, 3);
    // What the seed drew, for anyone replaying or checking the run: the
    // time it takes is the clock's, and drifts on a busy machine.
    // Serialized as it is written, with no JSON value made first.
    #[derive(serde::Serialize)]
    struct Sleep {
        seconds: u64,
    }
    log::record("sleep", Sleep { seconds });
    if !scheduled() {
        timing::sleep(timing::scaled(seconds as f64));
        return seconds;
    }
    say(ARRIVED);
    let mut byte = [0u8; 1];
    if let Some((_, _, go)) = mine().as_mut() {
        // Main's end closed (it is gone): no turn will come; go on.
        loop {
            match go.read(&mut byte) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                _ => break,
            }
        }
    }
    seconds
}

/// Why a turn could not be given.
#[derive(Debug)]
enum Refused {
    NotStarted,
    Ended,
    /// Ended early, of the panic `--panic-in` asked for.
    Panicked,
    Waiting(String),
}

/// Main hands out turns until the child `pid` has ended (every child of the
/// run, for `None`): what `join` waits for. Nothing without a schedule. An
/// error for a turn that cannot be given: the schedule is impossible here.
pub(crate) fn until_ended(pid: Option<i32>) -> Result<()> {
    let mut guard = run();
    let Some(run) = guard.as_mut() else {
        return Ok(());
    };
    loop {
        settle(run)?;
        let done = |c: &Scheduled| c.at == At::Ended;
        let ended = match pid {
            Some(pid) => run.children.iter().any(|c| c.pid == pid && done(c)),
            None => run.children.iter().all(done),
        };
        if ended || run.children.is_empty() {
            return Ok(());
        }
        let point = Point {
            ready: numbers(run, |at| at == At::Ready),
            blocked: run
                .children
                .iter()
                .filter_map(|c| match c.at {
                    At::Blocked { holder } => {
                        Some((c.number, c.name.clone(), holder_name(run, holder)))
                    }
                    _ => None,
                })
                .collect(),
        };
        if point.ready.is_empty() {
            // None at a sleep point, yet not all ended: they wait for a lock
            // the kernel is handing on between them. Looked at again.
            pause_a_moment(run)?;
            continue;
        }
        let k = run.turns.len();
        let lowest = point.ready[0];
        let number = match run.forced.get(k).copied() {
            Some(n) if point.ready.contains(&n) => n,
            // The kernel gave the lock to another than in the run that
            // found this prefix: the rest of it cannot be given.
            Some(_) if every() => {
                run.diverged = Some(k);
                run.forced.truncate(k);
                lowest
            }
            Some(n) => {
                let why = match run.children.iter().find(|c| c.number == n) {
                    None => Refused::NotStarted,
                    Some(c) if c.at == At::Ended => {
                        match how_ended(c.pid).and_then(|e| e.exit_status()) {
                            Some(EXIT_PANIC) => Refused::Panicked,
                            _ => Refused::Ended,
                        }
                    }
                    Some(c) => Refused::Waiting(match c.at {
                        At::Blocked { holder } => holder_name(run, holder),
                        _ => String::new(),
                    }),
                };
                return Err(impossible(run, k, n, why));
            }
            None => {
                if !run.used_up_said && !run.forced.is_empty() && !every() {
                    run.used_up_said = true;
                    log::say(tr!(
                        "the schedule is used up: the rest take their turns lowest number first"
                    ));
                }
                lowest
            }
        };
        run.points.push(point);
        give(run, k, number)?;
    }
}

fn numbers(run: &Run, which: impl Fn(At) -> bool) -> Vec<u32> {
    let mut numbers: Vec<u32> = run
        .children
        .iter()
        .filter(|c| which(c.at))
        .map(|c| c.number)
        .collect();
    numbers.sort_unstable();
    numbers
}

fn holder_name(run: &Run, holder: i32) -> String {
    match run.children.iter().find(|c| c.pid == holder) {
        Some(c) => c.name.clone(),
        None => tr!("another process (pid {})", holder),
    }
}

/// Turn `k` (from 0) to the child numbered `number`, at a sleep point.
fn give(run: &mut Run, k: usize, number: u32) -> Result<()> {
    let Some(child) = run.children.iter_mut().find(|c| c.number == number) else {
        return Err(anyhow!("no child numbered {number}"));
    };
    let fields = json!({"turn": k + 1, "to": child.name, "of": child.pid, "number": number});
    log::event(
        "turn",
        fields,
        tr!("turn {}: {} passes its sleep point", k + 1, child.name),
    );
    child.at = At::Running;
    match child.go.write_all(&[1]) {
        // Its end of the pipe is closed: it was killed at its sleep point,
        // and the next look finds it ended.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
        Err(e) => return Err(anyhow!(tr!("giving {} its turn: {}", child.name, e))),
        Ok(()) => {}
    }
    run.turns.push(number);
    Ok(())
}

/// The error that says why the schedule cannot run here, after its record.
fn impossible(run: &Run, k: usize, number: u32, why: Refused) -> crate::error::Error {
    let schedule = commas(&run.forced);
    let name = run
        .children
        .iter()
        .find(|c| c.number == number)
        .map_or_else(|| tr!("process {}", number), |c| c.name.clone());
    let (reason, because) = match &why {
        Refused::NotStarted => (
            "not_started",
            tr!(
                "{} has not been started yet: main has started {} so far, and starts the next \
                 only when its code comes to that start()",
                name,
                run.children.len()
            ),
        ),
        Refused::Ended => (
            "ended",
            tr!("{} has ended: it has no sleep point left", name),
        ),
        Refused::Panicked => (
            "ended",
            tr!(
                "{} has ended early, of the panic --panic-in asked for",
                name
            ),
        ),
        Refused::Waiting(holder) => (
            "waiting",
            tr!(
                "{} is waiting for the lock that {} holds, and cannot pass its sleep point",
                name,
                holder
            ),
        ),
    };
    let fields = json!({"turn": k + 1, "to": name, "number": number, "why": reason});
    log::record("impossible", fields);
    // A panic asked for is this run's doing; anything else, the version's.
    let blame = match why {
        Refused::Panicked => tr!("in this run"),
        _ => tr!("under this version"),
    };
    anyhow!(tr!(
        "the schedule {} cannot run {}: turn {} is {}'s, and {}",
        schedule,
        blame,
        k + 1,
        name,
        because
    ))
}

/// Waits until every child of the run is at rest: at a sleep point, waiting
/// for the lock (as the kernel lists it), or ended.
fn settle(run: &mut Run) -> Result<()> {
    let mut looked = false;
    loop {
        signals::check_stop()?;
        read_said(run)?;
        for child in run.children.iter_mut().filter(|c| c.at == At::Ending) {
            // It said it is ending: a wait for what is certain to come.
            wait_until_ended(child.pid)?;
            child.at = At::Ended;
        }
        // Waiting for a lock held outside this run (another run on the same
        // file): not at rest, for no turn of this schedule can change that.
        let ours: Vec<i32> = run.children.iter().map(|c| c.pid).collect();
        let moving = |at: At| match at {
            At::Running | At::AboutToBlock => true,
            At::Blocked { holder } => !ours.contains(&holder),
            _ => false,
        };
        if !run.children.iter().any(|c| moving(c.at)) {
            // A waiter is woken when the holder lets go: it may have the lock
            // now. Looked up again, once the others are at rest.
            if looked
                || !run
                    .children
                    .iter()
                    .any(|c| matches!(c.at, At::Blocked { .. }))
            {
                return Ok(());
            }
            look(run);
            looked = true;
            continue;
        }
        looked = false;
        let soon = run.children.iter().any(|c| c.at == At::AboutToBlock);
        if !wait_for_word(run, if soon { 1 } else { 20 })? {
            look(run);
        }
    }
}

/// Reads what the children said, without waiting.
fn read_said(run: &mut Run) -> Result<()> {
    let Some((said, _)) = run.said.as_mut() else {
        return Ok(());
    };
    loop {
        let mut fds = [PollFd::new(said.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(()),
            Err(e) => return Err(anyhow!("poll: {}", e.desc())),
        }
        let mut word = [0u8; 4];
        // Each word is one `write` of 4 bytes, under the pipe's atomic size.
        match (&*said).read(&mut word) {
            Ok(4) => {}
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(anyhow!("reading the children's pipe: {e}")),
        }
        let word = u32::from_ne_bytes(word);
        let (number, what) = (word & 0xffff, word & !0xffff);
        // A word read late says nothing main has not learnt since: a child
        // seen blocked already said it would block, one seen ended (and
        // maybe reaped) that it would end.
        if let Some(child) = run.children.iter_mut().find(|c| c.number == number) {
            child.at = match (what, child.at) {
                (_, At::Ended) => At::Ended,
                (ARRIVED, _) => At::Ready,
                (BLOCKING, At::Blocked { holder }) => At::Blocked { holder },
                (BLOCKING, _) => At::AboutToBlock,
                _ => At::Ending,
            };
        }
    }
}

/// Waits up to `ms` for a child to say something; false if none did.
fn wait_for_word(run: &mut Run, ms: u16) -> Result<bool> {
    let Some((said, _)) = run.said.as_ref() else {
        return Ok(false);
    };
    let mut fds = [PollFd::new(said.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(anyhow!("poll: {}", e.desc())),
    }
}

/// Waits a moment for a word, then has every child seen waiting looked at
/// again by the next `settle`.
fn pause_a_moment(run: &mut Run) -> Result<()> {
    signals::check_stop()?;
    wait_for_word(run, 20)?;
    for child in &mut run.children {
        if matches!(child.at, At::Blocked { .. }) {
            child.at = At::Running;
        }
    }
    Ok(())
}

/// Asks the kernel about the children not at rest by their own word: which
/// wait for a lock (`/proc/locks`), which have ended (`waitid`, `WNOHANG`:
/// one killed or panicking says nothing).
/// A child seen waiting is said, with its holder, as `/proc/locks` lists
/// them (again when the holder changes): between two turns it is what the
/// learner cannot see.
fn look(run: &mut Run) {
    let waiting = lock_waiters();
    let mut newly = Vec::new();
    for child in &mut run.children {
        let listed = waiting.iter().find(|(w, _)| *w == child.pid);
        child.at = match (child.at, listed) {
            (At::Running | At::AboutToBlock | At::Blocked { .. }, Some(&(_, holder))) => {
                At::Blocked { holder }
            }
            (At::Blocked { .. }, None) => At::Running,
            (at, _) => at,
        };
        match child.at {
            At::Blocked { holder } if child.said_waiting_for != Some(holder) => {
                child.said_waiting_for = Some(holder);
                newly.push((child.name.clone(), child.pid, holder));
            }
            At::Blocked { .. } | At::Running | At::AboutToBlock => {}
            _ => child.said_waiting_for = None,
        }
        // Killed (SIGKILL, say), a child says nothing, wherever it was.
        if !matches!(child.at, At::Ending | At::Ended) && has_ended(child.pid) {
            child.at = At::Ended;
        }
    }
    for (name, pid, holder) in newly {
        let by = holder_name(run, holder);
        let fields = json!({"of": pid, "name": name, "holder": holder});
        let text = tr!(
            "{} waits in flock for the lock that {} holds (/proc/locks lists it so)",
            name,
            by
        );
        log::event("blocked", fields, text);
    }
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT)`: until the child has ended,
/// left unreaped for its `join`.
fn wait_until_ended(pid: i32) -> Result<()> {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let Some(id) = Pid::from_raw(pid) else {
        return Ok(());
    };
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    loop {
        match waitid(WaitId::Pid(id), options) {
            Err(rustix::io::Errno::INTR) => signals::check_stop()?,
            // Reaped already, by a SIGCHLD handler or the kernel: ended.
            Err(rustix::io::Errno::CHILD) => return Ok(()),
            Err(e) => return Err(anyhow!("waitid {pid}: {e}")),
            Ok(_) => return Ok(()),
        }
    }
}

/// How the child `pid` ended, which stays unreaped (`WNOWAIT`); `None`
/// while it runs.
fn how_ended(pid: i32) -> Option<rustix::process::WaitIdStatus> {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    waitid(WaitId::Pid(Pid::from_raw(pid)?), options).ok()?
}

fn has_ended(pid: i32) -> bool {
    how_ended(pid).is_some()
}

/// Every process `/proc/locks` lists as waiting for a lock, and the pid of
/// the holder listed above it: `1: FLOCK  ADVISORY  WRITE 4321 fe:00:12 0
/// EOF`, then ` 1: -> FLOCK  ADVISORY  WRITE 4322 fe:00:12 0 EOF`. Empty
/// where there is no `/proc/locks` (macOS).
fn lock_waiters() -> Vec<(i32, i32)> {
    std::fs::read_to_string("/proc/locks").map_or_else(|_| Vec::new(), |text| waiters_in(&text))
}

fn waiters_in(text: &str) -> Vec<(i32, i32)> {
    let mut holder = 0;
    let mut waiting = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let blocked = fields.get(1) == Some(&"->");
        let pid = fields
            .get(if blocked { 5 } else { 4 })
            .and_then(|p| p.parse().ok());
        match (blocked, pid) {
            (false, Some(pid)) => holder = pid,
            (true, Some(pid)) => waiting.push((pid, holder)),
            _ => {}
        }
    }
    waiting
}

/// What one run of a schedule did, for `--every-schedule`.
#[derive(Debug, Default)]
pub(crate) struct Ran {
    pub(crate) forced: usize,
    pub(crate) turns: Vec<u32>,
    pub(crate) points: Vec<Point>,
    pub(crate) diverged: Option<usize>,
}

/// The run that ends: what it did. A next run begins with [`begin_run`].
pub(crate) fn end_run() -> Ran {
    let taken = run().take();
    let run = taken.unwrap_or_default();
    Ran {
        forced: run.forced.len(),
        turns: run.turns,
        points: run.points,
        diverged: run.diverged,
    }
}

/// Runs `one`, the lesson's work: once, or with `--every-schedule` once for
/// each schedule, quietly, and then says what they all showed.
pub(crate) fn each_run(mut one: impl FnMut() -> Result) -> Result {
    if !every() {
        one()?;
        if let Some(run) = run().as_ref() {
            let (given, forced) = (run.turns.len(), run.forced.len());
            if given < forced {
                log::say(tr!(
                    "turns {} to {} of the schedule were not needed: every process had ended",
                    given + 1,
                    forced
                ));
            }
        }
        return Ok(());
    }
    log::quiet();
    let mut explorer = Explorer::new();
    let mut runs = 0usize;
    while let Some(prefix) = explorer.next() {
        signals::check_stop()?;
        begin_run(prefix);
        one()?;
        let ran = end_run();
        let new = explorer.learn(&ran);
        runs += usize::from(new);
        log::record("ran", json!({"turns": commas(&ran.turns), "new": new}));
    }
    let shortest = explorer
        .shortest_impossible
        .as_ref()
        .map(|(prefix, n, ..)| commas(&[&prefix[..], &[*n]].concat()));
    let explored = Explored {
        runs,
        impossible: explorer.impossible,
        shortest_impossible: shortest,
        waiting_for: explorer
            .shortest_impossible
            .map(|(_, _, name, holder)| (name, holder)),
        not_replayed: explorer.not_replayed,
    };
    log::record(
        "every_schedule",
        json!({
            "runs": runs,
            "impossible": explored.impossible,
            "shortest_impossible": explored.shortest_impossible,
            "not_replayed": explored.not_replayed,
        }),
    );
    let tally = *TALLY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tally) = tally {
        let records = log::records()?;
        log::prose("");
        tally(&records, &explored)?;
    }
    Ok(())
}

/// What `--every-schedule` found, besides what each run's trace says.
#[derive(Debug)]
pub struct Explored {
    pub runs: usize,
    /// Schedules cut off by a turn given to a process waiting for the lock.
    pub impossible: usize,
    pub shortest_impossible: Option<String>,
    /// In the shortest of those: whose turn, and who held the lock.
    pub waiting_for: Option<(String, String)>,
    pub not_replayed: usize,
}

/// How a lesson reckons all its schedules: from the trace of them all.
pub(crate) type Tally = fn(&[crate::log::Record], &Explored) -> Result<()>;

static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

/// The lesson's frame (the sale, the printers' drawing) says how to reckon.
pub(crate) fn tally_with(tally: Tally) {
    *TALLY.lock().unwrap_or_else(|e| e.into_inner()) = Some(tally);
}

/// Whether the trace is of an `--every-schedule` run, as its first
/// `schedule` record says.
pub fn every_in(records: &[crate::log::Record]) -> bool {
    let first = records.iter().find(|r| r.event == "schedule");
    first.is_some_and(|r| r.fields.get("every").and_then(serde_json::Value::as_bool) == Some(true))
}

/// The records of each run to count, from its `schedule` record on: not
/// a repeat of one counted already (its `ran` record says `new: true`).
pub(crate) fn runs(records: &[crate::log::Record]) -> Vec<&[crate::log::Record]> {
    let starts: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].event == "schedule")
        .collect();
    let ends = starts.iter().skip(1).copied().chain([records.len()]);
    let new = |run: &&[crate::log::Record]| {
        let ran = run.iter().rev().find(|r| r.event == "ran");
        ran.is_some_and(|r| r.fields.get("new").and_then(serde_json::Value::as_bool) == Some(true))
    };
    starts
        .iter()
        .zip(ends)
        .map(|(&a, b)| &records[a..b])
        .filter(new)
        .collect()
}

/// The turns main gave in a run, by number.
pub(crate) fn turns_of(run: &[crate::log::Record]) -> Vec<u32> {
    run.iter()
        .filter(|r| r.event == "turn" && r.who == "main")
        .filter_map(|r| r.fields.get("number")?.as_u64())
        .map(|n| n as u32)
        .collect()
}

/// The command that replays `schedule`: this one, with `--schedule`
/// instead of `--every-schedule`, and `also` (options it must give).
pub(crate) fn replay(schedule: &[u32], also: &[String]) -> String {
    let mut args: Vec<String> = std::env::args().collect();
    let program = args.remove(0);
    let name = std::path::Path::new(&program)
        .file_name()
        .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
    args.retain(|a| a != "--every-schedule");
    args.extend(also.iter().cloned());
    args.extend(["--schedule".to_owned(), commas(schedule)]);
    let quoted: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
    format!("cargo run -q -p {name} -- {}", quoted.join(" "))
}

/// `word` as a shell takes it: in single quotes unless it needs none.
pub(crate) fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `--every-schedule`: every schedule there is, found by running them. Each
/// run's turns go as its prefix says, then lowest number first; every other
/// choice it met after its prefix (another child at a sleep point) becomes
/// a prefix to run, and every child it met waiting for the lock, a schedule
/// the lock made impossible. Each choice is so met by exactly one run.
#[derive(Debug, Default)]
pub(crate) struct Explorer {
    to_run: Vec<Vec<u32>>,
    seen: HashSet<Vec<u32>>,
    pub(crate) impossible: usize,
    pub(crate) shortest_impossible: Option<(Vec<u32>, u32, String, String)>,
    /// Prefixes whose forced turns could not all be given again: the kernel
    /// gave the lock to another than in the run that found them.
    pub(crate) not_replayed: usize,
}

impl Explorer {
    pub(crate) fn new() -> Explorer {
        Explorer {
            to_run: vec![Vec::new()],
            ..Explorer::default()
        }
    }

    pub(crate) fn next(&mut self) -> Option<Vec<u32>> {
        self.to_run.pop()
    }

    /// Learns from a run; false if it repeated one already counted.
    pub(crate) fn learn(&mut self, ran: &Ran) -> bool {
        // A run cut off its prefix is no guide: the choices after its
        // divergence are met again by the runs that reach them as found.
        self.not_replayed += usize::from(ran.diverged.is_some());
        let from = match ran.diverged {
            Some(_) => ran.turns.len(),
            None => ran.forced.min(ran.turns.len()),
        };
        // Pushed shallow first and largest first: the next run popped is the
        // deepest, lowest choice, so the schedules come in order.
        for at in from..ran.turns.len() {
            let point = &ran.points[at];
            let prefix = &ran.turns[..at];
            for &other in point.ready.iter().rev().filter(|&&n| n != ran.turns[at]) {
                self.to_run.push([prefix, &[other]].concat());
            }
            for (number, name, holder) in &point.blocked {
                self.impossible += 1;
                let shorter = self
                    .shortest_impossible
                    .as_ref()
                    .is_none_or(|(p, ..)| p.len() > prefix.len());
                if shorter {
                    let found = (prefix.to_vec(), *number, name.clone(), holder.clone());
                    self.shortest_impossible = Some(found);
                }
            }
        }
        self.seen.insert(ran.turns.clone())
    }
}

/// How many schedules `buyers` buyers and `tickets` tickets have without a
/// lock: each buyer passes one sleep point before it reads the count, and a
/// second before it writes back what it read less one, unless it read 0.
/// For the refusal of sizes too large to run them all.
pub(crate) fn count_without_lock(buyers: u32, tickets: u64) -> u128 {
    fn count(file: u64, buyers: &mut Vec<Option<Option<u64>>>) -> u128 {
        // A buyer: Some(None) before its first point, Some(Some(n)) holding
        // the count n it read, None done.
        let mut total = 0u128;
        let mut any = false;
        for i in 0..buyers.len() {
            let before = buyers[i];
            let (file, after) = match before {
                None => continue,
                Some(None) if file == 0 => (file, None),
                Some(None) => (file, Some(Some(file))),
                Some(Some(read)) => (read - 1, None),
            };
            any = true;
            buyers[i] = after;
            total = total.saturating_add(count(file, buyers));
            buyers[i] = before;
        }
        if any { total } else { 1 }
    }
    if buyers > 8 || tickets > 8 {
        return u128::MAX;
    }
    count(tickets, &mut vec![Some(None); buyers as usize])
}

/// `--every-schedule` for `n` processes with one sleep point each: `n!`.
/// Also a `--schedule` that names a process beyond the `n` there will be.
pub(crate) fn check_size(n: u32, option: &str) -> Result<()> {
    let beyond = plan().order.iter().flatten().copied().find(|&k| k > n);
    if let Some(k) = beyond {
        return Err(Usage(tr!(
            "--schedule names process {}, but {} {} starts only {}",
            k,
            option,
            n,
            n
        ))
        .into());
    }
    if every() && n > MAX_PROCESSES {
        let runs: u128 = (1..=u128::from(n.min(30))).product();
        return Err(Usage(tr!(
            "--every-schedule runs every schedule, one run each: at most {} processes ({} {} could \
             take up to {} runs)",
            MAX_PROCESSES,
            option,
            n,
            runs
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_read_with_their_holder() {
        let text = "1: FLOCK  ADVISORY  WRITE 100 fe:00:12 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 101 fe:00:12 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 102 fe:00:12 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 200 00:1b:5 0 EOF\n\
                    2: -> POSIX  ADVISORY  WRITE 201 00:1b:5 0 EOF\n";
        assert_eq!(waiters_in(text), [(101, 100), (102, 100), (201, 200)]);
    }

    #[test]
    fn schedules_parse_and_refuse() {
        assert_eq!(order("1,2, 1,2"), Ok(Order(vec![1, 2, 1, 2])));
        for bad in ["", "0", "1,,2", "x", "1,-2", "4001"] {
            assert!(order(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_count_without_a_lock_follows_the_steps() {
        // One buyer: its two points, in one order.
        assert_eq!(count_without_lock(1, 1), 1);
        // Two buyers, one ticket: 1,1,2 2,2,1 and the four orders of two
        // reads then two writes.
        assert_eq!(count_without_lock(2, 1), 6);
        // Nothing to buy: each passes one point.
        assert_eq!(count_without_lock(3, 0), 6);
    }
}
