//! Prose wrapped to the terminal's width, so that no line runs past the
//! edge of a projector's screen. Output that is not a terminal (a pipe, a
//! file, a test) is left as it is: one line per line, for grep.

use nix::libc;

/// The columns of the terminal standard output is, if it is one.
pub(crate) fn terminal_width() -> Option<usize> {
    // SAFETY: an all-zero winsize is a valid value to be overwritten.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into `size`, which is valid.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col >= 40).then_some(usize::from(size.ws_col))
}

/// `text` broken at single spaces into lines of at most `width` columns.
/// A word longer than a line stays whole.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0;
    for word in text.split(' ') {
        let w = columns(word);
        let line = lines.last_mut().expect("one line at least");
        if used > 0 && used + 1 + w > width {
            lines.push(word.to_owned());
            used = w;
        } else {
            if used > 0 {
                line.push(' ');
                used += 1;
            }
            line.push_str(word);
            used += w;
        }
    }
    lines
}

/// The columns `text` takes on a terminal: two for a CJK character.
pub(crate) fn columns(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_spaces_and_counts_wide_characters_twice() {
        assert_eq!(wrap("aaa bbb ccc ddd", 8), ["aaa bbb", "ccc ddd"]);
        assert_eq!(columns("公平性"), 6);
        assert_eq!(wrap("公平性 公平性", 8).len(), 2);
        assert_eq!(wrap("short", 80), ["short"]);
    }
}
