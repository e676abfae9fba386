//! The one kind of error every lesson meets (`anyhow`'s): shown with `{:#}`,
//! its chain of contexts is the one line the learner reads, as in
//! `opening /tmp/x: Permission denied`.

pub use anyhow::{Context, Error, anyhow};

pub type Result<T = ()> = anyhow::Result<T>;

/// The exit status of a child that panicked: Rust's own convention.
pub(crate) const EXIT_PANIC: i32 = 101;

/// A value the command line allowed but this system cannot take: reported
/// like a bad option, with exit status 2.
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", tr!("{} (see --help)", self.0))
    }
}

impl std::error::Error for Usage {}
