//! `--lang zh|en`: every line a learner reads, in the notes' language or in
//! English. The English sentence stays in the code, in `tr!`; its Chinese
//! lives beside each crate, in `zh.txt` files: each English line, then its
//! Chinese on the next line, after `= `. Placeholders are `{}` in order,
//! or `{0}`, `{1}` … to reorder them, with `{:.3}`, `{:>7}` as in `format!`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::{Display, Write};
use std::sync::OnceLock;

use clap::builder::{Resettable, StyledStr};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, ValueEnum};

/// `tr!("sees {} left", n)`: the English template, in the language in
/// force, with its arguments.
#[macro_export]
macro_rules! tr {
    // The English is a `format!` the compiler checks: an argument too many
    // or too few does not build. The Chinese is checked against it by the
    // scan of the catalogs (common/tests/translations.rs).
    ($template:literal $(, $arg:expr)* $(,)?) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::En => ::std::format!($template $(, $arg)*),
            $crate::i18n::Lang::Zh => {
                $crate::i18n::tr($template, &[$(&$arg as &dyn ::std::fmt::Display),*])
            }
        }
    };
}

/// The language a lesson speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Zh,
}

static LANG: OnceLock<Lang> = OnceLock::new();
static CATALOG: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The catalogs of `common` itself, one a module.
const COMMON: &[&str] = &[
    include_str!("../zh/lesson.txt"),
    include_str!("../zh/child.txt"),
    include_str!("../zh/system.txt"),
    include_str!("../zh/flood.txt"),
    include_str!("../zh/timeline.txt"),
    include_str!("../zh/quiz.txt"),
    include_str!("../zh/sale.txt"),
    include_str!("../zh/file.txt"),
    include_str!("../zh/options.txt"),
];

/// Fixes the language for this lesson and its children; `lesson` is the
/// lesson crate's own catalog.
pub(crate) fn init(lang: Lang, lesson: &str) {
    let _ = LANG.set(lang);
    if lang == Lang::Zh {
        let mut catalog = HashMap::new();
        for text in COMMON.iter().chain([&lesson]) {
            catalog.extend(parse(text));
        }
        let _ = CATALOG.set(catalog);
    }
}

/// The language from `LC_ALL`, `LC_MESSAGES` or `LANG` (the first set):
/// Chinese if it starts with `zh`.
pub(crate) fn from_locale() -> Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    if locale.starts_with("zh") {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// The language as `run` would decide it after parsing, decided before, so
/// that `--help` and clap's errors speak it too: `--lang zh|en` in `args`
/// (a value clap will refuse counts as none), else `LESSON_LANG` if set and
/// not empty, else the locale.
pub(crate) fn from_args(args: &[OsString]) -> Lang {
    let mut given = None;
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(word) = words.next() {
        let value = match word {
            Some("--") => break,
            Some("--lang") => words.next().flatten(),
            Some(word) => word.strip_prefix("--lang="),
            None => None,
        };
        if let Some(lang) = value.and_then(|v| Lang::from_str(v, false).ok()) {
            given = Some(lang);
        }
    }
    given
        .or_else(|| {
            std::env::var("LESSON_LANG")
                .ok()
                .filter(|v| !v.is_empty())
                .and_then(|v| Lang::from_str(&v, false).ok())
        })
        .unwrap_or_else(from_locale)
}

/// The language in force.
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or(Lang::En)
}

/// The pairs of a catalog: an English line, then `= ` and its Chinese.
/// `\n` in either stands for a line break.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut english: Option<&str> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match (line.strip_prefix("= "), english.take()) {
            (Some(chinese), Some(en)) => {
                pairs.push((en.replace("\\n", "\n"), chinese.replace("\\n", "\n")));
            }
            (None, _) => english = Some(line),
            (Some(_), None) => {}
        }
    }
    pairs
}

/// `template` (English, as in the code) in the language in force, with
/// `args` put in its placeholders. A template the catalog lacks is said in
/// English: the tests find every one.
pub fn tr(template: &str, args: &[&dyn Display]) -> String {
    let template = match lang() {
        Lang::En => template,
        Lang::Zh => CATALOG
            .get()
            .and_then(|c| c.get(template))
            .map_or(template, String::as_str),
    };
    fill(template, args)
}

/// `english`, a whole text (no placeholders: braces are its own), in the
/// language in force.
fn text(english: &str) -> String {
    match lang() {
        Lang::En => english.to_owned(),
        Lang::Zh => CATALOG
            .get()
            .and_then(|c| c.get(english))
            .map_or(english, String::as_str)
            .to_owned(),
    }
}

/// `command` with its `--help` in the language in force: its about and
/// after-help, each argument's help, and clap's own words ("Usage:",
/// "Options:", "[default: …]", "Print help"). In English, left as it is.
pub(crate) fn help(command: Command) -> Command {
    if lang() == Lang::En {
        // Wrapped by clap to a terminal; into a pipe or a file, as it is.
        return match crate::wrap::terminal_width() {
            Some(_) => command,
            None => command.term_width(0),
        };
    }
    let usage = tr!(
        "{} [OPTIONS]",
        command.get_bin_name().unwrap_or(command.get_name())
    );
    // Clap breaks help only at spaces, which Chinese has few of: on a
    // terminal, each text is wrapped here, by Unicode's rules, to the room
    // it has right of the options (and clap's own wrapping is off).
    let width = crate::wrap::terminal_width();
    let options = command
        .get_arguments()
        .map(|a| {
            let value = a.get_value_names().map_or(0, |v| v[0].len() + 3);
            a.get_long().map_or(0, |l| l.len() + 2) + value
        })
        .max()
        .unwrap_or(0);
    // "  -h, --help" and the like: 6 columns before a long option, 2 after.
    let room = width.map(|w| w.saturating_sub(options.max(6) + 8).max(20));
    let wrapped = |text: String| match room {
        Some(room) => crate::wrap::wrap(&text, room).join("\n"),
        None => text,
    };
    // The about and the after-help: each line of them to the whole width.
    let translate = |english: Option<&StyledStr>| -> Resettable<StyledStr> {
        let Some(english) = english else {
            return Resettable::Reset;
        };
        let text = text(&english.to_string());
        let text = match width {
            Some(width) => text
                .lines()
                .flat_map(|line| crate::wrap::wrap(line, width - 1))
                .collect::<Vec<_>>()
                .join("\n"),
            None => text,
        };
        Resettable::Value(text.into())
    };
    let (about, long_about) = (
        translate(command.get_about()),
        translate(command.get_long_about()),
    );
    let (after, long_after) = (
        translate(command.get_after_help()),
        translate(command.get_after_long_help()),
    );
    command
        .term_width(0)
        .about(about)
        .long_about(long_about)
        .after_help(after)
        .after_long_help(long_after)
        .override_usage(usage)
        .help_template(format!(
            "{{about-with-newline}}\n{}\n\n{}\n{{options}}{{after-help}}",
            tr!("Usage: {}", "{usage}"),
            tr!("Options:")
        ))
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(tr!("Print help")),
        )
        .mut_args(arg_help)
        .mut_args(|arg| {
            let help = arg.get_help().map(|h| wrapped(h.to_string()));
            match help {
                Some(help) => arg.help(help),
                None => arg,
            }
        })
}

/// A help text of clap's in the language in force; none stays none.
fn translated(english: Option<&StyledStr>) -> Resettable<StyledStr> {
    english.map_or(Resettable::Reset, |s| {
        Resettable::Value(text(&s.to_string()).into())
    })
}

/// `arg` with its help in the language in force, followed by what clap would
/// add to it in English: its variable, its default, its possible values.
fn arg_help(arg: Arg) -> Arg {
    let takes_values = arg.get_action().takes_values();
    let mut help: Vec<String> = arg
        .get_help()
        .map(|h| text(&h.to_string()))
        .into_iter()
        .collect();
    if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
        let name = env.to_string_lossy();
        help.push(match arg.is_hide_env_values_set() {
            true => tr!("[env: {}]", name),
            false => {
                let value = std::env::var_os(env).unwrap_or_default();
                tr!("[env: {}={}]", name, value.to_string_lossy())
            }
        });
    }
    let defaults = arg.get_default_values();
    if takes_values && !arg.is_hide_default_value_set() && !defaults.is_empty() {
        let defaults: Vec<_> = defaults.iter().map(|d| d.to_string_lossy()).collect();
        help.push(tr!("[default: {}]", defaults.join(" ")));
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|_| takes_values)
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_owned())
        .collect();
    if !values.is_empty() && !arg.is_hide_possible_values_set() {
        help.push(tr!("[possible values: {}]", values.join("、")));
    }
    let long_help = translated(arg.get_long_help());
    arg.help(help.join(" "))
        .long_help(long_help)
        .hide_env(true)
        .hide_default_value(takes_values)
        .hide_possible_values(takes_values)
}

/// Clap's error `e` as one line in the language in force; `None` in
/// English, where clap's own first line is said.
pub(crate) fn usage_error(e: &clap::Error) -> Option<String> {
    if lang() == Lang::En {
        return None;
    }
    let get = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join("、")),
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let arg = get(ContextKind::InvalidArg).unwrap_or_default();
    let value = get(ContextKind::InvalidValue).unwrap_or_default();
    let number = |kind| get(kind).unwrap_or_default();
    Some(match e.kind() {
        ErrorKind::UnknownArgument => match get(ContextKind::SuggestedArg) {
            Some(similar) => tr!(
                "unexpected argument '{}' found; did you mean '{}'?",
                arg,
                similar
            ),
            None => tr!("unexpected argument '{}' found", arg),
        },
        ErrorKind::InvalidValue if value.is_empty() => {
            tr!("a value is required for '{}' but none was supplied", arg)
        }
        ErrorKind::InvalidValue => match get(ContextKind::ValidValue) {
            Some(valid) => tr!(
                "invalid value '{}' for '{}' (possible values: {})",
                value,
                arg,
                valid
            ),
            None => tr!("invalid value '{}' for '{}'", value, arg),
        },
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e).map(|s| reason(&s.to_string()));
            tr!(
                "invalid value '{}' for '{}': {}",
                value,
                arg,
                why.unwrap_or_default()
            )
        }
        ErrorKind::TooManyValues => tr!(
            "unexpected value '{}' for '{}' found; no more were expected",
            value,
            arg
        ),
        ErrorKind::TooFewValues => tr!(
            "{} values required by '{}'; only {} given",
            number(ContextKind::MinValues),
            arg,
            number(ContextKind::ActualNumValues)
        ),
        ErrorKind::WrongNumberOfValues => tr!(
            "{} values required for '{}' but {} given",
            number(ContextKind::ExpectedNumValues),
            arg,
            number(ContextKind::ActualNumValues)
        ),
        ErrorKind::ArgumentConflict => match get(ContextKind::PriorArg) {
            Some(prior) if prior == arg => {
                tr!("the argument '{}' cannot be used multiple times", arg)
            }
            Some(prior) => tr!("the argument '{}' cannot be used with '{}'", arg, prior),
            None => tr!(
                "the argument '{}' cannot be used with the others given",
                arg
            ),
        },
        ErrorKind::NoEquals => tr!("equal sign is needed when assigning values to '{}'", arg),
        ErrorKind::MissingRequiredArgument => tr!(
            "the following required arguments were not provided: {}",
            arg
        ),
        ErrorKind::InvalidUtf8 => tr!("invalid UTF-8 was detected in one or more arguments"),
        _ => tr!("bad arguments"),
    })
}

/// Why clap refused a value, in the language in force: the words of the
/// parsers clap has for numbers (the lessons' own parsers say theirs
/// through `tr!`).
fn reason(why: &str) -> String {
    let range = why
        .split_once(" is not in ")
        .and_then(|(_, range)| range.split_once("..="));
    if let Some((low, high)) = range {
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

/// Puts `args` into the placeholders of `template`.
fn fill(template: &str, args: &[&dyn Display]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (index, format) = spec.split_once(':').unwrap_or((&spec, ""));
                let index = index.parse().unwrap_or_else(|_| {
                    next += 1;
                    next - 1
                });
                match args.get(index) {
                    Some(arg) => put(&mut out, *arg, format),
                    None => out.push_str("{?}"),
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes `arg` as `{:format}` would: `.N` precision, `>N` `<N` width.
fn put(out: &mut String, arg: &dyn Display, format: &str) {
    let number = |s: &str| s.parse::<usize>().ok();
    let _ = match format.as_bytes().first() {
        Some(b'.') => number(&format[1..]).map(|p| write!(out, "{arg:.p$}")),
        Some(b'>') => number(&format[1..]).map(|w| write!(out, "{arg:>w$}")),
        Some(b'<') => number(&format[1..]).map(|w| write!(out, "{arg:<w$}")),
        _ => None,
    }
    .unwrap_or_else(|| write!(out, "{arg}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_their_arguments_in_order_or_by_number() {
        assert_eq!(fill("{} and {}", &[&1, &"b"]), "1 and b");
        assert_eq!(fill("{1} before {0}", &[&1, &2]), "2 before 1");
        assert_eq!(
            fill("{:.3} s, {:>4}|{{x}}", &[&1.5, &7]),
            "1.500 s,    7|{x}"
        );
        let pairs = parse("# c\nsees {} left\n= 看到还剩 {}\n");
        assert_eq!(pairs, [("sees {} left".into(), "看到还剩 {}".into())]);
    }
}
