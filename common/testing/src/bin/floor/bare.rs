//! What every floor shares: a scratch directory with the trace in it, one
//! `write` per record or line, and the bare `fork`, `flock` and `_exit`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::time::Instant;

use nix::libc;
use nix::unistd::{ForkResult, Pid};

/// The scratch directory (`floor-PID` in the temporary directory, where
/// the lessons make theirs) and the trace file in it, opened for appending
/// before any fork, as the lessons do: every child writes to it.
#[derive(Debug)]
pub struct Out {
    pub dir: PathBuf,
    trace: File,
    began: Instant,
    made: Vec<PathBuf>,
    /// Who made it, and so who removes it should the floor end early.
    maker: u32,
}

impl Out {
    /// `mkdir` and `open`.
    pub fn new() -> io::Result<Out> {
        let dir = std::env::temp_dir().join(format!("floor-{}", std::process::id()));
        fs::create_dir(&dir)?;
        let path = dir.join("trace.jsonl");
        let trace = OpenOptions::new().append(true).create(true).open(&path)?;
        let began = Instant::now();
        Ok(Out {
            dir,
            trace,
            began,
            made: vec![path],
            maker: std::process::id(),
        })
    }

    /// A file made in the scratch directory, removed with it.
    pub fn made(&mut self, path: PathBuf) {
        self.made.push(path);
    }

    /// One trace record, a JSON object on a line, in one `write`.
    pub fn record(&self, who: &str, event: &str, fields: &str) -> io::Result<()> {
        let t = self.began.elapsed().as_secs_f64();
        let comma = if fields.is_empty() { "" } else { "," };
        let text =
            format!("{{\"t\":{t:.6},\"who\":\"{who}\",\"event\":\"{event}\"{comma}{fields}}}\n");
        write_all(&self.trace, text.as_bytes())
    }

    /// One line of output, stamped as the lessons stamp theirs, in one `write`.
    pub fn line(&self, who: &str, text: &str) -> io::Result<()> {
        let t = self.began.elapsed().as_secs_f64();
        self.plain(&format!("{t:7.3}s   {who:<9} {text}"))
    }

    /// One line of output as it is, in one `write`.
    pub fn plain(&self, text: &str) -> io::Result<()> {
        write_all(io::stdout(), format!("{text}\n").as_bytes())
    }

    /// `unlink` what was made, then `rmdir`: a floor leaves nothing behind.
    pub fn finish(mut self) -> io::Result<()> {
        for path in std::mem::take(&mut self.made) {
            fs::remove_file(path)?;
        }
        fs::remove_dir(&self.dir)
    }
}

impl Drop for Out {
    /// A floor that ends on an error, before `finish`, leaves nothing
    /// behind either. Only in the process that made the directory: a child
    /// that returned here instead of `_exit`ing must not take it from its
    /// parent.
    fn drop(&mut self) {
        if !self.made.is_empty() && self.maker == std::process::id() {
            for path in &self.made {
                let _ = fs::remove_file(path);
            }
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// `write`, once unless the kernel takes less.
pub fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = nix::unistd::write(&fd, bytes)?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// `fork`: `Some(pid)` in the parent, `None` in the child.
pub fn fork() -> io::Result<Option<Pid>> {
    // SAFETY: the floors are single-threaded; a child makes system calls
    // and allocates, which a single-threaded parent leaves it free to do.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(Some(child)),
        ForkResult::Child => Ok(None),
    }
}

/// `_exit`: the kernel closes whatever is still open, so no `close` first.
pub fn exit_now(status: i32) -> ! {
    // SAFETY: ends this process at once, running nothing of it.
    unsafe { libc::_exit(status) }
}

/// `flock(fd, op)`, with `libc::LOCK_EX` or `libc::LOCK_UN`.
pub fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor this process holds open.
    match unsafe { libc::flock(file.as_raw_fd(), op) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
