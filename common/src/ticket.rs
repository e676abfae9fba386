//! The ticket office's frame: its options, `ticket.json` read and checked
//! and written whole, the tally of how the buyers ended, and the reckoning.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::lesson::{self, About, Options};
use crate::process::{Ended, IntoExitStatus};
use crate::{Context, Result, log, system};

/// The most tickets a file may hold.
pub const MAX_TICKETS: u64 = 1_000_000;
/// The most buyers: below the lessons' limit on children at once.
pub const MAX_BUYERS: u32 = 4000;
/// A buyer's exit status when it found the tickets sold out.
pub const SOLD_OUT: i32 = 3;

#[derive(Debug, clap::Parser)]
pub struct Args {
    /// The ticket office's whole database, a JSON file like {"count": 3}
    #[arg(long, value_name = "PATH", default_value = "ticket.json")]
    pub file: PathBuf,

    /// Put N tickets in the file first (other fields are kept); without it an
    /// existing file is used as it is, and a missing one gets 3
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(0..=MAX_TICKETS))]
    pub tickets: Option<u64>,

    /// How many buyers (processes buyer-1, buyer-2, …) try to buy a ticket
    #[arg(long, value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BUYERS)))]
    pub buyers: u32,

    /// Hold the whole sale N times, from the same number of tickets each time,
    /// and count the runs that oversold
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,

    /// Make each write durable against a power cut (fsync the file and its directory)
    #[arg(long)]
    pub fsync: bool,

    #[command(flatten)]
    pub options: Options,
}

/// How a buyer ended; its exit status tells its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Bought,
    SoldOut,
}

impl IntoExitStatus for Outcome {
    fn into_exit_status(self) -> i32 {
        match self {
            Outcome::Bought => 0,
            Outcome::SoldOut => SOLD_OUT,
        }
    }
}

/// The buyers' endings, as their parent learned them from `waitpid`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sale {
    pub bought: u64,
    pub sold_out: u64,
    /// Failed, panicked or killed.
    pub errors: u64,
}

impl Sale {
    /// Counts one buyer by its exit status.
    pub fn tally(&mut self, ended: Ended) {
        match ended {
            Ended::Exited(0) => self.bought += 1,
            Ended::Exited(SOLD_OUT) => self.sold_out += 1,
            _ => self.errors += 1,
        }
    }
}

/// The tickets as the file holds them: the count, and whatever else the
/// file says, kept as it was and where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Tickets {
    pub count: u64,
    fields: Map<String, Value>,
}

/// The ticket office: a JSON file that every process opens by itself.
#[derive(Debug)]
pub struct Office {
    path: PathBuf,
    fsync: bool,
}

impl Office {
    pub fn new(path: &Path, fsync: bool) -> Office {
        Office {
            path: path.to_owned(),
            fsync,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and checks the file; an error names the file and the problem.
    pub fn read(&self) -> Result<Tickets> {
        let name = self.path.display();
        let bytes = fs::read(&self.path)
            .map_err(|e| format!("{name}: cannot read it: {}", describe(&e)))?;
        parse(&bytes).map_err(|problem| format!("{name}: {problem}").into())
    }

    /// Replaces the file with `tickets`, whole: written to a new file beside
    /// it, then renamed over it, so a reader sees the old file or the new
    /// one, never half of one.
    pub fn write(&self, tickets: &Tickets) -> Result<()> {
        let mut object = tickets.fields.clone();
        object.insert("count".to_owned(), tickets.count.into());
        let mut text = Value::Object(object).to_string();
        text.push('\n');
        let temporary = self.temporary(std::process::id());
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                if self.fsync {
                    f.sync_all()?;
                }
                Ok(())
            })
            .and_then(|()| fs::rename(&temporary, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(e).context(format!("writing {}", self.path.display()));
        }
        if self.fsync {
            File::open(self.directory())
                .and_then(|d| d.sync_all())
                .context(format!("syncing the directory of {}", self.path.display()))?;
        }
        Ok(())
    }

    /// The file's state at the start: checked, or made with `tickets`.
    fn open(&self, tickets: Option<u64>) -> Result<Tickets> {
        let existing = match self.read() {
            Ok(t) => Some(t),
            Err(_) if !self.path.exists() && !self.path.is_symlink() => None,
            Err(e) => return Err(e),
        };
        match (existing, tickets) {
            (Some(t), None) => Ok(t),
            (t, count) => {
                let tickets = Tickets {
                    count: count.unwrap_or(3),
                    fields: t.map(|t| t.fields).unwrap_or_default(),
                };
                self.write(&tickets)?;
                Ok(tickets)
            }
        }
    }

    fn directory(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// The new version a process writes before renaming it over the file.
    fn temporary(&self, pid: u32) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map_or_else(|| "ticket".into(), |n| n.to_string_lossy());
        self.directory().join(format!(".{name}.{pid}.tmp"))
    }

    /// Removes the new versions left behind by writers killed mid-write
    /// (whose pid no longer runs).
    fn sweep(&self) {
        let Some(name) = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            return;
        };
        let Ok(entries) = fs::read_dir(self.directory()) else {
            return;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let pid = file
                .strip_prefix(&format!(".{name}."))
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .and_then(|pid| pid.parse::<i32>().ok());
            if pid.is_some_and(|pid| system::process(pid).is_none_or(|p| p.is_zombie())) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(nix::libc::EISDIR) => "it is a directory".to_owned(),
        _ => e.kind().to_string().to_lowercase(),
    }
}

/// Checks the file's bytes; the error says what is wrong, in one line.
fn parse(bytes: &[u8]) -> std::result::Result<Tickets, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("it is empty, not JSON like {\"count\": 3}".to_owned());
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not JSON ({e})"))?;
    let Value::Object(fields) = value else {
        return Err(format!(
            "it holds {value}, not an object like {{\"count\": 3}}"
        ));
    };
    let count = match fields.get("count").cloned() {
        None => return Err("it has no \"count\"".to_owned()),
        Some(Value::Number(n)) if n.is_u64() => n.as_u64().unwrap_or(u64::MAX),
        Some(Value::Number(n)) if n.is_i64() => {
            return Err(format!("\"count\" is {n}: a count cannot be negative"));
        }
        Some(other) => return Err(format!("\"count\" is {other}, not a whole number")),
    };
    if count > MAX_TICKETS {
        return Err(format!(
            "\"count\" is {count}, more than the {MAX_TICKETS} tickets we accept"
        ));
    }
    Ok(Tickets { count, fields })
}

/// What the sale left: the file against the buyers' exit statuses.
#[derive(Debug, Clone, Copy)]
struct Reckoning {
    initial: u64,
    left: Option<u64>,
    sale: Sale,
}

impl Reckoning {
    fn oversold(&self) -> u64 {
        self.sale.bought.saturating_sub(self.initial)
    }

    fn balanced(&self) -> bool {
        self.left
            .is_some_and(|left| self.sale.bought + left == self.initial)
    }

    fn verdict(&self) -> String {
        let Sale {
            bought,
            sold_out,
            errors,
        } = self.sale;
        let file_says = self
            .left
            .map_or_else(|| "no readable count".to_owned(), |l| format!("{l} left"));
        let mut text = format!(
            "{} tickets at the start, the file says {file_says}; {bought} buyers were told \
             \"bought\", {sold_out} \"sold out\", {errors} failed.",
            self.initial
        );
        match self.left {
            _ if self.oversold() > 0 => {
                text += &format!(
                    " OVERSOLD: {bought} buyers hold a ticket, but only {} existed.",
                    self.initial
                );
            }
            Some(left) if self.balanced() => {
                text += &format!(
                    " Every ticket is accounted for: {bought} bought + {left} left == {}.",
                    self.initial
                );
            }
            Some(left) => {
                text += &format!(
                    " The count is off: {bought} bought + {left} left != {}.",
                    self.initial
                );
            }
            None => {}
        }
        text
    }
}

/// Runs a ticket lesson. `body` starts the buyers (their names given) and
/// returns their tally; the frame prepares the file, repeats the sale for
/// `--runs`, and reckons each one.
pub fn lesson(about: About, body: impl Fn(&Office, Vec<String>) -> Result<Sale>) -> ExitCode {
    lesson::run(
        about,
        |args: &Args| &args.options,
        |args| {
            lesson::check_room(args.buyers, "--buyers")?;
            let office = Office::new(&args.file, args.fsync);
            let start = office.open(args.tickets)?;
            let names: Vec<String> = (1..=args.buyers).map(|i| format!("buyer-{i}")).collect();
            if args.runs > 1 {
                log::quiet();
            }
            let mut reckonings = Vec::new();
            for run in 1..=args.runs {
                if run > 1 {
                    office.write(&start)?;
                }
                crate::trace_with(
                    "sale",
                    json!({"run": run, "initial": start.count, "buyers": args.buyers}),
                );
                let sale = body(&office, names.clone())?;
                office.sweep();
                let left = office.read();
                let reckoning = Reckoning {
                    initial: start.count,
                    left: left.as_ref().ok().map(|t| t.count),
                    sale,
                };
                crate::trace_with(
                    "summary",
                    json!({"initial": start.count, "left": reckoning.left, "bought": sale.bought,
                           "sold_out": sale.sold_out, "errors": sale.errors}),
                );
                let prefix = if args.runs > 1 {
                    format!("run {run}: ")
                } else {
                    "\nReckoning: ".to_owned()
                };
                log::plain(format!("{prefix}{}", reckoning.verdict()));
                if let Err(e) = left {
                    return Err(format!("the file went bad during the sale: {e}").into());
                }
                reckonings.push(reckoning);
            }
            if args.runs > 1 {
                let oversold = reckonings.iter().filter(|r| r.oversold() > 0).count();
                let most = reckonings
                    .iter()
                    .map(Reckoning::oversold)
                    .max()
                    .unwrap_or(0);
                let off = reckonings.iter().filter(|r| !r.balanced()).count();
                log::plain(format!(
                    "\n{oversold} of {} runs oversold (by {most} tickets at most); the count was off in {off}.",
                    args.runs
                ));
            }
            Ok(())
        },
        |_, _| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_files_parse_and_keep_their_other_fields() {
        let t = parse(br#"{"event": "concert", "count": 3, "z": [1]}"#).expect("parses");
        assert_eq!(t.count, 3);
        let mut object = t.fields.clone();
        object.insert("count".to_owned(), 2.into());
        assert_eq!(
            Value::Object(object).to_string(),
            r#"{"event":"concert","count":2,"z":[1]}"#
        );
    }

    #[test]
    fn bad_files_are_refused_in_one_line() {
        for (bytes, says) in [
            (&b""[..], "empty"),
            (b"  \n", "empty"),
            (b"{\"count\": 3", "not JSON"),
            (b"[3]", "not an object"),
            (b"{\"tickets\": 3}", "no \"count\""),
            (b"{\"count\": -1}", "negative"),
            (b"{\"count\": 2.5}", "not a whole number"),
            (b"{\"count\": \"3\"}", "not a whole number"),
            (b"{\"count\": 10000000000}", "more than"),
            (b"{\"count\": 1e3}", "not a whole number"),
        ] {
            let problem = parse(bytes).expect_err("refused");
            assert!(
                problem.contains(says) && !problem.contains('\n'),
                "{problem:?}"
            );
        }
    }
}
