//! The questions `--quiz` asks before the first buyer starts, the same in
//! both ticket offices; judged from the first sale's reckoning, or with
//! `--every-schedule` from every schedule's.

use common::quiz::Question;
use common::sale::{BOUGHT, LEFT, SCHEDULES, SHARED_LOCK};

pub const QUIZ: &[Question] = &[BOUGHT, LEFT, SCHEDULES, SHARED_LOCK];
