//! The child's branch of `fork` never runs its parent's code: a child that
//! panics there ends with status 101, and its parent alone goes on.

use lesson_testing::run;

const LESSON: &str = env!("CARGO_BIN_EXE_zombie");

#[test]
fn a_child_that_panics_in_its_branch_never_runs_its_parents_code() {
    for name in ["child", "parent", "w3", "handler"] {
        let run = run(
            LESSON,
            &["--speed", "max", "--flood", "3", "--panic-in", name],
        );
        assert_eq!(run.code(), Some(1), "{name}\n{}", run.output());
        assert!(
            run.stderr.contains(&format!("{name} panics on purpose")),
            "{name}\n{}",
            run.output()
        );
        let reports = run
            .stderr
            .lines()
            .filter(|l| {
                l.contains(&format!("{name} (pid")) && l.contains("panicked (exit status 101)")
            })
            .count();
        assert_eq!(reports, 1, "{name}\n{}", run.output());
        // Every line the lesson's own code wrote came from one process: had
        // the child gone on into it, its pid would be there too.
        let main: std::collections::BTreeSet<i32> = run.by("main").map(|r| r.pid).collect();
        assert_eq!(main.len(), 1, "{name}\n{}", run.output());
        assert_eq!(run.events("begin").count(), 1, "{name}\n{}", run.output());
        assert_eq!(run.by(name).count(), 0, "{name}\n{}", run.output());
    }
}

/// A child reaped by part 4's SIGCHLD handler that panicked is not lost:
/// the handler read its status, and its process fails the lesson.
#[test]
fn a_panic_the_sigchld_handler_reaps_fails_the_lesson() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "3", "--panic-in", "h2"],
    );
    assert_eq!(run.code(), Some(1), "{}", run.output());
    assert!(
        run.stderr.contains("h2 panics on purpose"),
        "{}",
        run.output()
    );
    assert!(
        run.stderr
            .contains("1 of the children the handler reaped failed"),
        "{}",
        run.output()
    );
}
