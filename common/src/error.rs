//! The one kind of error every lesson meets: its `Display` is the one line
//! the learner reads.

use std::fmt::Display;

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

/// A value the command line allowed but this system cannot take: reported
/// like a bad option, with exit status 2.
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", tr!("{} (see --help)", self.0))
    }
}

impl std::error::Error for Usage {}
