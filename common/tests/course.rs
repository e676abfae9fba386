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

/// Runs `command` to the end (300 s at most: a walkthrough's cargo may wait
/// for another cargo's lock on a busy machine), collecting its output.
fn output(command: Command) -> Output {
    let shown = format!("{command:?}");
    finished_within(command, Duration::from_secs(300))
        .unwrap_or_else(|| panic!("{shown} ran over 300 s"))
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
/// ended: the ticket files they name are still there, valid JSON with a
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
    // Each lesson's sale, its every schedule, and the shortest schedule
    // that oversold, replayed: held without the lock, refused with it.
    let commands = shown_commands(&text);
    assert_eq!(commands.len(), 6, "{text}");
    assert_eq!(
        text.matches("\nReckoning: ").count(),
        3,
        "both sales and the replay were held\n{text}"
    );
    assert_eq!(text.matches("\nEvery schedule: ").count(), 2, "{text}");
    assert!(text.contains("cannot run under this version"), "{text}");
    assert!(!text.contains("exited with status"), "{text}");
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

/// Every line `scripts/diff.sh` shows of the three pairs of versions fits an
/// 80-column terminal: the lessons' sources are kept that narrow.
#[test]
fn the_diffs_fit_an_80_column_terminal() {
    for (a, b) in [
        ("printer-v1", "printer-v2"),
        ("printer-v2", "printer-v3"),
        ("ticket-unsafe", "ticket-locked"),
    ] {
        for lang in ["en", "zh"] {
            let mut command = plain(Command::new("bash"));
            command
                .arg(root().join("scripts/diff.sh"))
                .args([a, b])
                .env("LESSON_LANG", lang);
            let out = output(command);
            assert!(out.status.success(), "diff.sh {a} {b}");
            let text = String::from_utf8_lossy(&out.stdout);
            for line in text.lines() {
                let width: usize = line.chars().map(columns).sum();
                assert!(width <= 80, "diff.sh {a} {b}: {width} columns: {line:?}");
            }
        }
    }
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

/// The columns `c` takes on a terminal: its display width, two for a wide
/// (CJK) character, none for a combining one.
fn columns(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `line` without its ANSI escape sequences (colours) and carriage returns.
fn visible(line: &str) -> String {
    // A carriage return inside a line (cargo's progress bar) starts it
    // over: what shows is what comes after the last one.
    let line = line.trim_end_matches('\r');
    let line = line.rsplit('\r').next().unwrap_or_default();
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

/// Whether `script` (util-linux) is there to give a command a terminal.
fn has_script() -> bool {
    Command::new("script")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `inside` (a shell command) run in a pseudo-terminal of `cols` columns,
/// with colours: what the terminal showed, without its escape sequences.
/// It must succeed.
fn on_terminal(cols: usize, inside: &str) -> String {
    let (text, ok) = shown_on_terminal(cols, inside);
    assert!(ok, "{inside}: failed\n{text}");
    text
}

/// Like [`on_terminal`], and whether `inside` succeeded.
fn shown_on_terminal(cols: usize, inside: &str) -> (String, bool) {
    let inside = format!("stty cols {cols} rows 50; {inside}");
    let mut command = plain(Command::new("script"));
    command
        .args(["-qefc", &inside, "/dev/null"])
        .current_dir(root())
        .env_remove("NO_COLOR");
    let out = output(command);
    let text = String::from_utf8_lossy(&out.stdout);
    let shown = text.lines().map(visible).collect::<Vec<_>>().join("\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    (format!("{shown}\n{stderr}"), out.status.success())
}

/// The width of a lesson line's prefix: time, pid and name.
const PREFIX: usize = 27;

/// True for a lesson line, one that starts with its prefix
/// (`  0.512s   12345 p1        `).
fn prefixed(line: &str) -> bool {
    let Some(head) = line.get(..PREFIX) else {
        return false;
    };
    let mut words = head.split_whitespace();
    let time = words.next().and_then(|t| t.strip_suffix('s'));
    let pid = words.next();
    time.is_some_and(|t| t.parse::<f64>().is_ok())
        && pid.is_some_and(|p| p.parse::<u32>().is_ok())
        && words.next().is_some()
        && head.ends_with(' ')
}

/// The commands on `lines` shown for pasting: each begins after `starts`
/// (on its line, or alone on the next if nothing follows there), goes on
/// over the lines its trailing backslashes continue it on, each of them
/// indented, and is followed by a lesson line, a blank line or the end.
/// Returns each command as it pastes, its words between single spaces.
fn pasted_commands(lines: &[&str], starts: &str, what: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(at) = lines[i].find(starts) else {
            i += 1;
            continue;
        };
        let mut command = lines[i][at + starts.len()..].trim().to_owned();
        if command.is_empty() {
            i += 1;
            command = lines.get(i).copied().unwrap_or_default().trim().to_owned();
        }
        while let Some(head) = command.strip_suffix('\\') {
            command = head.to_owned();
            i += 1;
            let next = lines.get(i).copied().unwrap_or_default();
            assert!(
                next.starts_with("  "),
                "{what}: a continuation not indented: {next:?}"
            );
            command.push(' ');
            command.push_str(next.trim());
        }
        let after = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            after.is_empty() || prefixed(after),
            "{what}: the command {command:?} goes on without a backslash: {after:?}"
        );
        commands.push(command.split_whitespace().collect::<Vec<_>>().join(" "));
        i += 1;
    }
    commands
}

/// What must hold of every screen: no line is wider than the terminal; a
/// lesson line goes on only indented under its text; no number is parted
/// from its unit.
fn check_screen(text: &str, cols: usize, what: &str) {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let width: usize = line.chars().map(columns).sum();
        assert!(
            width <= cols,
            "{what}: {width} columns, wider than {cols}: {line:?}\n{text}"
        );
        let Some(next) = lines.get(i + 1) else {
            continue;
        };
        // Under a lesson line, only its continuation or another lesson
        // line, or a line of the lesson's own (a heading, a question, a
        // verdict, the timeline), which in English starts as a sentence.
        let lesson = prefixed(line) || line.starts_with(&" ".repeat(PREFIX));
        let goes_on = next.starts_with(&" ".repeat(PREFIX)) || prefixed(next) || next.is_empty();
        if lesson && !goes_on && !what.contains("zh") {
            assert!(
                next.starts_with(|c: char| c.is_ascii_uppercase() || "─  (".contains(c)),
                "{what}: a lesson line goes on at column 0: {line:?} / {next:?}\n{text}"
            );
        }
        let end = line.trim_end();
        let start = next.trim_start();
        let unit = ["s", "ms", "秒", "%", "MB"].iter().any(|u| {
            start.starts_with(u) && !start[u.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
        });
        assert!(
            !(end.ends_with(|c: char| c.is_ascii_digit()) && unit),
            "{what}: a number parted from its unit: {end:?} / {start:?}\n{text}"
        );
    }
}

/// At 80 and 100 columns, in English and Chinese, the lessons' lines fit
/// the terminal, go on indented under their text, keep their numbers with
/// their units and their indents (the `ps` header over its rows), and the
/// command a `--pause` hint gives pastes as it is shown.
#[test]
fn the_lessons_wrap_to_the_terminal() {
    if !has_script() {
        println!("skipped: no `script` (util-linux) to give the lessons a terminal");
        return;
    }
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let tickets = scratch.path().join("tickets.json");
    let runs = [
        ("zombie", "--speed max --flood 5".to_owned()),
        ("orphan", "--speed max".to_owned()),
        ("printer-v3", "--speed 20".to_owned()),
        (
            "ticket-locked",
            format!("--speed max --file '{}'", tickets.display()),
        ),
        ("orphan", "--speed max --pause < /dev/null".to_owned()),
    ];
    for (name, args) in runs {
        let program = match built(name) {
            Ok(program) => program,
            Err(why) => {
                println!("skipped {name}: {why}");
                continue;
            }
        };
        let quoted = format!("'{}'", program.display().to_string().replace('\'', r"'\''"));
        for cols in [80, 100] {
            for lang in ["", " --lang zh"] {
                let what = format!("{name} {args}{lang} at {cols}");
                let (args, input) = args.split_once(" < ").unwrap_or((&args, ""));
                let feed = if input.is_empty() {
                    String::new()
                } else {
                    "printf '\\n\\n\\n' | ".to_owned()
                };
                let text = on_terminal(cols, &format!("{feed}{quoted} {args}{lang}"));
                assert!(text.contains("pid "), "{what}\n{text}");
                check_screen(&text, cols, &what);
                let lines: Vec<&str> = text.lines().collect();
                if name == "zombie" {
                    let header = lines
                        .iter()
                        .find(|l| l.contains("PID") && l.contains("PPID") && !l.contains("ps -o"))
                        .unwrap_or_else(|| panic!("{what}: no ps header\n{text}"));
                    assert!(header[PREFIX..].starts_with("  "), "{what}: {header:?}");
                    let reaped = lines
                        .iter()
                        .find(|l| l.contains("wait4 reaped each") || l.contains("wait4 逐个回收"));
                    assert!(
                        reaped.is_some_and(|l| l[PREFIX..].starts_with("   w")),
                        "{what}: {reaped:?}"
                    );
                }
                if args.contains("--pause") {
                    let starts = if lang.is_empty() {
                        "look from another terminal:"
                    } else {
                        "在另一个终端里查看："
                    };
                    let commands = pasted_commands(&lines, starts, &what);
                    assert_eq!(commands.len(), 1, "{what}\n{text}");
                    let pid = commands[0].rsplit(' ').next().unwrap_or_default();
                    assert!(pid.parse::<u32>().is_ok(), "{what}: {commands:?}\n{text}");
                    assert_eq!(
                        commands[0],
                        format!("ps -o pid,ppid,stat,comm -p {pid}; pstree -ps {pid}"),
                        "{what}: {commands:?}\n{text}"
                    );
                }
            }
        }
    }
}

/// The walkthrough's own notes and the commands it shows wrap to the
/// terminal too, and a command goes on only with a backslash, as it pastes.
#[test]
fn the_walkthrough_wraps_to_the_terminal() {
    if !has_script() {
        println!("skipped: no `script` (util-linux) to give the walkthrough a terminal");
        return;
    }
    let answers = std::env::temp_dir().join(format!("wrap-answers-{}", std::process::id()));
    std::fs::write(&answers, "2\n1\n2\n1\n1\n").expect("answers");
    let quoted = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let run_all = quoted(&root().join("scripts/run_all.sh"));
    for cols in [80, 100] {
        for (args, input) in [
            ("--fast --only orphan printer-v2", "/dev/null".to_owned()),
            (
                "--fast --lang zh --only orphan printer-v2",
                "/dev/null".to_owned(),
            ),
            ("--fast --quiz --only orphan printer-v2", quoted(&answers)),
        ] {
            let what = format!("run_all.sh {args} at {cols}");
            let (text, _) = shown_on_terminal(cols, &format!("bash {run_all} {args} < {input}"));
            // It judges only its own processes: lessons run meanwhile by
            // other tests are not "left behind".
            assert!(
                ["Done:", "完成："].iter().any(|e| text.contains(e)),
                "{what}\n{text}"
            );
            assert!(
                !["Left behind", "留下了"].iter().any(|e| text.contains(e)),
                "{what}\n{text}"
            );
            check_screen(&text, cols, &what);
            let lines: Vec<&str> = text.lines().collect();
            let commands = pasted_commands(&lines, "$ ", &what);
            assert_eq!(commands.len(), 2, "{what}\n{text}");
            for command in &commands {
                assert!(command.starts_with("cargo run -q -p "), "{what}: {command}");
                if args.contains("--quiz") {
                    let trace = value_of(command, "--trace").unwrap_or_default();
                    assert!(
                        trace.ends_with(".jsonl") && trace.contains("/quiz-"),
                        "{what}: {command}"
                    );
                }
            }
            // Each note is one paragraph, wrapped: its heading's next line
            // fills the terminal more than half.
            let note = lines
                .iter()
                .position(|l| l.starts_with("══ orphan"))
                .map(|at| lines[at + 1])
                .unwrap_or_else(|| panic!("{what}: no orphan note\n{text}"));
            let width: usize = note.chars().map(columns).sum();
            assert!(width > cols / 2 && width <= cols, "{what}: {note:?}");
        }
    }
    let _ = std::fs::remove_file(&answers);
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
        text.contains("（printer-v2 先 join 上一位同事，再启动下一位）"),
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
