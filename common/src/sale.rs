//! The ticket office's frame: its options, the checks on `ticket.json`, the
//! stock at the start of each sale, and the reckoning of the file against
//! how the buyers ended.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::child::{Ended, IntoExitStatus};
use crate::error::{Result, anyhow};
use crate::log::{Record, plural};
use crate::quiz::{Question, Verdict, When, choices};
use crate::schedule::{self, Explored};
use crate::{file, lesson, log};

/// The file, its tickets and its fields at the start of a sale.
type Start = (PathBuf, u64, Map<String, Value>);

thread_local! {
    /// With `--every-schedule`: the start every schedule's sale starts from
    /// again.
    static START: std::cell::RefCell<Option<Start>> =
        const { std::cell::RefCell::new(None) };
}

/// `--every-schedule` runs them all: only for sizes where they are few.
fn check_every_schedule(options: &Office) -> Result<()> {
    use crate::error::Usage;
    if options.runs > 1 {
        let why = tr!("--every-schedule runs each schedule once: it takes no --runs");
        return Err(Usage(why).into());
    }
    let path = options.file.as_path();
    let tickets = options
        .tickets
        .or_else(|| read_checked(path).ok().map(|(n, _)| n));
    let (buyers, tickets) = (options.buyers, tickets.unwrap_or(3));
    if buyers > schedule::MAX_PROCESSES || tickets > schedule::MAX_TICKETS {
        let runs = match schedule::count_without_lock(buyers, tickets) {
            u128::MAX => tr!("millions of"),
            n => n.to_string(),
        };
        return Err(Usage(tr!(
            "--every-schedule runs every schedule, one sale each: at most {} buyers and {} tickets \
             ({} and {} would take {} sales without a lock)",
            schedule::MAX_PROCESSES,
            schedule::MAX_TICKETS,
            plural(buyers, "buyer", "buyers"),
            tickets_word(tickets),
            runs
        ))
        .into());
    }
    Ok(())
}

fn tickets_word(n: u64) -> String {
    plural(n, "ticket", "tickets")
}

/// What every schedule's sale showed, each from its own records: how many
/// oversold and by how much, the shortest that did and how to replay it;
/// with a lock, the schedules it made impossible and the kernel's part.
fn tally(records: &[Record], explored: &Explored) -> Result<()> {
    let start = START.with_borrow(Clone::clone);
    let mut by = std::collections::BTreeMap::<u64, usize>::new();
    let (mut exact, mut lost, mut shortest) = (0usize, 0usize, None::<Vec<u32>>);
    let (mut buyers, mut handed) = (0, 0);
    for run in schedule::runs(records) {
        let Some(summary) = run.iter().find(|r| r.event == "summary") else {
            continue;
        };
        let field = |name: &str| {
            summary
                .fields
                .get(name)
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let over = field("bought").saturating_sub(field("initial"));
        let left = summary.fields.get("left").and_then(Value::as_u64);
        // Sold within the stock, yet a sale written over: the file says
        // more are left than were not sold.
        let written_over = left != Some(field("initial").saturating_sub(field("bought")));
        buyers = run
            .iter()
            .find(|r| r.event == "sale")
            .and_then(|r| r.fields.get("buyers")?.as_u64())
            .unwrap_or(buyers);
        handed += run.iter().filter(|r| r.event == "got_lock").count();
        let turns = schedule::turns_of(run);
        match over {
            0 if written_over => lost += 1,
            0 => exact += 1,
            n => {
                *by.entry(n).or_default() += 1;
                if shortest.as_ref().is_none_or(|s| s.len() > turns.len()) {
                    shortest = Some(turns);
                }
            }
        }
    }
    let initial = start.as_ref().map_or(0, |s| s.1);
    let (locked, shared) = lock_of(records);
    let oversold: usize = by.values().sum();
    let shortest_oversold = shortest.as_deref().map(schedule::commas);
    let fields = json!({"runs": explored.runs, "oversold": oversold, "shortest_oversold": shortest_oversold});
    log::record("tally", fields);
    log::prose(tr!(
        "Every schedule: {} of the sleep points, each a real sale of {} to {}.",
        plural(explored.runs as u64, "schedule", "schedules"),
        tickets_word(initial),
        plural(buyers, "buyer", "buyers")
    ));
    if lost > 0 {
        log::prose(tr!(
            "{} sold no more than there were, yet lost a sale: a buyer wrote back a count \
             another had already lowered, and the file says more are left than were not sold.",
            plural(lost as u64, "schedule", "schedules")
        ));
    }
    if oversold == 0 && lost == 0 {
        log::prose(tr!("None oversold: every one sold exactly."));
    } else if oversold == 0 {
        log::prose(tr!("None oversold; {} sold exactly.", exact));
    } else {
        let amounts: Vec<String> = by
            .iter()
            .map(|(n, runs)| tr!("by {} in {}", tickets_word(*n), runs))
            .collect();
        log::prose(tr!(
            "{} oversold ({}); {} sold exactly.",
            oversold,
            amounts.join(&tr!(", ")),
            exact
        ));
    }
    if let Some(turns) = &shortest {
        let also = match has_option("--tickets") {
            true => vec![],
            false => vec!["--tickets".to_owned(), initial.to_string()],
        };
        let command = schedule::replay(turns, &also);
        log::prose(tr!(
            "The shortest that oversold: {} ({} turns). To replay it:",
            schedule::commas(turns),
            turns.len()
        ));
        log::plain(format!("  {command}"));
    }
    if locked && !shared {
        if let (Some(schedule), Some((name, holder))) =
            (&explored.shortest_impossible, &explored.waiting_for)
        {
            log::prose(tr!(
                "The lock made {} schedules impossible: a turn given to a buyer waiting for the \
                 lock. The shortest, {}: {} waits for the lock that {} holds.",
                explored.impossible,
                schedule,
                name,
                holder
            ));
        }
        log::prose(tr!(
            "Who gets the lock when its holder lets go is the kernel's choice, not the \
             schedule's: in these runs a waiting buyer got it {} times (the trace's got_lock \
             events say who).",
            handed
        ));
        if explored.not_replayed > 0 {
            log::prose(tr!(
                "{} found could not be run again as found: the kernel gave the lock to another \
                 buyer the second time.",
                plural(explored.not_replayed as u64, "schedule", "schedules")
            ));
        }
    }
    if shared && oversold > 0 {
        log::prose(shared_lock_cause());
    }
    match start {
        Some((path, _, dic)) => put_back(&path, initial, &dic),
        None => Ok(()),
    }
}

/// A run of every schedule ended half-way, or a forced schedule found
/// impossible (it is not run): the file as it was before, not as a
/// schedule cut short left it, and said.
fn put_back(path: &Path, initial: u64, start: &Map<String, Value>) -> Result<()> {
    let scheduled = schedule::every() || schedule::forced();
    if !scheduled {
        return Ok(());
    }
    // First every buyer reaped: none may rename its count in after.
    crate::child::reap_all();
    write(path, &text(start))?;
    log::prose(tr!(
        "{} is back as it was at the start: {}.",
        path.display(),
        tickets_word(initial)
    ));
    Ok(())
}

/// Why a lock opened before `fork` kept nobody out.
pub(crate) fn shared_lock_cause() -> String {
    tr!(
        "The lock file was opened once, by main, before fork: every child inherited that one open \
         file description, and an flock belongs to the description, not to the process. One \
         description, one lock, held by every child at once: it excluded nobody (see flock(2))."
    )
}

/// Whether the run took a lock, and whether it was opened before fork.
pub(crate) fn lock_of(records: &[Record]) -> (bool, bool) {
    let lock = records.iter().find(|r| r.event == "lock");
    let shared = lock.and_then(|r| r.fields.get("opened_before_fork")?.as_bool());
    (lock.is_some(), shared == Some(true))
}

/// Whether the command line gave `option`.
fn has_option(option: &str) -> bool {
    std::env::args().any(|a| a == option || a.starts_with(&format!("{option}=")))
}

const MAX_TICKETS: u64 = 1_000_000;
/// Below the lessons' limit on children at once.
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

    #[command(flatten)]
    pub turns: crate::Turns,
}

/// A symbolic link is followed once, here, so that the lock file and the
/// temporary files sit beside the real file, the one updated, and a run
/// through the link and one through the real name share one lock.
fn real_path(arg: &str) -> std::result::Result<PathBuf, String> {
    match PathBuf::from(arg) {
        _ if arg.is_empty() => Err(tr!("give a path")),
        path if !path.is_symlink() => Ok(path),
        path => std::fs::canonicalize(path).map_err(|e| {
            tr!(
                "{} is a symbolic link to nothing that can be reached ({})",
                arg,
                e
            )
        }),
    }
}

/// How a buyer ended; its exit status tells its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Outcome {
    Bought = 0,
    SoldOut = SOLD_OUT,
}

impl IntoExitStatus for Outcome {
    fn into_exit_status(self) -> i32 {
        self as i32
    }
}

/// `json.dump` of a buyer's count. With `--pause`, the first buyer to write
/// back without a lock holds there, showing the lost update in the making.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let bytes = new_version(path, bytes)?;
    if crate::pause::on() && log::who() != "main" && !crate::lock::made() {
        let now = file::read_small(path).map_or_else(|e| format!("{e:#}"), |b| cut(&b, 60));
        crate::pause(
            "write",
            &tr!(
                "{} is about to write back {}, worked out from a count read before its network \
                 delay; the file says {} now, and the other buyers go on buying",
                log::who(),
                cut(&bytes, 60),
                now
            ),
            &format!("cat {}", schedule::shell_word(&path.display().to_string())),
        )?;
    }
    file::replace(path, &bytes)
}

/// Replaces the ticket file with `bytes`, spelled as read, once they pass
/// the checks a sale makes on the file it reads.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    file::replace(path, &new_version(path, bytes)?)
}

/// The text a sale writes for `bytes`, the JSON of a new version of the
/// ticket file: spelled as this process read the file ([`as_read`]), and
/// checked as a read file is ([`check_new`]): a sale never writes one it
/// would refuse.
fn new_version(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (bytes, read_as) = as_read(path, bytes);
    check_new(path, &bytes, read_as)?;
    Ok(bytes)
}

thread_local! {
    /// The ticket file as this process last read it, path and text, whole.
    static LAST_READ: std::cell::RefCell<Option<(PathBuf, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `bytes`, a new version of the ticket file, in the spelling of the text
/// this process last read from it: that text, byte for byte, with only the
/// value of its `count` replaced by the one `bytes` give. So strings keep
/// their escapes (`"\u00e9\/"` is not written `"é/"`), numbers their
/// digits, keys and spaces their places. That is done only where the
/// result is the same JSON as `bytes`, every value and every key in the
/// same order: `bytes` are what the buyer computed, and what is written.
/// Else (no file read, or a version that changed more than the count),
/// `bytes` as they are. With the text, the object it was read as where
/// that was found on the way: [`check_new`] need not read it again.
fn as_read(path: &Path, bytes: &[u8]) -> (Vec<u8>, Option<Map<String, Value>>) {
    let respelled = LAST_READ.with_borrow(|read| {
        let (_, text) = read.as_ref().filter(|(p, _)| p == path)?;
        let (start, end) = count_span(text)?;
        let (new_start, new_end) = count_span(bytes)?;
        let spliced = [&text[..start], &bytes[new_start..new_end], &text[end..]].concat();
        let (spliced_as, bytes_as) = (json_object(&spliced).ok()?, json_object(bytes).ok()?);
        let same = serde_json::to_vec(&spliced_as).ok() == serde_json::to_vec(&bytes_as).ok();
        Some(match same {
            true => (spliced, spliced_as),
            false => (bytes.to_vec(), bytes_as),
        })
    });
    match respelled {
        Some((text, read_as)) => (text, Some(read_as)),
        None => (bytes.to_vec(), None),
    }
}

/// The JSON white space.
fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(|b| b" \t\n\r".contains(b)) {
        at += 1;
    }
    at
}

/// Where the value of the member `count` of the object `text` is (a JSON
/// text already read as one): its first byte, and the one after its last.
/// Keys are read as JSON (`"c\u006funt"` is `count` too); a `count` in a
/// nested object, or in a string, is not it.
fn count_span(text: &[u8]) -> Option<(usize, usize)> {
    let mut at = skip_space(text, 0);
    if text.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(text, at);
        match text.get(at)? {
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = value_end(text, at)?;
        let key: String = serde_json::from_slice(&text[at..key_end]).ok()?;
        at = skip_space(text, key_end);
        if text.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(text, at + 1);
        let end = value_end(text, start)?;
        if key == "count" {
            return Some((start, end));
        }
        at = end;
    }
}

/// The end of the JSON value that starts at `at`, in a text already read
/// as JSON: a string's after its closing quote (an escaped quote does not
/// close it); an array's or object's after its closing bracket (brackets in
/// strings within do not count); any other value's at the first `,`, `]`,
/// `}` or white space after it.
fn value_end(text: &[u8], at: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut i) = (0usize, false, at);
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' if in_string => i += 1,
            b'"' if in_string => {
                in_string = false;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ if in_string => {}
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 1 => depth -= 1,
            b'}' | b']' if depth == 1 => return Some(i + 1),
            b'}' | b']' | b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Refuses, in one line, a new version of the ticket file that a sale would
/// refuse to read: too large, or not a ticket file. `read_as`: what
/// `bytes` read as, where that is known already.
fn check_new(path: &Path, bytes: &[u8], read_as: Option<Map<String, Value>>) -> Result<()> {
    let name = path.display();
    if bytes.len() as u64 > file::MAX_SIZE {
        return Err(anyhow!(tr!(
            "{}: its new version would hold {} bytes, too many for a ticket file (at most {}): \
             not written",
            name,
            bytes.len(),
            file::MAX_SIZE
        )));
    }
    read_as
        .map_or_else(|| json_object(bytes), Ok)
        .and_then(|dic| check_count(&dic))
        .map_err(|problem| {
            anyhow!(tr!(
                "{}: its new version would be refused ({}): not written",
                name,
                problem
            ))
        })?;
    Ok(())
}

/// How much of a value a message quotes, in characters.
const QUOTED: usize = 40;

/// `bytes` as text, trimmed, or its first `most` characters and "…".
fn cut(bytes: &[u8], most: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(most) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reads the ticket file: one JSON object, or an error that names the file
/// and says in one line what is wrong. Its numbers keep the text they were
/// written with (`1e2`, `1.0000000000000001`, thirty digits); and the text
/// read is kept, so that a sale writes back every other field exactly as
/// it was, spelling and all (see [`as_read`]).
pub fn read_json_object(path: &Path) -> Result<Map<String, Value>> {
    let bytes = file::read_small(path)?;
    let dic = json_object(&bytes).map_err(|problem| anyhow!("{}: {problem}", path.display()))?;
    LAST_READ.with_borrow_mut(|read| *read = Some((path.to_owned(), bytes)));
    Ok(dic)
}

/// How deep serde_json lets arrays and objects nest: deeper is refused.
const MAX_DEPTH: usize = 127;

fn json_object(bytes: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(tr!("it is empty, not JSON like {{\"count\": 3}}"));
    }
    // First the keys, each once, then the value: serde_json would keep the
    // last of two values of one key, and drop the other.
    let parsed = serde_json::from_slice::<Unique>(bytes)
        .and_then(|Unique| serde_json::from_slice::<Value>(bytes));
    match parsed {
        Ok(Value::Object(mut dic)) => {
            let mut written = numbers_as_written(bytes).into_iter();
            for value in dic.values_mut() {
                as_written(value, &mut written)?;
            }
            Ok(dic)
        }
        Ok(value) => Err(tr!(
            "it holds {}, not an object like {{\"count\": 3}}",
            cut(value.to_string().as_bytes(), QUOTED)
        )),
        Err(e) if e.is_data() => {
            // serde_json ends its message with where: " at line 1 column 18".
            let (l, c, text) = (e.line(), e.column(), e.to_string());
            match text.strip_suffix(&format!(" at line {l} column {c}")) {
                Some(what) => Err(tr!("it is ambiguous: {} at line {} column {}", what, l, c)),
                None => Err(tr!("it is ambiguous: {}", e)),
            }
        }
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => Err(tr!(
            "it is nested too deeply: arrays and objects more than {} deep, at line {} column {}",
            MAX_DEPTH,
            e.line(),
            e.column()
        )),
        Err(e) => Err(tr!("it is not JSON ({})", e)),
    }
}

/// A JSON text whose objects have each key once, checked as it is read:
/// nothing is kept.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(json: D) -> std::result::Result<Self, D::Error> {
        json.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

macro_rules! scalars {
    ($($visit:ident: $t:ty),*) => {
        $(fn $visit<E>(self, _: $t) -> std::result::Result<Unique, E> { Ok(Unique) })*
    };
}

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    scalars! { visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str }
    fn visit_unit<E>(self) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    /// An object; or a number serde_json keeps as its text, which it hands
    /// over as an object of one key.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Unique, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                let key = cut(key.as_bytes(), QUOTED);
                let twice = tr!("the key \"{}\" is there twice, with two values", key);
                return Err(A::Error::custom(twice));
            }
            map.next_value::<Unique>()?;
            keys.insert(key);
        }
        Ok(Unique)
    }
}

/// The numbers of the JSON text `bytes`, as written there, in order.
fn numbers_as_written(bytes: &[u8]) -> Vec<&str> {
    let (mut numbers, mut at, mut in_string) = (Vec::new(), 0, false);
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if in_string => at += 1,
            b'"' => in_string = !in_string,
            b'-' | b'0'..=b'9' if !in_string => {
                let len = bytes[at..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                    .count();
                numbers.push(std::str::from_utf8(&bytes[at..at + len]).unwrap_or_default());
                at += len;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    numbers
}

/// Gives each number of `value` its text as `written` has them, in order:
/// serde_json keeps a number's digits, but spells `1E2` and `1e2` `1e+2`.
fn as_written<'a>(
    value: &mut Value,
    written: &mut impl Iterator<Item = &'a str>,
) -> std::result::Result<(), String> {
    match value {
        Value::Number(n) => {
            let text = written.next().unwrap_or_default();
            let spelled = match text.split_once(['e', 'E']) {
                Some((m, e)) if e.starts_with(['+', '-']) => format!("{m}e{e}"),
                Some((m, e)) => format!("{m}e+{e}"),
                None => text.to_owned(),
            };
            if text != n.to_string() {
                if spelled != n.to_string() {
                    return Err(tr!(
                        "it has the number {}, which cannot be kept as written",
                        cut(text.as_bytes(), QUOTED)
                    ));
                }
                // serde_json's own way to hold a number's text (hidden in
                // its documentation, for its tests): the text is the one it
                // has just read as a number, only spelled as written.
                *n = serde_json::Number::from_string_unchecked(text.to_owned());
            }
        }
        Value::Array(items) => {
            for item in items {
                as_written(item, written)?;
            }
        }
        Value::Object(fields) => {
            for field in fields.values_mut() {
                as_written(field, written)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What a number's text says, exactly, as a count.
#[derive(Debug, PartialEq)]
enum Whole {
    Is(u64),
    TooLarge,
    Negative,
    Fraction,
}

/// The JSON number `text` (`-`, digits, `.` and digits, `e` and an
/// exponent), read exactly: `3.0` and `3e0` are 3, `0.5e1` is 5.
fn whole(text: &str) -> Whole {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    // Too many digits for an i64 is far beyond any count, or far below 1.
    let exponent: i64 = exponent.parse().unwrap_or(match exponent.starts_with('-') {
        true => i64::MIN / 2,
        false => i64::MAX / 2,
    });
    let (int, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The value is 0.DIGITS times ten to the power `point`.
    let digits = format!("{int}{fraction}");
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let digits = digits.trim_matches('0');
    if digits.is_empty() {
        return Whole::Is(0);
    }
    let point = int.len() as i64 - leading as i64 + exponent;
    match () {
        _ if point < digits.len() as i64 => Whole::Fraction,
        _ if negative => Whole::Negative,
        _ if point > 20 => Whole::TooLarge,
        _ => format!("{digits:0<width$}", width = point as usize)
            .parse()
            .map_or(Whole::TooLarge, Whole::Is),
    }
}

/// The ticket file's `"count"`, checked; the error says in one line what is
/// wrong, and how to write it where it is a whole number written otherwise.
/// A value is quoted cut short: a count of a million digits, or a string
/// of a megabyte, would make a line nobody reads.
pub fn check_count(dic: &Map<String, Value>) -> std::result::Result<u64, String> {
    let n = match dic.get("count") {
        None => return Err(tr!("it has no \"count\"")),
        Some(Value::Number(n)) => n,
        Some(other) => {
            let quoted = cut(other.to_string().as_bytes(), QUOTED);
            return Err(tr!("\"count\" is {}, not a whole number", quoted));
        }
    };
    // As written (arbitrary_precision keeps a number's text): no copy made,
    // and the quote below only made for a count refused.
    let text = n.as_str();
    let quoted = || cut(text.as_bytes(), QUOTED);
    match whole(text) {
        Whole::Is(count) if count > MAX_TICKETS => Err(tr!(
            "\"count\" is {}, more than the {} tickets we accept",
            quoted(),
            MAX_TICKETS
        )),
        Whole::Is(count) if n.as_u64() == Some(count) => Ok(count),
        Whole::Is(count) => Err(tr!(
            "\"count\" is {}: write it as a whole number, like {}",
            quoted(),
            count
        )),
        Whole::TooLarge => Err(tr!(
            "\"count\" is {}, more than the {} tickets we accept",
            quoted(),
            MAX_TICKETS
        )),
        Whole::Negative => Err(tr!("\"count\" is {}: a count cannot be negative", quoted())),
        Whole::Fraction => Err(tr!("\"count\" is {}, not a whole number", quoted())),
    }
}

fn read_checked(path: &Path) -> Result<(u64, Map<String, Value>)> {
    let dic = read_json_object(path)?;
    let count = check_count(&dic).map_err(|problem| anyhow!("{}: {problem}", path.display()))?;
    Ok((count, dic))
}

fn tickets(n: u64) -> String {
    plural(n, "ticket", "tickets")
}

/// Holds the sale: checks there is room for the buyers, stocks the file,
/// runs `sale` (which starts the buyers and returns how each ended), and
/// reckons the file against them; `--runs` times over.
/// With `--every-schedule`, once for each schedule: the first stocks the
/// file, each after it puts back the text it started from.
pub fn hold(options: &Office, mut sale: impl FnMut() -> Result<Vec<Ended>>) -> Result<()> {
    let path = options.file.as_path();
    let again = START.with_borrow(Clone::clone);
    if schedule::every() && again.is_none() {
        check_every_schedule(options)?;
    }
    if schedule::forced() && options.runs > 1 {
        let why = tr!("--schedule forces one sale's turns: it takes no --runs");
        return Err(crate::error::Usage(why).into());
    }
    schedule::check_lock_opened_before_fork()?;
    lesson::check_room(options.buyers, "--buyers")?;
    file::durable(options.fsync);
    // Drawn before the buyers are forked; should the system refuse, each
    // buyer asks again, and says so if it is refused too.
    let _ = file::names_key();
    let (initial, start) = match again {
        Some((_, initial, start)) => {
            write(path, &text(&start))?;
            (initial, start)
        }
        None => stock(path, options.tickets)?,
    };
    if schedule::every() {
        let kept = (path.to_owned(), initial, start.clone());
        START.with_borrow_mut(|s| *s = Some(kept));
        schedule::tally_with(tally);
    }
    if options.runs > 1 {
        log::quiet();
    }
    let (mut oversold, mut most, mut off) = (0, 0, 0);
    for run in 1..=options.runs {
        if run > 1 {
            write(path, &text(&start))?;
        }
        let fields = json!({"run": run, "initial": initial, "buyers": options.buyers});
        log::record("sale", fields);
        let mut r = Reckoning {
            initial,
            ..Reckoning::default()
        };
        let ended = match sale() {
            Err(e) if crate::signals::stopping() => {
                let e = stopped(path, initial, e);
                let _ = put_back(path, initial, &start);
                return Err(e);
            }
            Err(e) => {
                let _ = put_back(path, initial, &start);
                return Err(e);
            }
            Ok(ended) => ended,
        };
        for ended in ended {
            match ended {
                Ended::Exited(0) => r.bought += 1,
                Ended::Exited(SOLD_OUT) => r.sold_out += 1,
                _ => r.errors += 1,
            }
        }
        file::sweep(path);
        let left = read_checked(path).map(|(count, _)| count);
        r.left = left.as_ref().ok().copied();
        log::record("summary", r);
        if !schedule::every() {
            log::prose(if options.runs > 1 {
                tr!("run {}: {}", run, r.verdict())
            } else {
                tr!("\nReckoning: {}", r.verdict())
            });
            // The lock that did not keep them apart: the cause, said once.
            if r.oversold() > 0 && oversold == 0 && schedule::lock_opened_before_fork() {
                log::prose(shared_lock_cause());
            }
        }
        let lost = crate::child::counts().trace_lost;
        if let Some(why) = log::trace_error()
            .map(String::from)
            .or((lost > 0).then(|| tr!("{} buyers could not write theirs", lost)))
        {
            return Err(anyhow!(tr!(
                "cannot write the trace ({}): the sale stops here; its reckoning counts the \
                 buyers' exit statuses, which the kernel kept",
                why
            )));
        }
        if let Err(e) = left {
            let e = format!("{e:#}");
            return Err(anyhow!(tr!("the file went bad during the sale: {}", e)));
        }
        // Between two schedules the file is as at the start, whatever
        // stops the run of them there.
        if schedule::every() {
            write(path, &text(&start))?;
        }
        oversold += usize::from(r.oversold() > 0);
        most = most.max(r.oversold());
        off += usize::from(!r.balanced());
    }
    if options.runs > 1 {
        log::prose(tr!(
            "\n{} of {} runs oversold (by {} at most); in {}, tickets sold and tickets left \
             did not add up to the start.",
            oversold,
            options.runs,
            tickets(most),
            off
        ));
    }
    Ok(())
}

/// A sale stopped by a signal still reckons, once every buyer has ended:
/// what the file says against what the buyers reported (their `bought`
/// records: a buyer that renamed its count into place says so before a stop
/// ends it). Returns `stop`, the error that stopped it.
fn stopped(path: &Path, initial: u64, stop: crate::error::Error) -> crate::error::Error {
    crate::child::reap_all();
    file::sweep(path);
    let records = log::records().unwrap_or_default();
    let this_sale = records.iter().rposition(|r| r.event == "sale").unwrap_or(0);
    let reported = records[this_sale..]
        .iter()
        .filter(|r| r.event == "bought")
        .count() as u64;
    let left = read_checked(path).ok().map(|(count, _)| count);
    let signal = crate::signals::stop_signal()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let fields = json!({"initial": initial, "left": left, "bought": reported, "stopped": signal});
    log::record("summary", fields);
    let file_says = left.map_or_else(|| tr!("no readable count"), |l| tr!("{} left", l));
    let taken = left.map(|left| initial.saturating_sub(left));
    log::prose(
        tr!(
            "\nReckoning, stopped by {}: {} at the start, the file says {}; the buyers reported \
             {} bought before they ended.",
            signal,
            tickets(initial),
            file_says,
            reported
        ) + &match taken {
            Some(taken) if taken == reported => {
                tr!(" Every ticket that left the file was reported.")
            }
            Some(taken) if taken > reported => tr!(
                " {} left the file with no buyer reporting it.",
                taken - reported
            ),
            Some(taken) => tr!(
                " {} more were reported bought than left the file: sales were written over.",
                reported - taken
            ),
            None => String::new(),
        },
    );
    stop
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

/// The first sale's `summary`: how many buyers were told "bought", and the
/// count the file was left with (`None`: it could not be read).
fn first_summary(records: &[Record]) -> Option<(u64, Option<u64>)> {
    let summary = records.iter().find(|r| r.event == "summary")?;
    let bought = summary.fields.get("bought")?.as_u64()?;
    Some((bought, summary.fields.get("left").and_then(Value::as_u64)))
}

/// With a lock, what the run showed is certain; without one, choice 1 (a
/// lost update) is what the notes expect, and where the sleeps happened not
/// to overlap (full speed), what the run showed is right too.
fn judged(locked: bool, shown: usize, [with_lock, lost, by_chance]: [String; 3]) -> Verdict {
    match (locked, shown) {
        (true, _) => Verdict::new(shown, &[shown], with_lock),
        (false, 1) => Verdict::new(1, &[1], lost),
        (false, _) => Verdict::new(shown, &[shown, 1], by_chance),
    }
}

/// Asked before the first buyer starts; judged against the first sale.
pub const BOUGHT: Question = Question {
    id: "ticket.bought",
    when: When::Start,
    ask: |records| {
        if schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let (initial, buyers, sold, _, locked) = first_sale(records);
        (
            tr!(
                "{} and {}{}: how many buyers will be told \"bought\"?",
                tickets(initial),
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
    judge: |records| {
        let (_, _, sold, _, locked) = first_sale(records);
        let (told, _) = first_summary(records)?;
        let shown = match told.cmp(&sold) {
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
            std::cmp::Ordering::Less => 2,
        };
        let why = [
            tr!("with the lock, each purchase is read, taken and written \
                 back whole, one buyer at a time."),
            tr!("without a lock, buyers read the count while others are \
                 about to write theirs back: several took the same ticket."),
            tr!("without a lock, this run happened not to oversell (no \
                 sleeps overlapped); with the notes' sleeps it does."),
        ];
        Some(judged(locked, shown, why))
    },
};

pub const LEFT: Question = Question {
    id: "ticket.left",
    when: When::Start,
    ask: |records| {
        if schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
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
    judge: |records| {
        let (_, _, _, left_then, locked) = first_sale(records);
        let shown = match first_summary(records)?.1 {
            Some(l) if l == left_then => 0,
            Some(_) => 1,
            None => 2,
        };
        let why = [
            tr!("with the lock, no write is lost: the file agrees with the sales."),
            tr!("without a lock, a buyer wrote back a count others had \
                 already lowered: their sales vanished from the file."),
            tr!("without a lock, no write was lost this time, by chance."),
        ];
        Some(judged(locked, shown, why))
    },
};

/// How many of the sale's schedules oversold: 0 none, 1 some, 2 all; from
/// each schedule's own `summary`.
fn oversold_share(records: &[Record]) -> Option<usize> {
    let runs = schedule::runs(records);
    let oversold = runs
        .iter()
        .filter(|run| {
            let summary = run.iter().find(|r| r.event == "summary");
            let field = |name: &str| summary.and_then(|s| s.fields.get(name)?.as_u64());
            field("bought").unwrap_or(0) > field("initial").unwrap_or(0)
        })
        .count();
    match oversold {
        _ if runs.is_empty() => None,
        0 => Some(0),
        n if n == runs.len() => Some(2),
        _ => Some(1),
    }
}

/// With `--every-schedule`: asked before the first sale, judged once
/// every schedule has run.
pub const SCHEDULES: Question = Question {
    id: "ticket.schedules",
    when: When::Start,
    ask: |records| {
        if !schedule::every_in(records) {
            return (String::new(), Vec::new());
        }
        let (initial, buyers, _, _, _) = first_sale(records);
        (
            tr!(
                "Every schedule of the sleep points will run, each a real sale of {} to {}: how \
                 many of them will oversell?",
                tickets(initial),
                plural(buyers, "buyer", "buyers")
            ),
            choices(&[&tr!("none"), &tr!("some, not all"), &tr!("every one")]),
        )
    },
    judge: |records| {
        let shown = oversold_share(records)?;
        let (locked, shared) = lock_of(records);
        let why = match (shown, locked && !shared) {
            (0, true) => tr!("with the lock, no schedule can let two buyers take the same ticket."),
            (0, false) => tr!(
                "there were never more buyers than tickets, so none could oversell (a sale may \
                 still be written over: see the tally)."
            ),
            (_, _) if shared => tr!(
                "the lock opened before fork excluded nobody: as without a lock, two buyers \
                 could read the same count."
            ),
            (1, _) => tr!(
                "without a lock, every schedule in which two buyers read the count before \
                 either writes it back oversells; the others do not."
            ),
            _ => tr!("without a lock, in every schedule some buyer read a count already taken."),
        };
        Some(Verdict::new(shown, &[shown], why))
    },
};

/// With `--every-schedule --lock-opened-before-fork`.
pub const SHARED_LOCK: Question = Question {
    id: "ticket.shared_lock",
    when: When::Start,
    ask: |records| {
        if !schedule::every_in(records) || !lock_of(records).1 {
            return (String::new(), Vec::new());
        }
        (
            tr!(
                "The lock file was opened once, by main, before fork, and each buyer flocks its \
                 inherited copy: does the lock keep the sales apart?"
            ),
            choices(&[
                &tr!("yes: each buyer holds the lock in its turn"),
                &tr!("no: the buyers share one open file description, so one lock they all hold"),
            ]),
        )
    },
    // Only a schedule that oversold shows it: with as many tickets as
    // buyers none can, and the run then says nothing either way.
    judge: |records| match oversold_share(records)? {
        0 => None,
        _ => Some(Verdict::new(1, &[1], shared_lock_cause())),
    },
};

/// The file's state at the start: as it is, or stocked with `restock`
/// (3 for a missing file), its other fields kept.
fn stock(path: &Path, restock: Option<u64>) -> Result<(u64, Map<String, Value>)> {
    file::fits(path)?;
    let existing = match read_checked(path) {
        Ok(stock) => Some(stock),
        Err(_) if !path.exists() && !path.is_symlink() => None,
        Err(e) => return Err(e),
    };
    may_replace(path)?;
    let name = path.display();
    let existing = match (existing, restock) {
        (Some(stock), None) => {
            log::say(tr!(
                "{} holds {}, as an earlier run (or someone) left it; --tickets 3 restocks it",
                name,
                tickets(stock.0)
            ));
            return Ok(stock);
        }
        (existing, _) => existing,
    };
    let count = restock.unwrap_or(3);
    let said = match existing {
        Some(_) => tr!("{}: put {} in it", name, tickets(count)),
        None => tr!("{} did not exist: made it with {}", name, tickets(count)),
    };
    let mut dic = existing.map(|(_, dic)| dic).unwrap_or_default();
    dic.insert("count".to_owned(), count.into());
    // Checked before it is said to be done: a refusal is then the only word.
    let bytes = new_version(path, &text(&dic))?;
    log::say(said);
    file::replace(path, &bytes)?;
    Ok((count, dic))
}

/// Refuses, before anything is written, a file that a sale could not
/// replace as it is: one the user may not write, one whose directory takes
/// no new file, one with other names (hard links, which `rename` would cut),
/// one append-only or immutable, one whose extended attributes (an ACL) its
/// new version could not be given. With `--fsync`, says if the directory
/// cannot be flushed.
fn may_replace(path: &Path) -> Result<()> {
    let (name, dir) = (path.display(), file::directory(path));
    let meta = std::fs::metadata(path).ok();
    // Before `access`, which says "not permitted" for an immutable file.
    file::check_flags(path)?;
    if let Some(meta) = &meta {
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
    if let (Some(file), Ok(folder)) = (&meta, std::fs::metadata(&dir)) {
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
    // Before the probe of the attributes, the first file a sale makes.
    file::check_room(path, meta.as_ref().map_or(0, |m| m.len()))?;
    file::check_attributes(path)?;
    file::check_flush(path);
    Ok(())
}

/// The file's text for `dic`: one line of JSON.
fn text(dic: &Map<String, Value>) -> Vec<u8> {
    format!("{}\n", Value::Object(dic.clone())).into_bytes()
}

/// What a sale left, as its `summary` record says: the file against the
/// buyers' exit statuses, as their parent learned them from `wait4`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Reckoning {
    initial: u64,
    left: Option<u64>,
    bought: u64,
    sold_out: u64,
    /// Failed, panicked or killed.
    errors: u64,
}

impl Reckoning {
    fn oversold(&self) -> u64 {
        self.bought.saturating_sub(self.initial)
    }

    fn balanced(&self) -> bool {
        matches!(self.left, Some(left) if self.bought + left == self.initial)
    }

    fn verdict(&self) -> String {
        let (initial, bought) = (self.initial, self.bought);
        let file_says = self
            .left
            .map_or_else(|| tr!("no readable count"), |l| tr!("{} left", l));
        let text = tr!(
            "{} at the start, the file says {}; {} told \"bought\", {} \
             \"sold out\", {} failed.",
            tickets(initial),
            file_says,
            plural(bought, "buyer was", "buyers were"),
            self.sold_out,
            self.errors
        );
        text + &match self.left {
            _ if self.oversold() > 0 => tr!(
                " OVERSOLD: {} buyers hold a ticket, but only {} existed.",
                bought,
                initial
            ),
            Some(left) if self.balanced() => tr!(
                " Every ticket is accounted for: {} bought + {} left == {}.",
                bought,
                left,
                initial
            ),
            Some(left) => tr!(
                " The count is off: {} bought + {} left != {}.",
                bought,
                left,
                initial
            ),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusals no lesson's test makes (those in ticket-*/tests/).
    #[test]
    fn bad_files_are_refused_in_one_line() {
        for (bytes, says) in [
            (&b"  \n"[..], "empty"),
            (b"{\"count\": 3", "not JSON"),
            (b"[3]", "not an object"),
            (b"{\"count\": 1e3}", "like 1000"),
            (b"{\"count\": 2.5e0}", "not a whole number"),
        ] {
            let parsed = json_object(bytes).and_then(|dic| check_count(&dic));
            let problem = parsed.expect_err("refused");
            assert!(problem.contains(says), "{problem:?}");
            assert!(!problem.contains('\n'), "{problem:?}");
        }
    }

    /// The top-level count's value is found however its key is spelled,
    /// past nested counts and strings holding quotes and braces.
    #[test]
    fn the_count_is_found_in_the_text() {
        for (text, value) in [
            (r#"{"count":3}"#, "3"),
            (r#" { "count" :  12 } "#, "12"),
            (r#"{"a":{"count":1},"b":"\"count\":2}{","count":3}"#, "3"),
            (r#"{"a":["}",{"x":[]}],"c\u006funt":"x\"y"}"#, r#""x\"y""#),
            (r#"{"count":{"count":1}}"#, r#"{"count":1}"#),
        ] {
            let (start, end) = count_span(text.as_bytes()).expect(text);
            assert_eq!(&text[start..end], value, "{text}");
        }
        assert_eq!(count_span(br#"{"a":{"count":1}}"#), None);
    }

    /// A number's text read exactly as a count, whatever its spelling.
    #[test]
    fn a_count_is_read_from_its_text_exactly() {
        for (text, count) in [
            ("3", Whole::Is(3)),
            ("3.0", Whole::Is(3)),
            ("3e0", Whole::Is(3)),
            ("0.5e1", Whole::Is(5)),
            ("300E-2", Whole::Is(3)),
            ("0.000", Whole::Is(0)),
            ("-0", Whole::Is(0)),
            ("1.5", Whole::Fraction),
            ("3.0000000000000001", Whole::Fraction),
            ("1e-99999999999999999999", Whole::Fraction),
            ("-2", Whole::Negative),
            ("18446744073709551615", Whole::Is(u64::MAX)),
            ("18446744073709551616", Whole::TooLarge),
            ("1e99999999999999999999", Whole::TooLarge),
        ] {
            assert_eq!(whole(text), count, "{text}");
        }
    }
}
