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

/// `--panic-in` is checked against the names the run's processes were
/// given, also by children (the flood's `z1`, `z2`, … are forked by the
/// parent of part 2): no list of them is kept anywhere else.
#[test]
fn a_panic_in_that_names_no_process_is_refused_with_the_names_forked() {
    let run = run(
        LESSON,
        &["--speed", "max", "--flood", "3", "--panic-in", "nosuch"],
    );
    assert_eq!(run.code(), Some(2), "{}", run.output());
    let refusal: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(refusal.len(), 1, "{}", run.output());
    for name in ["child", "parent", "z1", "z3", "w1"] {
        assert!(
            refusal[0].contains(&format!(" {name},")),
            "{}",
            run.output()
        );
    }
    let forked: Vec<String> = run
        .events("fork")
        .filter_map(|r| r.fields.get("name")?.as_str().map(String::from))
        .collect();
    assert!(forked.contains(&"z3".to_owned()), "{forked:?}");
}
