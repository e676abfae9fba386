//! `--quiz`'s questions, the same in all three printers: see `timeline`.

use common::quiz::Question;
use common::timeline::{ORDER, OVERLAP, SCHEDULES, WAIT};

pub const QUIZ: &[Question] = &[OVERLAP, ORDER, WAIT, SCHEDULES];
