//! Every line a learner reads has its Chinese: each `tr!` template and each
//! plural's word in the code is in the catalog its crate reads (its own
//! `zh.txt`, or `common/zh/*.txt`), with as many placeholders. A missing
//! translation fails here, not silently in a run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::i18n::parse;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The string literal `source` starts with (after blanks), decoded as Rust
/// decodes it.
fn literal(source: &str) -> Option<String> {
    let rest = source.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\n' => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// The templates a source file gives `tr!`, and the words it gives
/// `plural` for many, with their line numbers.
fn templates(source: &str) -> Vec<(usize, String)> {
    let line_of = |at: usize| source[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (at, _) in source.match_indices("tr!(") {
        // Not `include_str!(`, `anything_tr!(`: `tr!` alone.
        if source[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        if let Some(text) = literal(&source[at + 4..]) {
            found.push((line_of(at), text));
        }
    }
    for (at, _) in source.match_indices("plural(") {
        if source[..at].ends_with("fn ") {
            continue;
        }
        // plural(n, "one", "many"): the third argument.
        let args = &source[at + 7..];
        let mut quoted = args.match_indices('"').map(|(i, _)| i);
        let (Some(_), Some(_), Some(third)) = (quoted.next(), quoted.next(), quoted.next()) else {
            continue;
        };
        if let Some(text) = literal(&args[third..]) {
            found.push((line_of(at), text));
        }
    }
    found
}

fn placeholders(text: &str) -> usize {
    text.replace("{{", "").matches('{').count()
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const LESSONS: [&str; 7] = [
    "zombie",
    "orphan",
    "printer-v1",
    "printer-v2",
    "printer-v3",
    "ticket-unsafe",
    "ticket-locked",
];

/// The catalog `krate` reads: `common/zh/*.txt`, then its own `zh.txt`.
fn catalog(krate: &str) -> HashMap<String, String> {
    let mut catalog = HashMap::new();
    for entry in std::fs::read_dir(root().join("common/zh")).expect("common/zh") {
        catalog.extend(parse(&read(entry.expect("entry").path())));
    }
    if krate != "common" {
        catalog.extend(parse(&read(root().join(krate).join("zh.txt"))));
    }
    catalog
}

#[test]
fn every_template_has_its_chinese() {
    let mut missing = Vec::new();
    let mut counted = 0;
    for krate in std::iter::once("common").chain(LESSONS) {
        let catalog = catalog(krate);
        let src = root().join(krate).join("src");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
            .expect("src")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        for file in files {
            // A comment's `tr!` (the i18n module's documentation shows the
            // macro) is no template; blanked, it keeps the line numbers.
            let source: String = read(file.clone())
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("//") {
                        ""
                    } else {
                        l
                    }
                })
                .flat_map(|l| [l, "\n"])
                .collect();
            for (line, text) in templates(&source) {
                counted += 1;
                match catalog.get(&text) {
                    None => missing.push(format!("{}:{line}: {text:?}", file.display())),
                    Some(zh) if placeholders(zh) != placeholders(&text) => missing.push(format!(
                        "{}:{line}: {text:?} has {} placeholders, its Chinese {zh:?} {}",
                        file.display(),
                        placeholders(&text),
                        placeholders(zh)
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    assert!(counted > 0, "no template found: the scan is broken");
    assert!(
        missing.is_empty(),
        "{} of {counted} without Chinese:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// `--help` is read too: the help of each option the lessons share and each
/// lesson's about line (its package's description) are in the catalogs.
/// The lessons' own options are checked on the lessons, by their
/// `--lang zh --help`.
#[test]
fn every_shared_option_and_about_line_has_its_chinese() {
    let shared = catalog("common");
    let command = <common::Options as clap::Args>::augment_args(clap::Command::new("lesson"));
    let command = <common::sale::Office as clap::Args>::augment_args(command);
    let mut missing: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| Some((arg.get_id(), arg.get_help()?.to_string())))
        .filter(|(_, help)| !shared.contains_key(help))
        .map(|(id, help)| format!("--{id}: {help:?}"))
        .collect();
    assert!(command.get_arguments().count() > 10, "no option found");
    for lesson in LESSONS {
        let manifest = read(root().join(lesson).join("Cargo.toml"));
        let about = manifest
            .lines()
            .find_map(|l| l.strip_prefix("description = "))
            .and_then(literal)
            .unwrap_or_else(|| panic!("{lesson}/Cargo.toml: no description"));
        if !catalog(lesson).contains_key(&about) {
            missing.push(format!("{lesson}/zh.txt: {about:?}"));
        }
    }
    assert!(
        missing.is_empty(),
        "without Chinese:\n{}",
        missing.join("\n")
    );
}
