//! The orphan lesson's claims: the child's parent changes from P to its
//! adopter, and the adopter reaps it.

use lesson_testing::{check_usage, run, start};
use nix::sys::signal::Signal;

const LESSON: &str = env!("CARGO_BIN_EXE_orphan");

#[test]
fn the_orphan_is_adopted_by_the_lesson_and_reaped_by_it() {
    let run = run(LESSON, &["--speed", "max"]);
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let p = run.by("P").next().expect("P traced").pid;
    let c_parent = run
        .by("C")
        .find(|r| r.event == "parent")
        .expect("C reported its parent");
    assert_eq!(c_parent.ppid, p, "C's parent was P");
    let adopted = run
        .events("adopted")
        .next()
        .expect("C reported its adoption");
    assert_eq!(adopted.pid, c_parent.pid);
    assert_eq!(adopted.fields["old"], p);
    assert_eq!(adopted.fields["new"], run.pid);
    assert_eq!(adopted.fields["comm"], "orphan");
    assert_eq!(adopted.ppid, run.pid);
    let reaped = run
        .events("reaped")
        .find(|r| r.fields["of"] == c_parent.pid)
        .expect("the lesson reaped C");
    assert_eq!(reaped.fields["of"], c_parent.pid);
    assert_eq!(reaped.fields["status"], 3);
    assert!(reaped.t >= adopted.t);
}

#[test]
fn without_a_subreaper_the_orphan_goes_to_the_nearest_one() {
    let (run, left) = start(LESSON, &["--speed", "max", "--no-subreaper"]).finish_leaving();
    assert_eq!(run.code(), Some(0), "{}", run.output());
    let me = std::process::id();
    let adopted = run
        .events("adopted")
        .next()
        .expect("C reported its adoption");
    assert_eq!(
        adopted.fields["new"], me,
        "this test process is the nearest subreaper"
    );
    let unreaped = run
        .events("unreaped")
        .next()
        .expect("the lesson saw C stay a zombie");
    assert_eq!(unreaped.fields["by"], me);
    // It says what it saw, and for how long, not what will become of C.
    assert!(
        run.stdout
            .contains("s later, when I stopped watching: it was still a zombie")
            && !run.stdout.contains("stays a zombie"),
        "{}",
        run.output()
    );
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(
        i64::from(left[0].pid),
        unreaped.fields["of"].as_i64().unwrap_or(0)
    );
}

#[test]
fn ctrl_c_while_the_orphan_runs_leaves_nothing_behind() {
    let lesson = start(LESSON, &["--speed", "1"]);
    lesson.wait_for("adopted", 1);
    lesson.signal(Signal::SIGINT);
    let run = lesson.finish();
    assert_eq!(run.code(), Some(130), "{}", run.output());
}

#[test]
fn usage() {
    check_usage(
        LESSON,
        env!("CARGO_PKG_DESCRIPTION"),
        &[&["--no-subreaper=3"], &["--speed", "slow"]],
    );
}
