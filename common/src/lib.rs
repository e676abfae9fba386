//! What every lesson shares, so that a lesson's `main.rs` reads like the notes.
//!
//! The notes use Python's `multiprocessing`: `Process(target=…)`, `start`,
//! `join`, `Lock`, `acquire`, `release`. This crate gives the same words over
//! real Unix calls (`fork`, `waitpid`, `flock`), and keeps everything else out
//! of the lessons: the `unsafe` of `fork`, flushing, reaping on every path,
//! logging with pids, trace events, options and drawing.

#![allow(unsafe_code)] // the only crate allowed to: fork, signal handlers, _exit

pub mod channel;
pub mod lesson;
pub mod lock;
pub mod log;
pub mod orphan;
pub mod printer;
pub mod process;
pub mod system;
pub mod testing;
pub mod ticket;
pub mod timing;
pub mod zombie;

use std::fmt::Display;

pub use channel::Channel;
pub use lesson::heading;
pub use lesson::{About, Options};
pub use lock::{Guard, Lock};
pub use log::{say, say_with, trace, trace_with};
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;
pub use process::{Ended, Process, spawn};
pub use serde_json::json;
pub use timing::sleep_like_seed;

/// Any error a lesson can meet; its `Display` is the one line the learner reads.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T = ()> = std::result::Result<T, Error>;

/// Adds what was being done to an error, so the learner reads
/// `opening /tmp/x: Permission denied` rather than a bare `Permission denied`.
pub trait Context<T> {
    fn context(self, doing: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, doing: impl Display) -> Result<T> {
        self.map_err(|e| format!("{doing}: {e}").into())
    }
}

/// The name and one-line description of the lesson crate that calls it, for `--help`.
#[macro_export]
macro_rules! about {
    () => {
        $crate::About {
            name: env!("CARGO_PKG_NAME"),
            description: env!("CARGO_PKG_DESCRIPTION"),
        }
    };
}
