//! The build script of every lesson: in a release build, it has the linker
//! lay out side by side the functions a forked child runs.
//!
//! A child gets its parent's memory by copy-on-write, but not the page-table
//! entries of the program's code: the kernel leaves those for the child to
//! fault in, each fault mapping the 64 kB around it (fault-around). The few
//! hundred functions a child runs (printing its line, writing a trace record,
//! taking the lock, exiting) lay scattered over 1.2 MB of code, so every
//! child faulted in most of it and unmapped it again as it exited.
//! `symbols.txt`, made by `scripts/link_order.sh`, lists them, then the
//! code its parent runs from its first fork on, then its start; lld's
//! `--symbol-ordering-file` puts them first, in that order.
//!
//! Nothing a lesson does changes, only where its code lies. The names carry
//! hashes of this toolchain, these dependencies and the release profile
//! (LTO renames most); a name not in the binary is passed over, so a stale
//! list costs speed, not a build. Where the linker is not lld (macOS's, GNU
//! ld) this does nothing: an empty program is linked with the flags first,
//! as cargo will link the lesson. Only a linker switched behind cargo's
//! back, by flags that reach the last rustc alone (`cargo rustc -- -C
//! linker-features=-lld`), gets the flags and refuses them.
use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let symbols = manifest_dir.join("../common/link-order/symbols.txt");
    println!("cargo::rerun-if-changed={}", symbols.display());
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    // The names are those of a release build; a debug build's differ.
    if env::var("PROFILE").as_deref() != Ok("release") || !symbols.is_file() {
        return;
    }
    // -Xlinker, not -Wl: -Wl splits its argument at commas, and a path may
    // hold one.
    let link_args = [
        "-Xlinker".to_string(),
        format!("--symbol-ordering-file={}", symbols.display()),
        "-Xlinker".to_string(),
        "--no-warn-symbol-ordering".to_string(),
    ];
    if linker_takes(&link_args) {
        for arg in link_args {
            println!("cargo::rustc-link-arg-bins={arg}");
        }
    }
}

/// Whether the linker this build uses accepts `link_args`: links an empty
/// program with them, as cargo will link the lesson (same rustc, target,
/// linker and flags).
fn linker_takes(link_args: &[String]) -> bool {
    let (Some(rustc), Some(out_dir), Ok(target)) = (
        env::var_os("RUSTC"),
        env::var_os("OUT_DIR").map(PathBuf::from),
        env::var("TARGET"),
    ) else {
        return false;
    };
    let source = out_dir.join("probe.rs");
    if fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut probe = Command::new(rustc);
    probe
        .args(["--target", &target, "--cap-lints=allow", "-o"])
        .arg(out_dir.join("probe"))
        .arg(&source);
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        let mut flag = OsString::from("linker=");
        flag.push(linker);
        probe.arg("-C").arg(flag);
    }
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    probe.args(rustflags.split('\x1f').filter(|flag| !flag.is_empty()));
    for arg in link_args {
        probe.arg("-C").arg(format!("link-arg={arg}"));
    }
    probe.stdout(Stdio::null()).stderr(Stdio::null());
    probe.status().is_ok_and(|status| status.success())
}
