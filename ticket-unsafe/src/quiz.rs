//! The questions `--quiz` asks before the first buyer starts, the same in
//! both ticket offices; judged from the first sale's reckoning.

use common::quiz::Question;
use common::sale::{BOUGHT, LEFT};

pub const QUIZ: &[Question] = &[BOUGHT, LEFT];
