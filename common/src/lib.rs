//! What the lessons share: spawning children and reaping them on every path,
//! passing Ctrl-C on, logging with pids, the trace, the drawing and the
//! reckoning, the options, and all the `unsafe`.
//!
//! The notes use Python's `multiprocessing`: `Process(target=…)`, `start`,
//! `join`, `Lock`, `acquire`, `release`. This crate gives the same words over
//! real Unix calls (`fork`, `wait4`, `flock`), and wrappers named after the
//! calls they make (`waitid_wnowait`, `Child::wait4`, `Child::kill`), so a
//! lesson reads like the notes, or like a C program, and keeps its Unix.
//!
//! Layers, each using only those before it: `wrap` and `error`; `i18n`
//! and `signals` (the stop flag, passing signals on); `log` and `channel`;
//! `timing`; `system` (the process table); `file`; `scratch` (each run's
//! private directory); `pause`; `schedule` (the turns at the sleep points);
//! `quiz` and `lock`; `child` (fork, wait,
//! kill); `flood` (the zombie flood's guard rails); `lesson` (the frame)
//! and `timeline` (the printers' drawing); `sale` (the ticket office's
//! reckoning).

#![allow(unsafe_code)] // the only lesson crate allowed to: fork, signal handlers, _exit

// First, so that its `tr!` is in scope in every module after it.
#[macro_use]
pub mod i18n;

mod channel;
mod error;
mod lesson;
mod lock;
mod pause;
pub mod quiz;
mod schedule;
mod scratch;
mod signals;

pub mod child;
pub mod file;
pub mod flood;
pub mod log;
pub mod sale;
pub mod system;
pub mod timeline;
pub mod timing;
pub mod wrap;

pub use channel::Channel;
pub use child::{Fork, Process, fork, spawn, waitid_wnowait};
pub use error::{Context, Result, anyhow};
pub use lesson::{Options, check_room, heading, run};
pub use lock::{Guard, Lock, Opened};
pub use log::{event, record, say};
pub use pause::pause;
pub use schedule::{Turns, sleep_like_seed};
pub use signals::{check_stop, ignored, stopping};
