//! What the orphan lesson says of C is true of the trace: C is never
//! without a parent, since the kernel gives it to its adopter as P exits.

use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

/// The line that reaps P says C was adopted, never that it runs on without
/// a parent; and every record C wrote after P's exit names the adopter as
/// its parent, not P.
#[test]
fn c_is_adopted_the_moment_p_exits() {
    for speed in ["max", "20"] {
        let run = run(LESSON, &["--speed", speed]);
        assert_eq!(run.code(), Some(0), "{}", run.output());
        let reaped = run
            .stdout
            .lines()
            .find(|l| l.contains("reaped P at once"))
            .unwrap_or_else(|| panic!("{}", run.output()));
        assert!(reaped.contains("adopted the moment P exited"), "{reaped}");
        assert!(!run.stdout.contains("without a parent"), "{}", run.output());
        let p = run.by("P").next().expect("P's records").pid;
        let exit = run.by("P").find(|r| r.event == "exit").expect("P's exit").t;
        let adopter = run.events("adopted").next().expect("adopted").fields["new"]
            .as_i64()
            .expect("new parent");
        for r in run.by("C").filter(|r| r.t > exit) {
            assert_ne!(r.ppid, p, "{r:?}");
            assert_eq!(i64::from(r.ppid), adopter, "{r:?}");
        }
    }
}
