//! 抢票系统 (ticket office), without a lock: the buyers share one JSON file.
//! Each looks at the count, then buys: reads it, takes one, and writes it
//! back a moment later, while others still read the old count. Watch every
//! buyer be told "bought", and the reckoning find more sold than existed.

use std::process::ExitCode;

use common::ticket::{Office, Outcome, Sale};
use common::{Process, Result, json, say, say_with, sleep_like_seed};

/// 查票: look at how many are left; any number of buyers may at once.
fn search(office: &Office) -> Result<()> {
    sleep_like_seed();
    let count = office.read()?.count;
    say_with(
        "search",
        json!({"count": count}),
        format!("sees {count} tickets left"),
    );
    Ok(())
}

/// 买票: read the count, take a ticket, write the count back. The sleep is
/// the notes' network delay, in which others still read the old count.
fn buy(office: &Office) -> Result<Outcome> {
    let mut tickets = office.read()?;
    if tickets.count == 0 {
        say("sold_out", "finds them sold out");
        return Ok(Outcome::SoldOut);
    }
    tickets.count -= 1;
    sleep_like_seed();
    office.write(&tickets)?;
    say_with(
        "bought",
        json!({"left": tickets.count}),
        format!("bought a ticket; {} left", tickets.count),
    );
    Ok(Outcome::Bought)
}

/// One buyer: the notes' task.
fn task(office: &Office) -> Result<Outcome> {
    search(office)?;
    let outcome = buy(office)?;
    Ok(outcome)
}

fn main() -> ExitCode {
    common::ticket::lesson(common::about!(), |office, names| {
        let mut buyers: Vec<Process> = Vec::new();
        for name in names {
            buyers.push(Process::new(name, || task(office)));
        }
        for b in &mut buyers {
            b.start()?;
        }
        // Each buyer's exit status says how it ended: the kernel keeps it for us.
        let mut sale = Sale::default();
        for b in &mut buyers {
            sale.tally(b.join()?);
        }
        Ok(sale)
    })
}
