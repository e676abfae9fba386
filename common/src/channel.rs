//! A pipe that carries small numbers from one process to another: how a
//! child says "done" (or "here is my child's pid") without the receiver
//! guessing with sleeps.

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};

use anyhow::ensure;

use crate::error::{Context, Result};
use crate::signals;

/// Make it before `fork`; the child `send`s, the parent `recv`s.
#[derive(Debug)]
pub struct Channel {
    read: File,
    write: RefCell<Option<File>>,
}

impl Channel {
    pub fn new() -> Result<Channel> {
        let (read, write) = nix::unistd::pipe().context("pipe")?;
        Ok(Channel {
            read: read.into(),
            write: RefCell::new(Some(write.into())),
        })
    }

    /// Four bytes: one `write`, well under the pipe's atomic size.
    pub fn send(&self, value: i32) -> Result<()> {
        let mut write = self.write.borrow_mut();
        let end = write.as_mut().context("this end of the channel receives")?;
        end.write_all(&value.to_ne_bytes())
            .context("writing to a pipe")
    }

    /// `None` if every sender is gone without sending. The receiver gives up
    /// its own write end first, or it would wait for itself forever.
    pub fn recv(&self) -> Result<Option<i32>> {
        self.write.borrow_mut().take();
        let (mut bytes, mut got) = ([0u8; 4], 0);
        while got < bytes.len() {
            match (&self.read).read(&mut bytes[got..]) {
                Ok(0) => return Ok(None),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    ensure!(!signals::stopping(), tr!("stopped while waiting"));
                }
                Err(e) => return Err(e).context("reading from a pipe"),
            }
        }
        Ok(Some(i32::from_ne_bytes(bytes)))
    }
}
