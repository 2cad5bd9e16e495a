//! Command-line usage errors as one line: clap's several-line message (error, tip, usage, "For
//! more information") becomes `<what is wrong>; tip: <tip> (see lockprof <command> --help)`.

use clap::error::ErrorKind;

use crate::error::one_line;

/// What to do with a [`clap::Error`].
#[derive(Debug, PartialEq, Eq)]
pub enum Usage {
    /// `--help` or `--version`: print clap's text as it is, to stdout, and succeed.
    Show(String),
    /// A usage error: this one line (without the `lockprof: error: ` prefix), exit code 2.
    Error(String),
}

/// What `error` calls for.
pub fn usage(error: &clap::Error) -> Usage {
    let text = error.render().to_string();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Usage::Show(text),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Usage::Error(format!("no command given (see {} --help)", command_of(&text).unwrap_or("lockprof")))
        }
        _ => Usage::Error(summary(&text)),
    }
}

/// clap's rendered error as one line: its first paragraph (the error) and tips, then which
/// `--help` to read.
fn summary(text: &str) -> String {
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    let mut line = paragraphs.first().map(String::as_str).unwrap_or("invalid arguments");
    line = line.strip_prefix("error: ").unwrap_or(line);
    let mut out = line.to_owned();
    for tip in paragraphs.iter().filter(|p| p.starts_with("tip: ")) {
        out.push_str("; ");
        out.push_str(tip);
    }
    let command = command_of(text).unwrap_or("lockprof");
    one_line(&format!("{out} (see {command} --help)"))
}

/// `lockprof check` from clap's `Usage: lockprof check [OPTIONS] <TRACES>...` line.
fn command_of(text: &str) -> Option<&str> {
    let usage = text.lines().find_map(|l| l.trim_start().strip_prefix("Usage: "))?;
    let end = usage.find([' ', '\t']).map_or(usage.len(), |first| {
        usage[first..]
            .find(" [")
            .into_iter()
            .chain(usage[first..].find(" <"))
            .chain(usage[first..].find(" -"))
            .min()
            .map_or(usage.len(), |n| first + n)
    });
    Some(usage[..end].trim()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_messages_become_one_line() {
        let text = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use \
                    '-- --bogus'\n\nUsage: lockprof check [OPTIONS] <TRACES>...\n\nFor more information, \
                    try '--help'.\n";
        assert_eq!(
            summary(text),
            "unexpected argument '--bogus' found; tip: to pass '--bogus' as a value, use '-- --bogus' \
             (see lockprof check --help)"
        );
        let text = "error: invalid value 'x' for '--sort <KEY>'\n  [possible values: wait, hold]\n\nFor \
                    more information, try '--help'.\n";
        assert_eq!(
            summary(text),
            "invalid value 'x' for '--sort <KEY>' [possible values: wait, hold] (see lockprof --help)"
        );
        assert_eq!(command_of("Usage: lockprof run [OPTIONS] -- <COMMAND>..."), Some("lockprof run"));
        assert_eq!(command_of("Usage: lockprof <COMMAND>"), Some("lockprof"));
        assert_eq!(command_of("Usage: lockprof flamegraph"), Some("lockprof flamegraph"));
    }
}
