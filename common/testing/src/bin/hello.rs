//! Hello, world: what any Rust program costs to start and end, built as
//! the lessons are. `scripts/bench.sh` compares the shortest lesson runs
//! with it.

fn main() {
    println!("Hello, world!");
}
