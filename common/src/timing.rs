//! Time as the notes spend it: `time.sleep(random.randint(1, 3))`, scaled by
//! `--speed`, with draws that `--seed` makes reproducible.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// How fast the lesson's clock runs: `Times(2.0)` halves every sleep, `Max`
/// skips them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    Times(f64),
    Max,
}

/// Slower than 0.01, a lesson's 3 s sleep lasts over 5 minutes; faster than
/// 1000, it is 3 ms, as good as `max`.
const MIN: f64 = 0.01;
const MAX: f64 = 1000.0;

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(n) if (MIN..=MAX).contains(&n) => Ok(Speed::Times(n)),
            _ => Err(tr!(
                "'{}' is not a speed: give a number from {} to {}, or 'max'",
                s,
                MIN,
                MAX
            )),
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Times(n) => write!(f, "{n}"),
            Speed::Max => f.write_str("max"),
        }
    }
}

struct Plan {
    speed: Speed,
    seed: u64,
}

static PLAN: OnceLock<Plan> = OnceLock::new();
/// The calling process's draws: the seed of its stream, and the generator,
/// started at the first draw (a child that draws nothing, at `--speed max`,
/// never pays for one).
static RNG: Mutex<(u64, Option<StdRng>)> = Mutex::new((0, None));

/// Fixes the speed and the seed for the lesson and every child; returns the seed,
/// drawn at random when none was given, so any run can be replayed.
pub(crate) fn init(speed: Speed, seed: Option<u64>) -> u64 {
    // Small enough to retype.
    let seed = seed.unwrap_or_else(|| rand::make_rng::<StdRng>().random_range(1..100_000));
    let _ = PLAN.set(Plan { speed, seed });
    draws_for("main");
    seed
}

/// Gives the calling process its own stream of draws, fixed by the seed and
/// its name: `p2` draws the same numbers in every run with the same seed,
/// whatever the other processes do.
pub(crate) fn draws_for(name: &str) {
    let seed = PLAN.get().map_or(0, |p| p.seed);
    let stream = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    *RNG.lock().unwrap_or_else(|e| e.into_inner()) = (seed ^ stream, None);
}

/// `random.randint(low, high)`: a whole number from `low` to `high`, both included.
pub(crate) fn randint(low: u64, high: u64) -> u64 {
    let (seed, rng) = &mut *RNG.lock().unwrap_or_else(|e| e.into_inner());
    rng.get_or_insert_with(|| StdRng::seed_from_u64(*seed))
        .random_range(low..=high)
}

/// The lesson's speed.
fn speed() -> Speed {
    PLAN.get().map_or(Speed::Times(1.0), |p| p.speed)
}

/// `seconds` of the notes' time, as long as it lasts at the lesson's speed.
pub fn scaled(seconds: f64) -> Duration {
    match speed() {
        Speed::Max => Duration::ZERO,
        Speed::Times(n) => Duration::try_from_secs_f64(seconds / n).unwrap_or(Duration::MAX),
    }
}

/// A `timeval` (seconds and microseconds, as the kernel reports CPU time)
/// as a `Duration`.
pub(crate) fn duration(seconds: impl Into<i64>, micros: impl Into<i64>) -> Duration {
    let micros = seconds.into() * 1_000_000 + micros.into();
    Duration::from_micros(micros.max(0).unsigned_abs())
}

/// Keeps the CPU busy until this process has used `total` of CPU time in
/// all (user + system, as `getrusage` counts it), for its parent to read back.
pub fn burn_cpu(total: Duration) {
    use nix::sys::{resource, time::TimeValLike};
    let used = || {
        resource::getrusage(resource::UsageWho::RUSAGE_SELF).map_or(Duration::MAX, |u| {
            duration(
                0,
                u.user_time().num_microseconds() + u.system_time().num_microseconds(),
            )
        })
    };
    while used() < total {
        for i in 0..20_000u32 {
            std::hint::black_box(i);
        }
    }
}

/// Sleeps, but wakes early when the lesson is being stopped (Ctrl-C), so
/// that a parent that sleeps does not keep the learner waiting.
pub fn sleep(duration: Duration) {
    const STEP: Duration = Duration::from_millis(20);
    let mut left = duration;
    while !left.is_zero() && !crate::signals::stopping() {
        let step = left.min(STEP);
        std::thread::sleep(step);
        left -= step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse_and_reject() {
        assert_eq!("max".parse(), Ok(Speed::Max));
        assert_eq!("2.5".parse(), Ok(Speed::Times(2.5)));
        assert_eq!("0.01".parse(), Ok(Speed::Times(0.01)));
        for bad in [
            "0", "-1", "fast", "inf", "NaN", "", "1e-300", "5e-324", "0.009", "1001",
        ] {
            assert!(bad.parse::<Speed>().is_err(), "{bad} accepted");
        }
    }
}
