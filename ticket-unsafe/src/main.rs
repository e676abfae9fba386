//! 抢票系统 (ticket office), without a lock: the buyers share one JSON file.
//! Each looks at the count, then buys: reads it, takes one, and writes it
//! back a moment later, while others still read the old count. Watch every
//! buyer be told "bought", and the reckoning find more sold than existed.

mod quiz;

use std::path::Path;
use std::process::ExitCode;

use common::log::plural;
use common::sale::{self, Outcome};
use common::{Options, Process, Result, anyhow, event, sleep_like_seed, tr};
use serde::Serialize;
use serde_json::{Map, Value, json};

#[derive(Debug, clap::Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    office: sale::Office,

    #[command(flatten)]
    options: Options,
}

/// The ticket office's whole database, the notes' `dic`: `{"count": 3}`,
/// with whatever else the file holds kept as it was, where it was. `count`
/// is the one that counts: writing puts it back into `dic`, in its place.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "Map<String, Value>")]
struct Tickets {
    count: u64,
    dic: Map<String, Value>,
}

impl TryFrom<Map<String, Value>> for Tickets {
    type Error = String;

    fn try_from(dic: Map<String, Value>) -> std::result::Result<Self, String> {
        let count = sale::check_count(&dic)?;
        Ok(Tickets { count, dic })
    }
}

impl From<Tickets> for Map<String, Value> {
    fn from(Tickets { count, mut dic }: Tickets) -> Self {
        dic.insert("count".to_owned(), count.into());
        dic
    }
}

/// `json.load(open("ticket.json"))`: every process opens and reads the file
/// itself; a file is what processes, each with its own memory, can share.
fn load(file: &Path) -> Result<Tickets> {
    let dic = sale::read_json_object(file)?;
    // Not through `serde_json::from_value`, which would read each number
    // again and spell `1e2` as `1e+2`: every other field is kept as written.
    Tickets::try_from(dic)
        .map_err(|problem| anyhow!("{}: {problem}", file.display()))
}

/// `json.dump(dic, open("ticket.json", "w"))`, but never half written:
/// `open(..., "w")` empties the file first, and a buyer reading it then
/// finds no JSON. So the new text goes to a temporary file, and `rename`
/// swaps it in: readers see the old file or the new one.
fn dump(file: &Path, tickets: &Tickets) -> Result<()> {
    let text = serde_json::to_string(tickets)? + "\n";
    sale::replace(file, text.as_bytes())
}

/// 查票: look at how many are left; any number of buyers may at once.
fn search(file: &Path) -> Result<()> {
    sleep_like_seed();
    let count = load(file)?.count;
    event(
        "search",
        json!({"count": count}),
        tr!("sees {} left", plural(count, "ticket", "tickets")),
    );
    Ok(())
}

/// 买票: read the count, take a ticket, write the count back. The sleep is
/// the notes' network delay, in which others still read the old count.
fn buy(file: &Path) -> Result<Outcome> {
    let mut tickets = load(file)?;
    if tickets.count == 0 {
        event("sold_out", (), tr!("finds them sold out"));
        return Ok(Outcome::SoldOut);
    }
    tickets.count -= 1;
    sleep_like_seed();
    dump(file, &tickets)?;
    event(
        "bought",
        json!({"left": tickets.count}),
        tr!("bought a ticket; {} left", tickets.count),
    );
    Ok(Outcome::Bought)
}

/// One buyer: the notes' task.
fn task(file: &Path) -> Result<Outcome> {
    search(file)?;
    let outcome = buy(file)?;
    Ok(outcome)
}

fn main() -> ExitCode {
    common::run!(|args: Args| {
        let file = args.office.file.as_path();
        sale::hold(&args.office, || {
            let mut buyers: Vec<Process> = Vec::new();
            for i in 1..=args.office.buyers {
                let name = format!("buyer-{i}");
                buyers.push(Process::new(name, || task(file)));
            }
            for b in &mut buyers {
                b.start()?;
            }
            // Python's main process waits for its children before it
            // exits. This one joins them, and learns from each exit status
            // how that buyer ended: the kernel keeps it for the parent, for
            // the reckoning.
            buyers.iter_mut().map(Process::join).collect()
        })
    })
}
