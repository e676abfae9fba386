//! `--pause`: for a class, a lesson holds each step worth looking at until
//! Enter, and says what to run in another terminal to see it. Each step
//! holds once a run, whichever process reaches it first.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;

use crate::error::{Result, Usage, anyhow};
use crate::{log, scratch, signals};

static ON: AtomicBool = AtomicBool::new(false);

pub(crate) fn enable() {
    ON.store(true, Ordering::SeqCst);
}

pub(crate) fn on() -> bool {
    ON.load(Ordering::SeqCst)
}

/// With `--pause`, the first process of this run to reach `step` says
/// `what` there is to see and the command to `look` at it with, then waits
/// for Enter (or the end of standard input).
pub fn pause(step: &str, what: &str, look: &str) -> Result<()> {
    if !on() || !first_at(step) {
        return Ok(());
    }
    // The times that follow include the learner's look: the trace says so.
    log::record("pause", serde_json::json!({ "step": step }));
    log::say(tr!("PAUSED: {}", what));
    log::say_command(tr!("  look from another terminal: {}", look), look);
    log::say(tr!("  press Enter to go on"));
    // No answer is awaited, only a key: a line too long (`< /dev/zero`) goes
    // on as Enter does, in whichever process holds the step.
    match read_line() {
        Err(e) if e.is::<Usage>() => Ok(()),
        read => read.map(drop),
    }
}

/// True for the one process of this run that makes the step's mark, a file
/// in the lesson's private directory (`O_CREAT | O_EXCL`).
fn first_at(step: &str) -> bool {
    let Ok(dir) = scratch::dir() else { return true };
    let made = std::fs::File::create_new(dir.join(format!("paused-{step}")));
    !made.is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
}

/// The longest line an answer or an Enter may be: a longer one (say from
/// `/dev/zero`) is bad input, not something to keep reading.
const MAX_LINE: usize = 1024;

/// Reads standard input up to a newline; `None` at its end. Not with
/// `std`'s `read_line`, which retries a read cut by a signal: Ctrl-C must
/// end it, also when reads never block (a file, `/dev/zero`). One byte at
/// a time, so that nothing after the line is taken from the next reader (a
/// pipe of answers, one a line).
pub(crate) fn read_line() -> Result<Option<String>> {
    let (mut byte, mut line) = ([0u8; 1], Vec::new());
    loop {
        signals::check_stop()?;
        if line.len() > MAX_LINE {
            let why = tr!("a line of standard input is longer than {} bytes", MAX_LINE);
            return Err(Usage(why).into());
        }
        match nix::unistd::read(std::io::stdin(), &mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(1) if byte[0] != b'\n' => line.push(byte[0]),
            Ok(_) => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            Err(Errno::EINTR) if !signals::stopping() => {}
            Err(Errno::EINTR) => return signals::check_stop().map(|()| None),
            Err(e) => return Err(anyhow!(tr!("reading standard input: {}", e.desc()))),
        }
    }
}
