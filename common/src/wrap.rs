//! Prose wrapped to the terminal's width, so that no line runs past the edge
//! of a projector's screen; output that is no terminal (a pipe, a file, a
//! test) is left one line per line, for grep. Widths are counted as a terminal
//! shows them, and a command is broken only as it can still be pasted.

use std::borrow::Cow;

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

/// `text` in lines of at most `width` columns (see `words` for where they
/// break). Its indent starts every line, past a list's `1) ` on the lines it
/// goes on to, so that a choice's lines stand under its text. A word wider
/// than a line is broken, so that the terminal never does it at column 0.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let body = text.trim_start_matches(' ');
    let indent = &text[..text.len() - body.len()];
    if body.is_empty() || columns(text) <= width {
        return vec![text.to_owned()];
    }
    let digits = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let marker = digits > 0 && body[digits..].starts_with(") ");
    let marker = if marker { digits + 2 } else { 0 };
    let hanging = format!("{indent}{}", " ".repeat(marker));
    // Glued spaces are no-break ones while wrapping, for Unicode's rules too,
    // and plain again in what is printed; a text with its own keeps them all.
    let ours = !body.contains(NBSP);
    let nbsp = |(at, c)| if ours && glued(body, at) { NBSP } else { c };
    let body: String = body.char_indices().map(nbsp).collect();
    let options = Options::new(width)
        .initial_indent(indent)
        .subsequent_indent(&hanging)
        .word_separator(WordSeparator::Custom(words))
        .word_splitter(WordSplitter::NoHyphenation)
        .wrap_algorithm(WrapAlgorithm::FirstFit);
    let lines = textwrap::wrap(&body, &options);
    let plain = |l: Cow<'_, str>| if ours { l.replace(NBSP, " ") } else { l.into() };
    lines.into_iter().map(plain).collect()
}

const NBSP: char = '\u{a0}';

/// `command` in lines of at most `width` columns that paste as it: the first
/// starts with `first` (a prompt, an indent), the others with `rest`, each but
/// the last ends with ` \`. Broken only at spaces outside quotes, and not
/// between an option and its value (`--seed 42`) while they fit on a line.
pub fn command(command: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    // Split at the spaces outside quotes: the predicate sees each character
    // once, in order.
    let mut quote = None;
    let arguments = command.split(|c| {
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '\'' || c == '"' => quote = Some(c),
            _ => {}
        }
        c == ' ' && quote.is_none()
    });
    // An option and the value after it go together while they fit on a line.
    let (mut pieces, mut option) = (Vec::<String>::new(), false);
    for a in arguments.filter(|a| !a.is_empty()) {
        let fits = |p: &&mut String| columns(rest) + columns(p) + 1 + columns(a) + 2 <= width;
        match pieces
            .last_mut()
            .filter(|p| option && !a.starts_with('-') && fits(p))
        {
            Some(p) => *p += &format!(" {a}"),
            None => pieces.push(a.to_owned()),
        }
        option = pieces.last().is_some_and(|p| p == a) && a.starts_with('-') && a != "--";
    }
    let mut lines = vec![first.to_owned()];
    for (i, piece) in pieces.iter().enumerate() {
        let line = lines.last_mut().expect("one line at least");
        // Room for the piece, and for " \" after it unless it is the last.
        let backslash = if i + 1 < pieces.len() { 2 } else { 0 };
        match i {
            0 => line.push_str(piece),
            _ if columns(line) + 1 + columns(piece) + backslash > width => {
                line.push_str(" \\");
                lines.push(format!("{rest}{piece}"));
            }
            _ => *line += &format!(" {piece}"),
        }
    }
    lines
}

/// `text`, a line that ends with `command` (`look from another terminal:
/// ps …`), in lines of at most `width` columns: on one if it fits, else what
/// comes before the command as prose, and the command under it, indented.
pub fn ending_with_command(text: &str, command: &str, width: usize) -> Vec<String> {
    let Some(before) = text.strip_suffix(command).filter(|_| columns(text) > width) else {
        return wrap(text, width);
    };
    let indent = " ".repeat(text.len() - text.trim_start_matches(' ').len() + 2);
    let mut lines = wrap(before.trim_end(), width);
    let rest = format!("{indent}    ");
    lines.extend(self::command(command, &indent, &rest, width));
    lines
}

/// True if `text` has a space at `at` that must not break: a number keeps its
/// unit (`0.102 s`, `3 秒`), a label its number (`pid 9484`, `种子 42`, and
/// `--seed 42`, which is pasted), and a line never starts with `→`.
fn glued(text: &str, at: usize) -> bool {
    const UNITS: [&str; 14] = [
        "s", "ms", "µs", "us", "ns", "min", "%", "KB", "kB", "KiB", "MB", "MiB", "GB", "GiB",
    ];
    let before = &text[..at];
    // No space at `at`: nothing after it, which nothing is glued to.
    let after = text[at..].strip_prefix(' ').unwrap_or_default();
    let rest = after.trim_start_matches(|c: char| c.is_alphanumeric() || c == '%' || c == 'µ');
    let unit = after.starts_with(is_wide) || UNITS.contains(&&after[..after.len() - rest.len()]);
    let word = before.trim_end_matches(|w: char| w.is_ascii_alphanumeric() || w == '-');
    let word = &before[word.len()..];
    let label = word.starts_with("--")
        || ["pid", "ppid", "status", "seed", "uid"].contains(&word)
        || before.ends_with(is_wide);
    (before.ends_with(|p: char| p.is_ascii_digit()) && unit)
        || (label && after.starts_with(|d: char| d.is_ascii_digit()))
        || after.starts_with('→')
}

fn is_wide(c: char) -> bool {
    c.width() == Some(2)
}

/// The words of `line`, each with the spaces after it. English words end
/// only at spaces (even before a `/`, which Unicode's rules would keep with
/// the space before it), and next to a wide character wherever those rules
/// allow: `被 root 收养` breaks between any two Chinese characters, but
/// `/proc/locks` or `printer-v2` never inside.
fn words(line: &str) -> Box<dyn Iterator<Item = Word<'_>> + '_> {
    let unicode: Vec<usize> = WordSeparator::UnicodeBreakProperties
        .find_words(line)
        .scan(0, |end, w| {
            *end += w.word.len() + w.whitespace.len();
            Some(*end)
        })
        .collect();
    let (mut words, mut start, mut previous) = (Vec::new(), 0, None);
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

    #[test]
    fn prose_breaks_only_where_it_may() {
        // The lines each text is wrapped into, at the width given: `|` ends one.
        #[rustfmt::skip]
        let cases = [
            // At spaces, a wide character counted twice; never inside a word.
            ("aaa bbb ccc ddd", 8, "aaa bbb|ccc ddd"),
            ("公平性 公平性", 8, "公平性|公平性"),
            ("short", 80, "short"),
            ("see printer-v2 and /proc/locks", 12, "see|printer-v2|and|/proc/locks"),
            // Chinese between characters, not before its punctuation; an
            // English word among it fills the line it is on.
            ("僵尸进程：结束了的子进程，在父进程回收它之前，仍在进程表里保留它的 pid、退出状态。", 20,
             "僵尸进程：结束了的子|进程，在父进程回收它|之前，仍在进程表里保|留它的 pid、退出状|态。"),
            ("父进程结束以后，子进程被 root 收养，最后由它回收。", 30,
             "父进程结束以后，子进程被 root|收养，最后由它回收。"),
            // A number keeps its unit, a label its number (a name is no
            // unit), an arrow what it follows; printed with plain spaces.
            ("p1 printed for a long 0.102 s, shorter", 28, "p1 printed for a long|0.102 s, shorter"),
            ("p1 printed for a long 0.102 s, shorter", 26, "p1 printed for a long|0.102 s, shorter"),
            ("三位同事一共用了 0.102 s，更短", 18, "三位同事一共用|了 0.102 s，更短"),
            ("三位同事一共等了 3 秒，更短一些", 18, "三位同事一共等|了 3 秒，更短一些"),
            ("the sale used 12 ms and 3 MB and 50 % of it", 16, "the sale used|12 ms and 3 MB|and 50 % of it"),
            ("took 0.102 s", 80, "took 0.102 s"),
            ("gives --seed 88135 again", 16, "gives|--seed 88135|again"),
            ("pid 12 sleeps", 8, "pid 12|sleeps"),
            ("速度 10，种子 30304（用 --seed 30304 重现）", 14, "速度 10，种|子 30304（用|--seed 30304 |重现）"),
            ("in the order p1 → p2 → p3 → p4", 14, "in the order|p1 → p2 → p3 →|p4"),
            // An indent on every line; a choice's lines under its text.
            ("      PID    PPID STAT COMMAND", 80, "      PID    PPID STAT COMMAND"),
            ("   wait4 reaped each: 12345 12346 12347 12348", 24, "   wait4 reaped each:|   12345 12346 12347|   12348"),
            ("  2) they print one at a time, in the order they started", 30,
             "  2) they print one at a time,|     in the order they started"),
        ];
        for (text, width, lines) in cases {
            assert_eq!(wrap(text, width).join("|"), lines, "{text:?} in {width}");
            assert!(lines.split('|').all(|l| columns(l) <= width), "{lines:?}");
        }
    }

    #[test]
    fn a_command_breaks_only_as_it_pastes() {
        let cmd = "ps -o pid,ppid,stat,args -p 17565; pstree -ps 17565";
        let hint = format!("  look from another terminal: {cmd}");
        let long = "echo 'a b c d' /a/very/long/path/to/a/file.jsonl";
        // The lines of each: `|` ends one.
        #[rustfmt::skip]
        let cases = [
            (command(cmd, "$ ", "    ", 80), format!("$ {cmd}")),
            (command(cmd, "  ", "      ", 30),
             "  ps -o pid,ppid,stat,args \\|      -p 17565; pstree \\|      -ps 17565".into()),
            // A quoted argument stays whole; an argument wider than a line too.
            (command(long, "", "  ", 12), "echo \\|  'a b c d' \\|  /a/very/long/path/to/a/file.jsonl".into()),
            // After what it is for, on a line of its own if they do not fit.
            (ending_with_command(&hint, cmd, 90), hint.clone()),
            (ending_with_command(&hint, cmd, 53),
             "  look from another terminal:|    ps -o pid,ppid,stat,args -p 17565; pstree \\|        -ps 17565"
                .into()),
        ];
        for (lines, expected) in cases {
            assert_eq!(lines.join("|"), expected);
        }
    }
}
