//! The ticket office's frame: its options, the checks on `ticket.json`, the
//! stock at the start of each sale, and the reckoning of the file against
//! how the buyers ended.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::child::{Ended, IntoExitStatus};
use crate::error::Result;
use crate::error::anyhow;
use crate::log::{Record, plural};
use crate::quiz::{Question, Verdict, When, choices};
use crate::{file, lesson, log};

/// The most tickets a file may hold.
const MAX_TICKETS: u64 = 1_000_000;
/// The most buyers: below the lessons' limit on children at once.
const MAX_BUYERS: u32 = 4000;
/// A buyer's exit status when it found the tickets sold out.
const SOLD_OUT: i32 = 3;

/// The ticket office, as the options of both ticket lessons give it: flatten
/// it into the lesson's `Args`.
#[derive(Debug, Clone, clap::Args)]
pub struct Office {
    /// The ticket office's whole database, a JSON file like {"count": 3}
    #[arg(long, value_name = "PATH", default_value = "ticket.json", value_parser = real_path)]
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
}

/// `--file`: a symbolic link is followed once, here, so that the lock file
/// and the temporary files sit beside the real file, the one updated, and a
/// run through the link and one through the real name share one lock.
fn real_path(arg: &str) -> std::result::Result<PathBuf, String> {
    if arg.is_empty() {
        return Err(tr!("give a path"));
    }
    let path = PathBuf::from(arg);
    if !path.is_symlink() {
        return Ok(path);
    }
    std::fs::canonicalize(&path).map_err(|e| {
        tr!(
            "{} is a symbolic link to nothing that can be reached ({})",
            arg,
            e
        )
    })
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

/// `json.dump` of a buyer's count: the file replaced whole
/// ([`file::replace`]). With `--pause`, the first buyer to write back
/// without a lock holds there, showing the lost update in the making: what
/// it worked out from a count read before its network delay, against what
/// the file says now.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    if crate::pause::on() && log::who() != "main" && !crate::lock::made() {
        let now = file::read_small(path).map_or_else(|e| format!("{e:#}"), |b| shown(&b));
        crate::pause(
            "write",
            &tr!(
                "{} is about to write back {}, worked out from a count read before its network \
                 delay; the file says {} now, and the other buyers go on buying",
                log::who(),
                shown(bytes),
                now
            ),
            &format!("cat {}", pasteable(path)),
        )?;
    }
    file::replace(path, bytes)
}

/// `path` as a shell takes it: in single quotes unless it needs none.
fn pasteable(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A file's text on one line, cut short if long.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reads the ticket file: one JSON object, or an error that names the file
/// and says in one line what is wrong.
pub fn read_json_object(path: &Path) -> Result<Map<String, Value>> {
    let bytes = file::read_small(path)?;
    json_object(&bytes).map_err(|problem| anyhow!("{}: {problem}", path.display()))
}

fn json_object(bytes: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(tr!("it is empty, not JSON like {{\"count\": 3}}"));
    }
    match serde_json::from_slice(bytes) {
        Ok(Strict(Value::Object(dic))) => Ok(dic),
        Ok(Strict(value)) => Err(tr!(
            "it holds {}, not an object like {{\"count\": 3}}",
            shortened(&value.to_string())
        )),
        Err(e) if e.is_data() => {
            // serde_json ends its message with where: " at line 1 column 18".
            let (line, column) = (e.line(), e.column());
            let text = e.to_string();
            let at = format!(" at line {line} column {column}");
            Err(match text.strip_suffix(&at) {
                Some(what) => tr!(
                    "it is ambiguous: {} at line {} column {}",
                    what,
                    line,
                    column
                ),
                None => tr!("it is ambiguous: {}", e),
            })
        }
        Err(e) => Err(tr!("it is not JSON ({})", e)),
    }
}

/// `text`, or its first 40 characters and "…": an error is one short line.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A JSON value read with the keys of every object checked: serde_json
/// would keep the last of two values of one key, and drop the other.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(json: D) -> std::result::Result<Self, D::Error> {
        json.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let twice = tr!("the key \"{}\" is there twice, with two values", key);
                return Err(serde::de::Error::custom(twice));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The ticket file's `"count"`, checked: a whole number of tickets, at most
/// [`MAX_TICKETS`]; the error says in one line what is wrong.
pub fn check_count(dic: &Map<String, Value>) -> std::result::Result<u64, String> {
    let count = match dic.get("count") {
        None => return Err(tr!("it has no \"count\"")),
        Some(Value::Number(n)) if n.is_u64() => n.as_u64().unwrap_or(u64::MAX),
        Some(Value::Number(n)) if n.is_i64() => {
            return Err(tr!("\"count\" is {}: a count cannot be negative", n));
        }
        Some(other) => return Err(tr!("\"count\" is {}, not a whole number", other)),
    };
    if count > MAX_TICKETS {
        return Err(tr!(
            "\"count\" is {}, more than the {} tickets we accept",
            count,
            MAX_TICKETS
        ));
    }
    Ok(count)
}

/// The file `path`, read and checked, and the count it holds.
fn read_checked(path: &Path) -> Result<(u64, Map<String, Value>)> {
    let dic = read_json_object(path)?;
    match check_count(&dic) {
        Ok(count) => Ok((count, dic)),
        Err(problem) => Err(anyhow!(format!("{}: {problem}", path.display()))),
    }
}

/// Holds the sale: checks there is room for the buyers, stocks the file,
/// runs `sale` (which starts the buyers and returns how each ended), and
/// reckons the file against them; `--runs` times over.
pub fn hold(options: &Office, mut sale: impl FnMut() -> Result<Vec<Ended>>) -> Result<()> {
    lesson::check_room(options.buyers, "--buyers")?;
    file::durable(options.fsync);
    let path = options.file.as_path();
    let (initial, start) = stock(path, options.tickets)?;
    if options.runs > 1 {
        log::quiet();
    }
    let mut reckonings = Vec::new();
    for run in 1..=options.runs {
        if run > 1 {
            file::replace(path, &text(&start))?;
        }
        let buyers = options.buyers;
        log::record(
            "sale",
            json!({"run": run, "initial": initial, "buyers": buyers}),
        );
        let mut tally = Tally::default();
        for ended in sale()? {
            tally.count(ended);
        }
        file::sweep(path);
        let left = read_checked(path).map(|(count, _)| count);
        let reckoning = Reckoning {
            initial,
            left: left.as_ref().ok().copied(),
            tally,
        };
        log::record(
            "summary",
            json!({"initial": initial, "left": reckoning.left, "bought": tally.bought,
                   "sold_out": tally.sold_out, "errors": tally.errors}),
        );
        log::prose(if options.runs > 1 {
            tr!("run {}: {}", run, reckoning.verdict())
        } else {
            tr!("\nReckoning: {}", reckoning.verdict())
        });
        if let Err(e) = left {
            let e = format!("{e:#}");
            return Err(anyhow!(tr!("the file went bad during the sale: {}", e)));
        }
        reckonings.push(reckoning);
    }
    if options.runs > 1 {
        let oversold = reckonings.iter().filter(|r| r.oversold() > 0).count();
        let most = reckonings.iter().map(Reckoning::oversold).max();
        let off = reckonings.iter().filter(|r| !r.balanced()).count();
        log::prose(tr!(
            "\n{} of {} runs oversold (by {} at most); in {}, tickets sold and tickets left \
             did not add up to the start.",
            oversold,
            options.runs,
            plural(most.unwrap_or(0), "ticket", "tickets"),
            off
        ));
    }
    Ok(())
}

/// The first sale, as its `sale` record says: the tickets at its start,
/// the buyers, how many can be sold and how many are then left; and
/// whether a lock kept the buyers apart.
fn first_sale(records: &[Record]) -> (u64, u64, u64, u64, bool) {
    let sale = records.iter().find(|r| r.event == "sale");
    let field = |name: &str| sale.and_then(|r| r.fields.get(name)?.as_u64()).unwrap_or(0);
    let (initial, buyers) = (field("initial"), field("buyers"));
    let sold = initial.min(buyers);
    let locked = records.iter().any(|r| r.event == "lock");
    (initial, buyers, sold, initial - sold, locked)
}

/// The reckoning of the first sale, as its `summary` record says: how many
/// buyers were told "bought", and the count the file was left with (`None`:
/// it could not be read).
fn first_summary(records: &[Record]) -> Option<(u64, Option<u64>)> {
    let summary = records.iter().find(|r| r.event == "summary")?;
    let bought = summary.fields.get("bought")?.as_u64()?;
    Some((bought, summary.fields.get("left").and_then(Value::as_u64)))
}

/// How many buyers will be told "bought"? Asked before the first buyer
/// starts; judged against the first sale: with a lock, the count is
/// certain; without one, what the run showed, and where the sleeps happened
/// not to overlap (full speed), the answer the notes expect too.
pub const BOUGHT: Question = Question {
    id: "ticket.bought",
    when: When::Start,
    ask: |records| {
        let (initial, buyers, sold, _, locked) = first_sale(records);
        (
            tr!(
                "{} and {}{}: how many buyers will be told \"bought\"?",
                plural(initial, "ticket", "tickets"),
                plural(buyers, "buyer", "buyers"),
                if locked {
                    tr!(", a lock around each purchase")
                } else {
                    tr!(", no lock")
                }
            ),
            choices(&[
                &tr!("exactly {}", sold),
                &tr!("more than {}: some tickets sold twice", sold),
                &tr!("fewer than {}", sold),
            ]),
        )
    },
    judge: judge_bought,
};

/// How many tickets will the file say are left?
pub const LEFT: Question = Question {
    id: "ticket.left",
    when: When::Start,
    ask: |records| {
        let (_, _, _, left_then, _) = first_sale(records);
        (
            tr!("How many tickets will the file say are left?"),
            choices(&[
                &tr!("{}: every ticket sold is gone from the file", left_then),
                &tr!("more than {}: some sales were written over", left_then),
                &tr!("none it can say: the file will be broken"),
            ]),
        )
    },
    judge: judge_left,
};

fn judge_bought(records: &[Record]) -> Option<Verdict> {
    let (_, _, sold, _, locked) = first_sale(records);
    let (told, _) = first_summary(records)?;
    let shown = match told.cmp(&sold) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
        std::cmp::Ordering::Less => 2,
    };
    let (right, why): (&[usize], String) = match (locked, shown) {
        (true, _) => (
            &[shown],
            tr!("with the lock, each purchase is read, taken and written \
                back whole, one buyer at a time."),
        ),
        (false, 1) => (
            &[1],
            tr!(
                "without a lock, buyers read the count while others are about to \
                write theirs back: several took the same ticket."
            ),
        ),
        (false, _) => (
            &[shown, 1],
            tr!("without a lock, this run happened not to oversell (no \
                sleeps overlapped); with the notes' sleeps it does."),
        ),
    };
    Some(Verdict::new(shown, right, why))
}

fn judge_left(records: &[Record]) -> Option<Verdict> {
    let (_, _, _, left_then, locked) = first_sale(records);
    let (_, left) = first_summary(records)?;
    let shown = match left {
        Some(l) if l == left_then => 0,
        Some(_) => 1,
        None => 2,
    };
    let (right, why): (&[usize], String) = match (locked, shown) {
        (true, _) => (
            &[shown],
            tr!("with the lock, no write is lost: the file agrees with the sales."),
        ),
        (false, 1) => (
            &[1],
            tr!(
                "without a lock, a buyer wrote back a count others had already \
                lowered: their sales vanished from the file."
            ),
        ),
        (false, _) => (
            &[shown, 1],
            tr!("without a lock, no write was lost this time, by chance."),
        ),
    };
    Some(Verdict::new(shown, right, why))
}

/// The file's state at the start: as it is, or stocked with `tickets`
/// (3 for a missing file), its other fields kept.
fn stock(path: &Path, tickets: Option<u64>) -> Result<(u64, Map<String, Value>)> {
    let existing = match read_checked(path) {
        Ok(stock) => Some(stock),
        Err(_) if !path.exists() && !path.is_symlink() => None,
        Err(e) => return Err(e),
    };
    may_replace(path)?;
    let name = path.display();
    match (existing, tickets) {
        (Some(stock), None) => {
            log::say(tr!(
                "{} holds {}, as an earlier run (or someone) left it; --tickets 3 restocks it",
                name,
                plural(stock.0, "ticket", "tickets")
            ));
            Ok(stock)
        }
        (stock, count) => {
            let count = count.unwrap_or(3);
            log::say(match stock {
                Some(_) => tr!("{}: put {} in it", name, plural(count, "ticket", "tickets")),
                None => tr!(
                    "{} did not exist: made it with {}",
                    name,
                    plural(count, "ticket", "tickets")
                ),
            });
            let mut dic = stock.map(|(_, dic)| dic).unwrap_or_default();
            dic.insert("count".to_owned(), count.into());
            file::replace(path, &text(&dic))?;
            Ok((count, dic))
        }
    }
}

/// Refuses, before anything is written, a file that a sale could not
/// replace as it is: one the user may not write, one whose directory takes
/// no new file, one with other names (hard links, which `rename` would cut).
fn may_replace(path: &Path) -> Result<()> {
    let name = path.display();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.nlink() > 1 {
            return Err(anyhow!(tr!(
                "{}: it has {} names (hard links), and a sale replaces the file: \
                 the other names would keep the old count",
                name,
                meta.nlink()
            )));
        }
        access(path, AccessFlags::W_OK)
            .map_err(|e| anyhow!(tr!("{}: you may not write it ({})", name, e.desc())))?;
    }
    let dir = file::directory(path);
    access(&dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| {
        anyhow!(tr!(
            "{}: a sale writes a new file beside it, but its directory {} takes none ({})",
            name,
            dir.display(),
            e.desc()
        ))
    })?;
    // In a sticky directory (as /tmp is), only the owner of a file, or of
    // the directory, may rename another file over it.
    let me = nix::unistd::geteuid();
    if let (Ok(file), Ok(folder)) = (std::fs::metadata(path), std::fs::metadata(&dir)) {
        let sticky = folder.mode() & 0o1000 != 0;
        if sticky && !me.is_root() && file.uid() != me.as_raw() && folder.uid() != me.as_raw() {
            return Err(anyhow!(tr!(
                "{}: its directory {} is sticky (as /tmp is), and the file is not yours: only its \
                 owner may replace it",
                name,
                dir.display()
            )));
        }
    }
    Ok(())
}

/// The file's text for `dic`: one line of JSON.
fn text(dic: &Map<String, Value>) -> Vec<u8> {
    let mut text = Value::Object(dic.clone()).to_string();
    text.push('\n');
    text.into_bytes()
}

/// The buyers' endings, as their parent learned them from `wait4`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    bought: u64,
    sold_out: u64,
    /// Failed, panicked or killed.
    errors: u64,
}

impl Tally {
    /// Counts one buyer by its exit status.
    fn count(&mut self, ended: Ended) {
        match ended {
            Ended::Exited(0) => self.bought += 1,
            Ended::Exited(SOLD_OUT) => self.sold_out += 1,
            _ => self.errors += 1,
        }
    }
}

/// What the sale left: the file against the buyers' exit statuses.
#[derive(Debug, Clone, Copy)]
struct Reckoning {
    initial: u64,
    left: Option<u64>,
    tally: Tally,
}

impl Reckoning {
    fn oversold(&self) -> u64 {
        self.tally.bought.saturating_sub(self.initial)
    }

    fn balanced(&self) -> bool {
        self.left
            .is_some_and(|left| self.tally.bought + left == self.initial)
    }

    fn verdict(&self) -> String {
        let Tally {
            bought,
            sold_out,
            errors,
        } = self.tally;
        let file_says = self
            .left
            .map_or_else(|| tr!("no readable count"), |l| tr!("{} left", l));
        let buyers = |n: u64| plural(n, "buyer was", "buyers were");
        let mut text = tr!(
            "{} at the start, the file says {}; {} told \"bought\", {} \
             \"sold out\", {} failed.",
            plural(self.initial, "ticket", "tickets"),
            file_says,
            buyers(bought),
            sold_out,
            errors
        );
        match self.left {
            _ if self.oversold() > 0 => {
                text += &tr!(
                    " OVERSOLD: {} buyers hold a ticket, but only {} existed.",
                    bought,
                    self.initial
                );
            }
            Some(left) if self.balanced() => {
                text += &tr!(
                    " Every ticket is accounted for: {} bought + {} left == {}.",
                    bought,
                    left,
                    self.initial
                );
            }
            Some(left) => {
                text += &tr!(
                    " The count is off: {} bought + {} left != {}.",
                    bought,
                    left,
                    self.initial
                );
            }
            None => {}
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> std::result::Result<u64, String> {
        check_count(&json_object(bytes)?)
    }

    #[test]
    fn bad_files_are_refused_in_one_line() {
        assert_eq!(
            parse(br#"{"event": "concert", "count": 3, "z": [1]}"#),
            Ok(3)
        );
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
            (b"{\"count\": 1, \"count\": 5}", "ambiguous"),
            (b"{\"count\": 1, \"x\": {\"a\": 1, \"a\": 1}}", "twice"),
        ] {
            let problem = parse(bytes).expect_err("refused");
            assert!(
                problem.contains(says) && !problem.contains('\n'),
                "{problem:?}"
            );
        }
    }
}
