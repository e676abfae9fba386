//! The course as a learner meets it: the walkthrough's commands carry one
//! seed and can be pasted afterwards, the diffs show where a change sits,
//! and no line runs past the edge of a 100-column terminal.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `command` without colours and without the lessons' environment variables.
fn plain(mut command: Command) -> Command {
    command
        .env("NO_COLOR", "1")
        .env("LESSON_LANG", "en")
        .stdin(Stdio::null());
    for name in ["LESSON_SPEED", "LESSON_SEED", "LESSON_TRACE"] {
        command.env_remove(name);
    }
    command
}

/// Runs `command` in a process group of its own to the end, collecting its
/// output; `None` (and the group killed) if it lasts over `limit`.
fn finished_within(mut command: Command, limit: Duration) -> Option<Output> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let Ok(out) = receiver.recv_timeout(limit) else {
        // Its process group: the lessons it runs too.
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        return None;
    };
    Some(out.unwrap_or_else(|e| panic!("waiting for {command:?}: {e}")))
}

/// Runs `command` to the end (120 s at most), collecting its output.
fn output(command: Command) -> Output {
    let shown = format!("{command:?}");
    finished_within(command, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{shown} ran over 120 s"))
}

/// `scripts/run_all.sh` with `args`, from another directory, standard input
/// closed: its standard output, its standard error and its exit status.
fn walkthrough(args: &[&str]) -> String {
    let mut command = plain(Command::new("bash"));
    command
        .arg(root().join("scripts/run_all.sh"))
        .args(args)
        .current_dir(std::env::temp_dir());
    let out = output(command);
    format!(
        "{}\n{}\nexit: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
    )
}

/// The lesson commands the walkthrough showed ("$ cargo run …"), each with
/// the lines it continues on (after a trailing backslash), as shown.
fn shown_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(command) = line.strip_prefix("$ cargo run") else {
            continue;
        };
        let mut command = format!("cargo run{command}");
        while command.ends_with('\\') {
            command.push('\n');
            command.push_str(lines.next().unwrap_or_default());
        }
        commands.push(command);
    }
    commands
}

/// The value given to `option` in a shown command.
fn value_of<'a>(command: &'a str, option: &str) -> Option<&'a str> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == option)?;
    words.next()
}

/// The walkthrough gives every lesson one seed and shows it in each
/// command (the lessons start with it, too); `--seed 42` gives them 42.
#[test]
fn every_lesson_of_the_walkthrough_gets_the_same_seed() {
    let printers = ["--only", "printer-v1", "printer-v2", "printer-v3"];
    for seed in [None, Some("42")] {
        let mut args = vec!["--fast"];
        args.extend(seed.iter().flat_map(|s| ["--seed", *s]));
        args.extend(printers);
        let text = walkthrough(&args);
        let commands = shown_commands(&text);
        assert_eq!(commands.len(), 3, "{text}");
        let seeds: Vec<Option<&str>> = commands.iter().map(|c| value_of(c, "--seed")).collect();
        let first = seeds[0].unwrap_or_else(|| panic!("no --seed in {}", commands[0]));
        assert!(first.parse::<u64>().is_ok(), "{first}");
        assert!(seeds.iter().all(|s| *s == Some(first)), "{commands:#?}");
        if let Some(seed) = seed {
            assert_eq!(first, seed, "{commands:#?}");
        }
        let started: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" starts: pid "))
            .filter_map(|l| l.split_once(", seed ")?.1.split_whitespace().next())
            .collect();
        assert_eq!(started, [first; 3], "the lessons ran with it\n{text}");
    }
}

/// The ticket commands the walkthrough shows can be pasted once it has
/// ended: the ticket file they name is still there, valid JSON with a
/// "count", and the pasted command runs the sale again. (Its directory is
/// kept until this user's next walkthrough: this one has a TMPDIR of its
/// own, as the other tests here run walkthroughs at the same time.)
#[test]
fn the_ticket_commands_shown_can_be_pasted_afterwards() {
    let tmp = std::env::temp_dir().join(format!("course-paste-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("a TMPDIR of its own");
    let mut command = plain(Command::new("bash"));
    command
        .arg(root().join("scripts/run_all.sh"))
        .args(["--fast", "--only", "ticket-unsafe", "ticket-locked"])
        .env("TMPDIR", &tmp)
        .current_dir(&tmp);
    let out = output(command);
    let text = format!(
        "{}\n{}\nexit: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
    );
    let commands = shown_commands(&text);
    assert_eq!(commands.len(), 2, "{text}");
    assert_eq!(
        text.matches("\nReckoning: ").count(),
        2,
        "both sales were held\n{text}"
    );
    for command in &commands {
        let file = value_of(command, "--file").unwrap_or_else(|| panic!("no --file: {command}"));
        let dir = Path::new(file).parent().expect("a directory");
        assert!(dir.is_dir(), "{} is gone\n{command}", dir.display());
        let json = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let value: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{file}: {e}: {json}"));
        assert!(value["count"].is_u64(), "{file}: {json}");
    }
    let locked = commands
        .iter()
        .find(|c| c.contains("-p ticket-locked"))
        .expect("the ticket-locked command");
    let mut paste = plain(Command::new("bash"));
    paste.arg("-c").arg(locked).current_dir(root());
    let out = output(paste);
    let pasted = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && pasted.contains("Every ticket is accounted for"),
        "pasted {locked}\n{pasted}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `scripts/diff.sh` shows each change with the lines around it: the
/// `join` that version 2 adds comes right after the `start` it follows.
#[test]
fn the_diff_shows_the_join_after_the_start() {
    let mut command = plain(Command::new("bash"));
    command
        .arg(root().join("scripts/diff.sh"))
        .args(["printer-v1", "printer-v2"]);
    let out = output(command);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let join = lines
        .iter()
        .position(|l| *l == "+            p.join()?;")
        .unwrap_or_else(|| panic!("no join in\n{text}"));
    assert!(join > 0, "{text}");
    assert_eq!(lines[join - 1], "             p.start()?;", "{text}");
}

/// The columns `c` takes on a terminal: two for a wide (CJK) character.
fn columns(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F => 0,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
        0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// `line` without its ANSI escape sequences (colours) and carriage returns.
fn visible(line: &str) -> String {
    let mut text = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next() == Some('[') {
                    // Parameters, then one final byte from '@' to '~'.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => text.push(c),
        }
    }
    text
}

/// The built lesson `name`, or `None` (and why) if there is none.
fn built(name: &str) -> Result<PathBuf, String> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    };
    // Up to date with the sources, as the walkthrough builds them.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q", "-p", name])
        .current_dir(root())
        .stdin(Stdio::null());
    match finished_within(build, Duration::from_secs(120)) {
        Some(out) if out.status.success() => {}
        Some(out) => println!(
            "cargo build -p {name} failed; using the binary there is: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        None => println!("cargo build -p {name} took over 120 s; using the binary there is"),
    }
    let program = target.join("debug").join(name);
    match program.is_file() {
        true => Ok(program),
        false => Err(format!("{} is not built", program.display())),
    }
}

/// In a 100-column terminal, no line the lessons print is wider than 100
/// columns (CJK characters take two): printer-v3's verdict and timeline,
/// the zombie's parts and `ps` lines. Needs `script` (util-linux) for the
/// terminal.
#[test]
fn no_line_is_wider_than_a_100_column_terminal() {
    let has_script = Command::new("script")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_script {
        println!("skipped: no `script` (util-linux) to give the lessons a terminal");
        return;
    }
    for (name, args) in [
        ("printer-v3", "--speed 20"),
        ("zombie", "--speed max --flood 5"),
    ] {
        let program = match built(name) {
            Ok(program) => program,
            Err(why) => {
                println!("skipped {name}: {why}");
                continue;
            }
        };
        let quoted = format!("'{}'", program.display().to_string().replace('\'', r"'\''"));
        let inside = format!("stty cols 100 rows 50; {quoted} {args}");
        let mut command = plain(Command::new("script"));
        command
            .args(["-qefc", &inside, "/dev/null"])
            .env_remove("NO_COLOR");
        let out = output(command);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name} {args}: {}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("starts: pid"), "{name} {args}\n{text}");
        let wide: Vec<(usize, String)> = text
            .lines()
            .map(visible)
            .map(|l| (l.chars().map(columns).sum(), l))
            .filter(|(width, _)| *width > 100)
            .collect();
        assert!(
            wide.is_empty(),
            "{name} {args}: lines wider than 100 columns: {wide:#?}"
        );
    }
}

/// `run_all.sh --quiz` passes `--quiz` on, takes the answers piped one a
/// line, and adds up the lessons' scores: certain answers for printer-v2 and
/// ticket-locked make 5 of 5.
#[test]
fn the_walkthrough_quiz_adds_up_the_score() {
    let answers = std::env::temp_dir().join(format!("quiz-answers-{}", std::process::id()));
    std::fs::write(&answers, "2\n1\n2\n1\n1\n").expect("answers");
    let mut command = plain(Command::new("bash"));
    command
        .arg(root().join("scripts/run_all.sh"))
        .args(["--fast", "--quiz", "--only", "printer-v2", "ticket-locked"])
        .current_dir(std::env::temp_dir())
        .stdin(std::fs::File::open(&answers).expect("answers"));
    let out = output(command);
    let _ = std::fs::remove_file(&answers);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Score: 3 of 3") && text.contains("Score: 2 of 2"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim() == "Score: 5 of 5"),
        "the sum at the end\n{text}"
    );
    assert!(text.contains("--quiz"), "the commands show it\n{text}");
}

/// `run_all.sh --lang zh`: the walkthrough's own narration is Chinese, and
/// it passes the language on to the lessons and to the commands it shows.
#[test]
fn the_walkthrough_speaks_chinese() {
    let text = walkthrough(&["--fast", "--lang", "zh", "--only", "orphan", "printer-v2"]);
    for said in [
        "先把所有课程编译一次",
        "孤儿进程：",
        "版本二：",
        "完成：",
        "什么也没留下",
    ] {
        assert!(text.contains(said), "no {said:?} in\n{text}");
    }
    assert!(
        text.contains("(printer-v2 先 join 上一位同事，再启动下一位)"),
        "{text}"
    );
    for command in shown_commands(&text) {
        assert!(command.contains("--lang zh"), "{command}");
    }
    assert!(
        text.contains("开始打印了") && text.contains("结论："),
        "{text}"
    );
}
