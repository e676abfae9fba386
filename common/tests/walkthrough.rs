//! The walkthrough, as a learner meets it: `scripts/run_all.sh` runs every
//! lesson in order, waits for Enter with `--pause`, stops on Ctrl-C, and
//! checks that nothing was left behind.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The walkthrough checks the whole process table for lessons left over:
/// two at once would see each other's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_all() -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new("bash");
    command
        .arg(root.join("scripts/run_all.sh"))
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .current_dir(std::env::temp_dir());
    command
}

#[test]
fn the_fast_walkthrough_pauses_for_enter_between_lessons() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("p1        starts printing")
    {
        assert!(Instant::now() < deadline, "printer-v2 never started");
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
