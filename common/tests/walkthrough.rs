//! The walkthrough, as a learner meets it: `scripts/run_all.sh` runs every
//! lesson in order, waits for Enter with `--pause`, stops on Ctrl-C, and
//! checks that nothing was left behind.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

fn run_all() -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new("bash");
    command
        .arg(root.join("scripts/run_all.sh"))
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .current_dir(std::env::temp_dir());
    as_at_a_terminal(&mut command);
    command
}

/// SIGINT at its default and unblocked, as a terminal's job has it,
/// whatever this test process inherited (a script that runs the suite with
/// `&` leaves it ignored, `env --block-signal` blocked, and bash and the
/// lessons would keep an ignore, bash a mask too): Ctrl-C is what the
/// walkthrough is tested with.
#[allow(unsafe_code)]
fn as_at_a_terminal(command: &mut Command) {
    use nix::libc;
    use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
    let unblock: SigSet = [Signal::SIGINT].into_iter().collect();
    let reset = move || {
        // SAFETY: signal(2) is async-signal-safe, as the time between fork
        // and exec asks, and SIG_DFL runs no code of ours.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
        sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&unblock), None)?;
        Ok(())
    };
    // SAFETY: `reset` makes only async-signal-safe calls, allocates nothing
    // and takes no lock.
    unsafe { command.pre_exec(reset) };
}

#[test]
fn the_fast_walkthrough_pauses_for_enter_between_lessons() {
    // This test process adopts whatever the walkthrough leaves behind
    // (Linux), and the walkthrough runs in a process group of its own: what
    // is still in that group at the end, a `bash` zombie of a process
    // substitution for one, it left.
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_child_subreaper(true).expect("becoming a subreaper");
    let mut child = run_all()
        .args(["--fast", "--pause"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("runs");
    let group = child.id() as i32;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&[b'\n'; 6])
        .expect("six Enters");
    let out = child.wait_with_output().expect("waits");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let order = [
        "zombie",
        "orphan",
        "printer-v1",
        "printer-v2",
        "printer-v3",
        "ticket-unsafe",
        "ticket-locked",
    ];
    let headings: Vec<usize> = order
        .iter()
        .map(|name| {
            text.find(&format!("══ {name} ══"))
                .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        })
        .collect();
    assert!(
        headings.windows(2).all(|w| w[0] < w[1]),
        "in the notes' order\n{text}"
    );
    assert_eq!(text.matches("Press Enter for").count(), 6);
    for name in order {
        assert!(
            text.contains(&format!("$ cargo run -q -p {name} -- --speed 10")),
            "{name}'s command\n{text}"
        );
    }
    assert_eq!(
        text.matches("diff printer-v1/src/main.rs printer-v2/src/main.rs")
            .count(),
        1
    );
    assert!(
        text.contains("+            p.join()?;"),
        "the join, in the diff\n{text}"
    );
    assert!(
        text.contains("OVERSOLD") && text.contains("Every ticket is accounted for"),
        "{text}"
    );
    assert!(text.contains("Nothing left behind"), "{text}");
    let left: Vec<_> = common::system::processes()
        .into_iter()
        .filter(|p| p.pgid == group)
        .collect();
    for p in &left {
        let _ = nix::sys::wait::waitpid(Pid::from_raw(p.pid), None);
    }
    assert!(left.is_empty(), "the walkthrough left {left:#?}");
}

#[test]
fn ctrl_c_stops_the_lesson_and_the_walkthrough() {
    let log = std::env::temp_dir().join(format!("walkthrough-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("log");
    // Its own process group, as a terminal's foreground job has, to send
    // Ctrl-C's SIGINT to all of it.
    let mut child = run_all()
        .args(["--only", "printer-v2", "printer-v3"])
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .process_group(0)
        .spawn()
        .expect("runs");
    // Long enough for its cargo to wait for another cargo's lock.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("p1        starts printing")
    {
        if Instant::now() > deadline {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("printer-v2 never started\n{text}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killpg(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("Ctrl-C");
    let status = child.wait().expect("waits");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.contains("Stopped.") && text.contains("Nothing left behind"),
        "{text}"
    );
    assert!(
        !text.contains("══ printer-v3"),
        "the walkthrough ended\n{text}"
    );
}

/// The built lesson `name`, as the walkthrough builds it.
fn built(name: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "-q", "-p", name])
        .current_dir(&root)
        .stdin(Stdio::null())
        .status()
        .expect("cargo build");
    assert!(built.success(), "cargo build -p {name}");
    target.join("debug").join(name)
}

/// A classroom: two walkthroughs of one user (one TMPDIR, one office) and
/// a lone lesson in another terminal, all at once. The
/// lone lesson is the zombie, held by `--pause` with its zombie in the
/// process table for as long as both walkthroughs run. Each walkthrough
/// judges only its own processes: all three end well, and neither names a
/// process of the others.
#[test]
fn two_walkthroughs_and_a_lone_lesson_judge_only_their_own() {
    let scratch = std::env::temp_dir().join(format!("walkthrough-class-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let mut lone = Command::new(built("zombie"))
        .args(["--speed", "max", "--pause", "--flood", "3"])
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("the lone lesson runs");
    let mut lone_out = std::io::BufReader::new(lone.stdout.take().expect("stdout"));
    let mut seen = String::new();
    while !seen.contains("PAUSED") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut lone_out, &mut line).expect("reads");
        assert!(n > 0, "the lone lesson ended before its pause\n{seen}");
        seen.push_str(&line);
    }
    let lone_pids: Vec<String> = seen
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    std::fs::create_dir_all(&scratch).expect("a TMPDIR for both");
    let walkthroughs: Vec<_> = (0..2)
        .map(|_| {
            run_all()
                .arg("--fast")
                .env("TMPDIR", &scratch)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .expect("runs")
        })
        .collect();
    let outputs: Vec<_> = walkthroughs
        .into_iter()
        .map(|w| w.wait_with_output().expect("waits"))
        .collect();
    // Both ended while the zombie lesson still held its zombie.
    assert!(
        matches!(lone.try_wait(), Ok(None)),
        "the lone lesson ended early"
    );
    let texts: Vec<String> = outputs
        .iter()
        .map(|o| {
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .collect();
    // The pids each walkthrough's lessons printed their lines under.
    let pids_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|t| t.ends_with('s'))
            })
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
            .collect()
    };
    for (i, (out, text)) in outputs.iter().zip(&texts).enumerate() {
        assert_eq!(out.status.code(), Some(0), "walkthrough {i}\n{text}");
        assert!(
            text.contains("Nothing left behind"),
            "walkthrough {i}\n{text}"
        );
        assert!(!text.contains("Left behind"), "walkthrough {i}\n{text}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
        assert!(
            last.is_some_and(|l| l.starts_with("Done: 7 lessons")),
            "walkthrough {i} ends with Done\n{text}"
        );
        let others: Vec<String> = texts
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, t)| pids_of(t))
            .chain(lone_pids.iter().cloned())
            .collect();
        // Where a pid is named: a line's pid column, or after "pid".
        // (pid_max may be small: a pid can look like any other number.)
        let mut words: std::collections::HashSet<String> = pids_of(text).into_iter().collect();
        for line in text.lines() {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            for pair in tokens.windows(2) {
                if ["pid", "ppid", "PPID"].contains(&pair[0]) {
                    let digits: String = pair[1].chars().take_while(char::is_ascii_digit).collect();
                    words.insert(digits);
                }
            }
        }
        let named: Vec<&String> = others.iter().filter(|p| words.contains(*p)).collect();
        assert!(named.is_empty(), "walkthrough {i} names {named:?}\n{text}");
    }
    let mut stdin = lone.stdin.take().expect("stdin");
    stdin.write_all(&[b'\n'; 20]).expect("Enters");
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lone_out, &mut rest).expect("reads");
    let status = lone.wait().expect("waits");
    assert_eq!(status.code(), Some(0), "{seen}{rest}");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The walkthrough says once, at its start, what its one seed does and does
/// not replay; each lesson then says it in a clause.
#[test]
fn the_seed_is_explained_once() {
    let out = run_all()
        .args(["--fast", "--seed", "4242", "--only", "orphan", "printer-v2"])
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("kernel's choice").count(), 1, "{text}");
    assert!(text.contains("Every lesson gets --seed 4242"), "{text}");
    assert_eq!(
        text.matches("seed 4242 (--seed 4242 replays its sleeps)")
            .count(),
        2,
        "{text}"
    );
}
