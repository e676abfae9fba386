//! `--lang zh|en`: every line a learner reads, in the notes' language or in
//! English. The English stays in the code, in `tr!`; its Chinese is in `zh.txt`
//! catalogs: each English line, then its Chinese on the next, after `= `.
//! Placeholders are `{}`, `{0}` `{1}` … to reorder, `{:.3}` `{:>7}` as in `format!`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::{Display, Write};
use std::sync::OnceLock;

use clap::builder::{Resettable, StyledStr};
use clap::error::{ContextKind as K, ContextValue, ErrorKind as E};
use clap::{Arg, ArgAction, Command, ValueEnum};

use crate::wrap;

/// `tr!("sees {} left", n)` in the language in force. The English is a
/// `format!` the compiler checks; the Chinese is checked against it by the
/// scan of the catalogs (common/tests/translations.rs).
#[macro_export]
macro_rules! tr {
    ($template:literal $(, $arg:expr)* $(,)?) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::En => ::std::format!($template $(, $arg)*),
            $crate::i18n::Lang::Zh => {
                $crate::i18n::tr($template, &[$(&$arg as &dyn ::std::fmt::Display),*])
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Zh,
}

static LANG: OnceLock<Lang> = OnceLock::new();
/// Set only if the language is Chinese.
static CATALOG: OnceLock<HashMap<String, String>> = OnceLock::new();

/// Fixes the language for this lesson and its children; `lesson` is the
/// lesson crate's own catalog, read after `common`'s.
pub(crate) fn init(lang: Lang, lesson: &str) {
    if *LANG.get_or_init(|| lang) == Lang::Zh {
        let catalogs = [
            include_str!("../zh/lesson.txt"),
            include_str!("../zh/child.txt"),
            include_str!("../zh/system.txt"),
            include_str!("../zh/flood.txt"),
            include_str!("../zh/timeline.txt"),
            include_str!("../zh/quiz.txt"),
            include_str!("../zh/sale.txt"),
            include_str!("../zh/file.txt"),
            include_str!("../zh/options.txt"),
            include_str!("../zh/schedule.txt"),
            lesson,
        ];
        let _ = CATALOG.set(catalogs.into_iter().flat_map(parse).collect());
    }
}

/// The language as `run` would decide it after parsing, decided before, so
/// that `--help` and clap's errors speak it too: the last `--lang zh|en` in
/// `args` (a value clap will refuse counts as none), else `LESSON_LANG`, else
/// Chinese if `LC_ALL`, `LC_MESSAGES` or `LANG` (the first set) starts with `zh`.
pub(crate) fn from_args(args: &[OsString]) -> Lang {
    let (mut given, mut words) = (None, args.iter().skip(1).map(|a| a.to_str()));
    while let Some(word) = words.next().filter(|w| *w != Some("--")) {
        let value = match word {
            Some("--lang") => words.next().flatten(),
            word => word.and_then(|w| w.strip_prefix("--lang=")),
        };
        given = value.and_then(|v| Lang::from_str(v, false).ok()).or(given);
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].into_iter().find_map(var);
    let zh = locale.is_some_and(|l| l.starts_with("zh"));
    given
        .or_else(|| Lang::from_str(&var("LESSON_LANG")?, false).ok())
        .unwrap_or(if zh { Lang::Zh } else { Lang::En })
}

pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or(Lang::En)
}

/// The pairs of a catalog: an English line, then `= ` and its Chinese.
/// `\n` in either stands for a line break.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| s.replace("\\n", "\n");
    let mut english = None;
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| match line.strip_prefix("= ") {
            Some(chinese) => english.take().map(|en| (unescape(en), unescape(chinese))),
            None => english.replace(line).and(None),
        })
        .collect()
}

/// `english` as the catalog says it; as it is if the catalog lacks it (the
/// tests find every one).
fn zh(english: &str) -> &str {
    let chinese = CATALOG.get().and_then(|c| c.get(english));
    chinese.map_or(english, String::as_str)
}

/// `template` in the language in force, with `args` in its placeholders.
pub fn tr(template: &str, args: &[&dyn Display]) -> String {
    fill(zh(template), args)
}

/// `command` with its `--help` in the language in force: its texts, and
/// clap's own words ("Usage:", "[default: …]", "Print help").
pub(crate) fn help(command: Command) -> Command {
    let width = wrap::terminal_width();
    if lang() == Lang::En {
        // Wrapped by clap to a terminal; into a pipe or a file, as it is.
        return match width {
            Some(_) => command,
            None => command.term_width(0),
        };
    }
    // Clap breaks help only at spaces, which Chinese has few of: on a
    // terminal, each text is wrapped here instead, an option's to the room
    // right of the options ("  -h, --help": 6 columns before a long option, 2 after).
    let options = command.get_arguments().map(|a| {
        let value = a.get_value_names().map_or(0, |v| v[0].len() + 3);
        a.get_long().map_or(0, |l| l.len() + 2) + value
    });
    let options = options.max().unwrap_or(0).max(6);
    let room = width.map(|w| w.saturating_sub(options + 8).max(20));
    let whole = width.map(|w| w - 1);
    let about = translated(command.get_about(), whole);
    let long_about = translated(command.get_long_about(), whole);
    let after = translated(command.get_after_help(), whole);
    let long_after = translated(command.get_after_long_help(), whole);
    let name = command.get_bin_name().unwrap_or(command.get_name());
    let usage = tr!("{} [OPTIONS]", name);
    let template = format!(
        "{{about-with-newline}}\n{}\n\n{}\n{{options}}{{after-help}}",
        tr!("Usage: {}", "{usage}"),
        tr!("Options:")
    );
    let help = Arg::new("help").short('h').long("help");
    let help = help.action(ArgAction::Help).help(tr!("Print help"));
    command
        .term_width(0)
        .about(about)
        .long_about(long_about)
        .after_help(after)
        .after_long_help(long_after)
        .override_usage(usage)
        .help_template(template)
        .disable_help_flag(true)
        .arg(help)
        .mut_args(|arg| arg_help(arg, room))
}

/// A help text in the language in force, each of its lines wrapped to
/// `room` columns on a terminal; none stays none.
fn translated(english: Option<&StyledStr>, room: Option<usize>) -> Resettable<StyledStr> {
    let text = english.map(|e| wrapped(zh(&e.to_string()), room));
    Resettable::from(text.map(StyledStr::from))
}

fn wrapped(text: &str, room: Option<usize>) -> String {
    let Some(room) = room else {
        return text.to_owned();
    };
    let lines: Vec<_> = text.lines().flat_map(|l| wrap::wrap(l, room)).collect();
    lines.join("\n")
}

/// `arg` with its help in the language in force, followed by what clap would
/// add to it in English, and now does not: its variable, default, values.
fn arg_help(arg: Arg, room: Option<usize>) -> Arg {
    let takes_values = arg.get_action().takes_values();
    let mut help = Vec::from_iter(arg.get_help().map(|h| zh(&h.to_string()).to_owned()));
    if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
        let mut name = env.to_string_lossy().into_owned();
        if !arg.is_hide_env_values_set() {
            let value = std::env::var_os(env).unwrap_or_default();
            name = format!("{name}={}", value.to_string_lossy());
        }
        help.push(tr!("[env: {}]", name));
    }
    let defaults = arg.get_default_values();
    if takes_values && !arg.is_hide_default_value_set() && !defaults.is_empty() {
        let defaults: Vec<_> = defaults.iter().map(|d| d.to_string_lossy()).collect();
        help.push(tr!("[default: {}]", defaults.join(" ")));
    }
    let values = arg.get_possible_values().into_iter();
    let values = values.filter(|v| takes_values && !v.is_hide_set());
    let values: Vec<_> = values.map(|v| v.get_name().to_owned()).collect();
    if !values.is_empty() && !arg.is_hide_possible_values_set() {
        help.push(tr!("[possible values: {}]", values.join("、")));
    }
    let long_help = translated(arg.get_long_help(), None);
    arg.help(wrapped(&help.join(" "), room))
        .long_help(long_help)
        .hide_env(true)
        .hide_default_value(takes_values)
        .hide_possible_values(takes_values)
}

/// Clap's error `e` as one line in the language in force; `None` in
/// English, where clap's own first line is said. Only the kinds the lessons'
/// options can give have their words; any other is "bad arguments".
pub(crate) fn usage_error(e: &clap::Error) -> Option<String> {
    if lang() == Lang::En {
        return None;
    }
    // The kinds asked for are strings, and lists of them.
    let get = |kind| match e.get(kind)? {
        ContextValue::Strings(v) => Some(v.join("、")),
        value => Some(value.to_string()),
    };
    // The argument and the value refused.
    let a = get(K::InvalidArg).unwrap_or_default();
    let v = get(K::InvalidValue).unwrap_or_default();
    Some(match e.kind() {
        E::UnknownArgument => match get(K::SuggestedArg) {
            Some(s) => tr!("unexpected argument '{}' found; did you mean '{}'?", a, s),
            None => tr!("unexpected argument '{}' found", a),
        },
        E::InvalidValue if v.is_empty() => {
            tr!("a value is required for '{}' but none was supplied", a)
        }
        E::InvalidValue => match get(K::ValidValue) {
            Some(s) => tr!("invalid value '{}' for '{}' (possible values: {})", v, a, s),
            None => tr!("invalid value '{}' for '{}'", v, a),
        },
        E::ValueValidation => {
            let why = std::error::Error::source(e).map(|s| reason(&s.to_string()));
            let why = why.unwrap_or_default();
            tr!("invalid value '{}' for '{}': {}", v, a, why)
        }
        E::TooManyValues => tr!(
            "unexpected value '{}' for '{}' found; no more were expected",
            v,
            a
        ),
        E::ArgumentConflict if get(K::PriorArg).as_ref() == Some(&a) => {
            tr!("the argument '{}' cannot be used multiple times", a)
        }
        E::InvalidUtf8 => tr!("invalid UTF-8 was detected in one or more arguments"),
        _ => tr!("bad arguments"),
    })
}

/// Why clap's parsers for numbers refused a value, in the language in force
/// (the lessons' own parsers say theirs through `tr!`).
fn reason(why: &str) -> String {
    let (_, range) = why.split_once(" is not in ").unwrap_or_default();
    if let Some((low, high)) = range.split_once("..=") {
        return tr!("must be from {} to {}", low, high);
    }
    match why {
        "invalid digit found in string" => tr!("invalid digit found in string"),
        "cannot parse integer from empty string" => tr!("cannot parse integer from empty string"),
        "number too large to fit in target type" => tr!("number too large to fit in target type"),
        "number too small to fit in target type" => tr!("number too small to fit in target type"),
        why => why.to_owned(),
    }
}

/// Puts `args` into the placeholders of `template`, as `format!` would with
/// a `.N` precision or a `>N` `<N` width.
fn fill(template: &str, args: &[&dyn Display]) -> String {
    let (mut out, mut next) = (String::new(), 0);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        // `{{` and `}}` are one brace each.
        if c != '{' || chars.next_if_eq(&'{').is_some() {
            out.push(c);
            chars.next_if(|&d| c == '}' && d == '}');
            continue;
        }
        let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
        let (index, format) = spec.split_once(':').unwrap_or((&spec, ""));
        let index = index.parse().unwrap_or_else(|_| {
            next += 1;
            next - 1
        });
        let n = format.get(1..).and_then(|n| n.parse().ok());
        let _ = match (args.get(index), format.chars().next(), n) {
            (None, ..) => write!(out, "{{?}}"),
            (Some(arg), Some('.'), Some(p)) => write!(out, "{arg:.p$}"),
            (Some(arg), Some('>'), Some(w)) => write!(out, "{arg:>w$}"),
            (Some(arg), Some('<'), Some(w)) => write!(out, "{arg:<w$}"),
            (Some(arg), ..) => write!(out, "{arg}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_their_arguments_in_order_or_by_number() {
        assert_eq!(fill("{} and {}", &[&1, &"b"]), "1 and b");
        assert_eq!(fill("{1} before {0}", &[&1, &2]), "2 before 1");
        assert_eq!(fill("{:.3} s, {:>4}|", &[&1.5, &7]), "1.500 s,    7|");
        assert_eq!(fill("{{x}}", &[]), "{x}");
        let pairs = parse("# c\nsees {} left\n= 看到还剩 {}\n");
        assert_eq!(pairs, [("sees {} left".into(), "看到还剩 {}".into())]);
    }
}
