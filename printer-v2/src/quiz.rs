//! The questions `--quiz` asks before the colleagues start, the same in
//! all three printers; judged from the timeline once they are reaped.

use common::quiz::Question;
use common::timeline::{ORDER, OVERLAP, WAIT};

pub const QUIZ: &[Question] = &[OVERLAP, ORDER, WAIT];
