//! Prose wrapped to the terminal's width, so that no line runs past the
//! edge of a projector's screen. Output that is not a terminal (a pipe, a
//! file, a test) is left as it is: one line per line, for grep.
//!
//! Lines break where Unicode's line-breaking rules allow (anywhere between
//! two Chinese characters, not before a full-width comma), English words
//! only at spaces, widths counted as a terminal shows them (two columns for
//! a CJK character). A number keeps its unit (`0.102 s`, `3 秒`), a line
//! keeps its indent, and a command is broken only as it can still be
//! pasted: at a space between arguments, with a backslash.

use textwrap::core::Word;
use textwrap::{Options, WordSeparator, WordSplitter, WrapAlgorithm};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The columns of the terminal standard output is, if it is one.
pub fn terminal_width() -> Option<usize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col >= 40).then_some(usize::from(size.ws_col))
}

/// The columns `text` takes on a terminal: two for a CJK character.
pub fn columns(text: &str) -> usize {
    text.width()
}

/// `text` broken into lines of at most `width` columns. Its leading spaces
/// stay, and every line it is continued on starts with them too (past a
/// list's `1) `, so that a choice's lines stand under its text). A word
/// longer than a line is broken, so that the terminal never does it at
/// column 0.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let body = text.trim_start_matches(' ');
    let indent = &text[..text.len() - body.len()];
    if body.is_empty() || columns(text) <= width {
        return vec![text.to_owned()];
    }
    let hanging = format!("{indent}{}", " ".repeat(columns(marker(body))));
    let glued = glue_units(body);
    let options = Options::new(width)
        .initial_indent(indent)
        .subsequent_indent(&hanging)
        .break_words(true)
        .word_separator(WordSeparator::Custom(break_opportunities))
        .word_splitter(WordSplitter::NoHyphenation)
        .wrap_algorithm(WrapAlgorithm::FirstFit);
    textwrap::wrap(glued.as_deref().unwrap_or(body), &options)
        .into_iter()
        .map(|line| match glued {
            Some(_) => line.replace(GLUE, " "),
            None => line.into_owned(),
        })
        .collect()
}

/// `command` as lines of at most `width` columns that paste as it: the
/// first line starts with `first` (a prompt, an indent), the others with
/// `rest`, and each but the last ends with ` \`. Broken only at spaces
/// outside quotes, and not between an option and its value (`--seed 42`)
/// while they fit on a line; an argument wider than a line stays whole.
pub fn command(command: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    for unit in options_with_values(&arguments(command)) {
        let fits = columns(rest) + columns(&unit.join(" ")) + 2 <= width;
        match fits {
            true => pieces.push(unit.join(" ")),
            false => pieces.extend(unit.iter().map(|a| a.to_string())),
        }
    }
    let mut lines = vec![first.to_owned()];
    for (i, piece) in pieces.iter().enumerate() {
        let line = lines.last_mut().expect("one line at least");
        // Room for the piece, and for " \" after it unless it is the last.
        let backslash = if i + 1 < pieces.len() { 2 } else { 0 };
        if i > 0 && columns(line) + 1 + columns(piece) + backslash > width {
            line.push_str(" \\");
            lines.push(format!("{rest}{piece}"));
        } else {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(piece);
        }
    }
    lines
}

/// `arguments` in units: an option (`-p`, `--seed`) with the value after
/// it, if one follows; any other argument alone.
fn options_with_values<'a>(arguments: &[&'a str]) -> Vec<Vec<&'a str>> {
    let option = |a: &str| a.starts_with('-') && a != "--";
    let mut units: Vec<Vec<&str>> = Vec::new();
    for (i, argument) in arguments.iter().enumerate() {
        let value_of_previous = i > 0
            && option(arguments[i - 1])
            && !argument.starts_with('-')
            && units.last().is_some_and(|u| u.len() == 1);
        match value_of_previous {
            true => units.last_mut().expect("the option").push(argument),
            false => units.push(vec![argument]),
        }
    }
    units
}

/// `text`, a line that ends with `command` (`look from another terminal:
/// ps …`), in lines of at most `width` columns: on one if it fits, else
/// what comes before the command as prose, and the command under it,
/// indented, broken only as it pastes (see [`command`]).
pub fn ending_with_command(text: &str, command: &str, width: usize) -> Vec<String> {
    let Some(before) = text.strip_suffix(command).filter(|_| columns(text) > width) else {
        return wrap(text, width);
    };
    let indent = " ".repeat(text.len() - text.trim_start_matches(' ').len() + 2);
    let mut lines = wrap(before.trim_end(), width);
    lines.extend(self::command(
        command,
        &indent,
        &format!("{indent}    "),
        width,
    ));
    lines
}

/// The arguments of a shell command: its words between spaces, a quoted
/// stretch (`'a b'`, `"a b"`) kept in its word.
fn arguments(command: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote = None;
    for (at, c) in command.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, ' ') => {
                if let Some(s) = start.take() {
                    words.push(&command[s..at]);
                }
            }
            (None, c) => {
                start.get_or_insert(at);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    if let Some(s) = start {
        words.push(&command[s..]);
    }
    words
}

/// What stands in for a space that must not break, while wrapping; a plain
/// space again in what is printed.
const GLUE: char = '\u{a0}';

/// Units that stay with the number before them: `0.102 s`, `12 ms`, `3 MB`.
const UNITS: [&str; 14] = [
    "s", "ms", "µs", "us", "ns", "min", "%", "KB", "kB", "KiB", "MB", "MiB", "GB", "GiB",
];

/// Words that name the number after them, read as one: `pid 9484` (and
/// any Chinese word: `种子 42`).
const LABELS: [&str; 5] = ["pid", "ppid", "status", "seed", "uid"];

/// `text` with each space between a number and its unit made one that
/// does not break: a unit of [`UNITS`], or a Chinese character after a
/// number (`3 秒`, `3 张`); and each between an option and its number
/// (`--seed 42`), which are pasted together, or a label of [`LABELS`] and its number. `None` if there is none, or if `text` has its
/// own no-break spaces (which must stay as they are).
fn glue_units(text: &str) -> Option<String> {
    if text.contains(GLUE) {
        return None;
    }
    let mut glued = String::with_capacity(text.len());
    let mut changed = false;
    for (at, c) in text.char_indices() {
        let (before, after) = (&text[..at], &text[at + c.len_utf8()..]);
        let glue = c == ' ' && {
            let number = before.ends_with(|p: char| p.is_ascii_digit()) && is_unit(after);
            let word = before
                .rsplit(|w: char| !(w.is_ascii_alphanumeric() || w == '-'))
                .next()
                .unwrap_or_default();
            let labelled =
                word.starts_with("--") || LABELS.contains(&word) || before.ends_with(is_wide);
            // An arrow stays with what it follows: a line never starts `→ p2`.
            number
                || (labelled && after.starts_with(|d: char| d.is_ascii_digit()))
                || after.starts_with('→')
        };
        glued.push(if glue { GLUE } else { c });
        changed |= glue;
    }
    changed.then_some(glued)
}

/// True if `text` starts with a unit: one of [`UNITS`] as a whole word, or
/// a wide (Chinese) character.
fn is_unit(text: &str) -> bool {
    if text.chars().next().is_some_and(is_wide) {
        return true;
    }
    let word_end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '%' || c == 'µ'))
        .unwrap_or(text.len());
    UNITS.contains(&&text[..word_end])
}

fn is_wide(c: char) -> bool {
    c.width() == Some(2)
}

/// A list's marker at the start of `text` (`1) `), or nothing.
fn marker(text: &str) -> &str {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    match text[digits..].starts_with(") ") {
        true if digits > 0 => &text[..digits + 2],
        _ => "",
    }
}

/// The words of `line` to wrap, each with the spaces after it: English
/// words are broken only after spaces (even before a `/`, which Unicode's
/// rules would keep with the space before it), and next to a wide
/// character wherever Unicode's line-breaking rules allow. So `被 root 收养`
/// breaks between any two Chinese characters, but `/proc/locks` or
/// `printer-v2` never inside.
fn break_opportunities(line: &str) -> Box<dyn Iterator<Item = Word<'_>> + '_> {
    let mut unicode = Vec::new();
    let mut end = 0;
    for word in WordSeparator::UnicodeBreakProperties.find_words(line) {
        end += word.word.len() + word.whitespace.len();
        unicode.push(end);
    }
    let mut words = Vec::new();
    let mut start = 0;
    let mut previous = None;
    for (at, c) in line.char_indices() {
        let after_space = previous == Some(' ') && c != ' ';
        let wide = previous.is_some_and(is_wide) || is_wide(c);
        if at > start && (after_space || (wide && unicode.binary_search(&at).is_ok())) {
            words.push(Word::from(&line[start..at]));
            start = at;
        }
        previous = Some(c);
    }
    if start < line.len() {
        words.push(Word::from(&line[start..]));
    }
    Box::new(words.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest(lines: &[String]) -> usize {
        lines.iter().map(|l| columns(l)).max().unwrap_or(0)
    }

    #[test]
    fn prose_wraps_at_spaces_and_counts_wide_characters_twice() {
        assert_eq!(wrap("aaa bbb ccc ddd", 8), ["aaa bbb", "ccc ddd"]);
        assert_eq!(columns("公平性"), 6);
        assert_eq!(columns("，"), 2);
        assert_eq!(wrap("公平性 公平性", 8).len(), 2);
        assert_eq!(wrap("short", 80), ["short"]);
        // Never inside a word, at a hyphen or a slash.
        assert_eq!(
            wrap("see printer-v2 and /proc/locks", 12),
            ["see", "printer-v2", "and", "/proc/locks"]
        );
    }

    #[test]
    fn chinese_breaks_between_characters_not_before_its_punctuation() {
        let text =
            "僵尸进程：结束了的子进程，在父进程回收它之前，仍在进程表里保留它的 pid、退出状态。";
        let lines = wrap(text, 20);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(widest(&lines) <= 20, "{lines:?}");
        assert_eq!(lines.concat(), text, "nothing lost");
        for line in &lines[1..] {
            let first = line.chars().next().expect("a character");
            assert!(!"，。：、）」".contains(first), "{lines:?}");
        }
        // A short English word among Chinese fills the line it is on.
        let lines = wrap("父进程结束以后，子进程被 root 收养，最后由它回收。", 30);
        assert!(lines.iter().all(|l| l.trim() != "root"), "{lines:?}");
        assert!(widest(&lines) <= 30, "{lines:?}");
    }

    #[test]
    fn a_number_keeps_its_unit() {
        for (text, width) in [
            ("p1 printed for a long 0.102 s, shorter", 28),
            ("p1 printed for a long 0.102 s, shorter", 26),
            ("三位同事一共用了 0.102 s，更短", 18),
            ("三位同事一共等了 3 秒，更短一些", 18),
            ("the sale used 12 ms and 3 MB and 50 % of it", 16),
        ] {
            let lines = wrap(text, width);
            assert!(widest(&lines) <= width, "{lines:?}");
            for pair in lines.windows(2) {
                let end = pair[0].trim_end();
                assert!(
                    !end.ends_with(|c: char| c.is_ascii_digit()),
                    "a number split from its unit: {lines:?}"
                );
            }
            // Plain spaces in what is printed.
            assert!(lines.iter().all(|l| !l.contains(GLUE)), "{lines:?}");
        }
        assert_eq!(wrap("took 0.102 s", 80), ["took 0.102 s"]);
        assert_eq!(
            wrap("gives --seed 88135 again", 16),
            ["gives", "--seed 88135", "again"]
        );
        // A name is no unit.
        assert_eq!(wrap("pid 12 sleeps", 8), ["pid 12", "sleeps"]);
        // A Chinese word keeps its number; an arrow what it follows.
        for line in wrap("速度 10，种子 30304（用 --seed 30304 重现）", 14) {
            assert!(!line.starts_with(|c: char| c.is_ascii_digit()), "{line}");
        }
        for line in wrap("in the order p1 → p2 → p3 → p4", 14) {
            assert!(!line.starts_with('→'), "{line}");
        }
    }

    #[test]
    fn an_indent_is_kept_on_every_line() {
        let header = "      PID    PPID STAT COMMAND";
        assert_eq!(wrap(header, 80), [header]);
        let lines = wrap("   wait4 reaped each: 12345 12346 12347 12348", 24);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("   ") && !l.starts_with("    "))
        );
        // A choice's lines go on under its text.
        let lines = wrap(
            "  2) they print one at a time, in the order they started",
            30,
        );
        assert_eq!(lines[0], "  2) they print one at a time,");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("     ")),
            "{lines:?}"
        );
        assert!(widest(&lines) <= 30);
    }

    #[test]
    fn a_command_breaks_only_as_it_pastes() {
        let cmd = "ps -o pid,ppid,stat,args -p 17565; pstree -ps 17565";
        assert_eq!(command(cmd, "$ ", "    ", 80), [format!("$ {cmd}")]);
        let lines = command(cmd, "  ", "      ", 30);
        assert_eq!(
            lines,
            [
                "  ps -o pid,ppid,stat,args \\",
                "      -p 17565; pstree \\",
                "      -ps 17565",
            ]
        );
        // Pasted, the backslashes and line breaks go and the words stay.
        let pasted = lines.join("\n").replace("\\\n", " ");
        assert_eq!(pasted.split_whitespace().collect::<Vec<_>>().join(" "), cmd);
        // A quoted argument stays whole; an argument wider than a line too.
        let lines = command(
            "echo 'a b c d' /a/very/long/path/to/a/file.jsonl",
            "",
            "  ",
            12,
        );
        assert_eq!(
            lines,
            [
                "echo \\",
                "  'a b c d' \\",
                "  /a/very/long/path/to/a/file.jsonl"
            ]
        );
        // After what it is for, on a line of its own if they do not fit.
        let hint = format!("  look from another terminal: {cmd}");
        assert_eq!(ending_with_command(&hint, cmd, 90), [hint.as_str()]);
        assert_eq!(
            ending_with_command(&hint, cmd, 53),
            [
                "  look from another terminal:",
                "    ps -o pid,ppid,stat,args -p 17565; pstree \\",
                "        -ps 17565",
            ]
        );
    }
}
