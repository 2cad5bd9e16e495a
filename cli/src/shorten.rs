//! Shortening what a trace names (lock names, file paths) for the tables people read: a name of
//! 70,000 characters would make an unreadable table, and a column that wide is more than Rust's
//! formatting machinery accepts (widths stop at 65,535 and panic beyond).

use lockprof_trace::schema::Trace;

/// The most characters a lock name or a file path keeps in a text report or table.
pub const MAX_CHARS: usize = 200;

/// `text` if it has at most `max` characters, else its first `max - 1` and `…`.
///
/// ```
/// use lockprof_cli::shorten::shorten;
/// assert_eq!(shorten("ledger", 10), "ledger");
/// assert_eq!(shorten("abcdefghijk", 5), "abcd…");
/// ```
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some(_) => {
            let keep = text.char_indices().nth(max.saturating_sub(1)).map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..keep])
        }
    }
}

/// Shortens every lock name and lock creation site's file in `trace` to [`MAX_CHARS`], for a
/// text report (whose labels are built from them). Returns how many were shortened.
pub fn shorten_lock_labels(trace: &mut Trace) -> usize {
    let mut shortened = 0;
    for lock in &mut trace.locks {
        for text in lock.name.iter_mut().chain(std::iter::once(&mut lock.site.file)) {
            if text.chars().nth(MAX_CHARS).is_some() {
                *text = shorten(text, MAX_CHARS);
                shortened += 1;
            }
        }
    }
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_end_in_an_ellipsis_at_a_character_boundary() {
        assert_eq!(shorten("", 3), "");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten(&"x".repeat(70_000), MAX_CHARS).chars().count(), MAX_CHARS);
    }
}
