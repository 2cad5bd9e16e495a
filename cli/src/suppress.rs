//! Suppressions: known findings that `lockprof check` (and `lockprof run --check`) report as
//! suppressed, with their reason, instead of failing on.
//!
//! They are read from `--suppress FILE`, or else from `lockprof.toml` in the current directory
//! if there is one. The file is TOML (a subset: see below), one `[[suppress]]` table per rule:
//!
//! ```toml
//! # lockprof.toml
//! [[suppress]]
//! rule = "potential-deadlock"   # the finding's rule id (or an alias, such as "potential")
//! site = "src/ledger.rs:42"     # FILE, FILE:LINE or FILE:LINE:COLUMN of any of its sites
//! reason = "audit_then_credit runs only at start-up, before any worker exists"
//!
//! [[suppress]]
//! rule = "deadlock"
//! lock = "cache.entry"          # or: the name of a lock it involves
//! reason = "tracked in #123"
//! ```
//!
//! A rule matches a finding of its kind if the finding has a site in `site`'s file (the one path
//! ending with the other, at a `/`), at its line and column if given; or, with `lock`, if the
//! finding involves a lock of that name. Every rule needs a non-empty `reason`, and exactly one
//! of `site` and `lock`.
//!
//! The subset of TOML: comments, blank lines, `[[suppress]]` headers, and `key = "string"` (basic
//! strings with the usual escapes, or 'literal strings'), one per line. Anything else, an unknown
//! key or rule, a missing field, is an error that names the file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use lockprof_analysis::findings::{Finding, FindingKind};
use lockprof_analysis::report::lock_label;
use lockprof_trace::schema::{Site, Trace};

use lockprof_trace::input::{InputError, read_limited};

use crate::Error;
use crate::input::{RAISE_HINT, limits};
use crate::kinds::parse_kind;

/// The file read when `--suppress` is not given, from the current directory.
pub const DEFAULT_FILE: &str = "lockprof.toml";

/// The suppression rules of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressions {
    /// In file order; the first that matches a finding is the one reported.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The kind of finding it silences.
    pub kind: FindingKind,
    /// Which findings of that kind.
    pub target: Target,
    /// Why: shown with every finding it silences.
    pub reason: String,
    /// Where the rule is written, `lockprof.toml:7`.
    pub origin: String,
}

/// What a rule matches, besides the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Findings with a site here.
    Site(SitePattern),
    /// Findings that involve a lock with this name.
    Lock(String),
}

/// `FILE`, `FILE:LINE` or `FILE:LINE:COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePattern {
    /// A path; matches a site whose path ends with it, or that it ends with, at a `/`.
    pub file: String,
    /// The line, if given.
    pub line: Option<u32>,
    /// The column, if given (only with a line).
    pub column: Option<u32>,
}

impl SitePattern {
    /// Parses `FILE[:LINE[:COLUMN]]`: at most two `:NUMBER` suffixes, each from 1 to
    /// 4,294,967,295 (lines and columns count from 1, as the compiler's do). A file name may hold
    /// a `:` (`C:/x.rs`), but not end in `:` and digits after a line and a column.
    pub fn parse(text: &str) -> Result<SitePattern, String> {
        let expected = "expected FILE, FILE:LINE or FILE:LINE:COLUMN";
        let text = text.trim();
        // The `:`-separated suffixes that are all digits, from the right.
        let mut file = text;
        let mut numbers: Vec<&str> = Vec::new();
        while let Some((rest, last)) = file.rsplit_once(':') {
            if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
                break;
            }
            numbers.push(last);
            file = rest;
        }
        let number = |digits: &str, what: &str| -> Result<u32, String> {
            match digits.parse::<u32>() {
                Ok(0) => Err(format!("site {text:?}: {what} 0 does not exist ({what}s count from 1)")),
                Ok(n) => Ok(n),
                Err(_) => {
                    Err(format!("site {text:?}: {what} {digits} is out of range (at most {})", u32::MAX))
                }
            }
        };
        let (line, column) = match numbers.as_slice() {
            [] => (None, None),
            [line] => (Some(number(line, "line")?), None),
            [column, line] => (Some(number(line, "line")?), Some(number(column, "column")?)),
            more => {
                return Err(format!("site {text:?} has {} numbers after the file ({expected})", more.len()));
            }
        };
        if file.is_empty() {
            return Err(format!("site {text:?} has no file ({expected})"));
        }
        if file.ends_with(':') {
            return Err(format!("site {text:?} has an empty number ({expected})"));
        }
        Ok(SitePattern { file: file.to_owned(), line, column })
    }

    /// Whether `site` is at this place.
    pub fn matches(&self, site: &Site) -> bool {
        let ends_with = |long: &str, short: &str| {
            long == short || (long.ends_with(short) && long[..long.len() - short.len()].ends_with('/'))
        };
        (ends_with(&site.file, &self.file) || ends_with(&self.file, &site.file))
            && self.line.is_none_or(|line| line == site.line)
            && self.column.is_none_or(|column| column == site.column)
    }
}

impl fmt::Display for SitePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

impl Rule {
    /// Whether this rule silences `finding` of `trace`.
    pub fn matches(&self, trace: &Trace, finding: &Finding) -> bool {
        if finding.kind != self.kind {
            return false;
        }
        match &self.target {
            Target::Site(pattern) => finding.sites.iter().any(|s| pattern.matches(&s.site)),
            Target::Lock(name) => {
                // Findings name locks by their labels (`lock #3 "ledger"`), as everything that
                // renders a trace does; a lock with this name is involved if its label is there.
                let texts: Vec<&str> = std::iter::once(finding.title.as_str())
                    .chain(finding.sites.iter().map(|s| s.role.as_str()))
                    .collect();
                trace.locks.iter().filter(|lock| lock.name.as_deref() == Some(name.as_str())).any(|lock| {
                    let label = lock_label(trace, lock.id);
                    texts.iter().any(|text| text.contains(&label))
                })
            }
        }
    }
}

impl Suppressions {
    /// The rules of `--suppress FILE` if given (it must exist), else those of
    /// [`DEFAULT_FILE`] in the current directory if there is one, else none.
    pub fn load(explicit: Option<&Path>) -> Result<Suppressions, Error> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => {
                let default = PathBuf::from(DEFAULT_FILE);
                if !default.exists() {
                    return Ok(Suppressions::default());
                }
                default
            }
        };
        let shown = path.display().to_string();
        let bytes = read_limited(&path, limits().suppressions).map_err(|e| {
            Error::Suppressions(match e {
                InputError::TooLarge { .. } => format!("{shown}: the suppression file is {e} ({RAISE_HINT})"),
                InputError::Io(e) => format!("{shown}: cannot read the suppression file: {e}"),
                e @ InputError::NotRegular(_) => format!("{shown}: {e}"),
            })
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Suppressions(format!("{shown}: the suppression file is not UTF-8")))?;
        Suppressions::parse(&text, &shown).map_err(Error::Suppressions)
    }

    /// Parses the text of a suppression file named `origin` in messages. Errors are
    /// `origin:line: what is wrong`.
    pub fn parse(text: &str, origin: &str) -> Result<Suppressions, String> {
        let mut rules = Vec::new();
        let mut table: Option<Table> = None;
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let at = |message: String| format!("{origin}:{n}: {message}");
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') {
                let header = strip_comment(line).map_err(at)?;
                let name =
                    header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")).map(str::trim).ok_or_else(
                        || at(format!("{header} is not a table this file has (expected [[suppress]])")),
                    )?;
                if name != "suppress" {
                    return Err(at(format!("unknown table [[{name}]] (expected [[suppress]])")));
                }
                if let Some(done) = table.take() {
                    rules.push(done.finish(origin)?);
                }
                table = Some(Table { line: n, ..Table::default() });
                continue;
            }
            let (key, value) = key_value(line).map_err(at)?;
            let Some(current) = table.as_mut() else {
                return Err(at(format!("{key} = ... outside a [[suppress]] table")));
            };
            let slot = match key {
                "rule" => &mut current.rule,
                "site" => &mut current.site,
                "lock" => &mut current.lock,
                "reason" => &mut current.reason,
                other => {
                    return Err(at(format!("unknown key {other:?} (expected rule, site, lock, reason)")));
                }
            };
            if slot.is_some() {
                return Err(at(format!("{key} is given twice in this [[suppress]] table")));
            }
            *slot = Some((value, n));
        }
        if let Some(done) = table.take() {
            rules.push(done.finish(origin)?);
        }
        Ok(Suppressions { rules })
    }

    /// The first rule that silences `finding` of `trace`.
    pub fn find(&self, trace: &Trace, finding: &Finding) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.matches(trace, finding))
    }
}

/// A `[[suppress]]` table being read: its header's line, and each key's value and line.
#[derive(Default)]
struct Table {
    line: usize,
    rule: Option<(String, usize)>,
    site: Option<(String, usize)>,
    lock: Option<(String, usize)>,
    reason: Option<(String, usize)>,
}

impl Table {
    fn finish(self, origin: &str) -> Result<Rule, String> {
        // What is wrong with a value is reported at its line; what is missing at the header's.
        let at_line = |line: usize, message: String| format!("{origin}:{line}: {message}");
        let at = |message: String| at_line(self.line, message);
        let (rule, rule_line) =
            self.rule.ok_or_else(|| at("this [[suppress]] has no rule = \"...\"".into()))?;
        let kind = parse_kind(&rule).map_err(|e| at_line(rule_line, e))?;
        let reason = self.reason.map(|(r, _)| r.trim().to_owned()).unwrap_or_default();
        if reason.is_empty() {
            return Err(at("this [[suppress]] has no reason = \"...\" (every suppression needs one)".into()));
        }
        let target = match (self.site, self.lock) {
            (Some((site, line)), None) => {
                Target::Site(SitePattern::parse(&site).map_err(|e| at_line(line, e))?)
            }
            (None, Some((lock, _))) if !lock.is_empty() => Target::Lock(lock),
            (None, Some((_, line))) => return Err(at_line(line, "lock = \"\" names no lock".into())),
            (None, None) => {
                return Err(at("this [[suppress]] has neither site = \"...\" nor lock = \"...\"".into()));
            }
            (Some(_), Some(_)) => {
                return Err(at(
                    "this [[suppress]] has both site and lock; give one (or write two rules)".into()
                ));
            }
        };
        Ok(Rule { kind, target, reason, origin: format!("{origin}:{}", self.line) })
    }
}

/// `line` without a trailing `# comment` (outside strings).
fn strip_comment(line: &str) -> Result<&str, String> {
    Ok(line.split('#').next().unwrap_or_default().trim())
}

/// Parses `key = "value"  # comment`.
fn key_value(line: &str) -> Result<(&str, String), String> {
    let (key, rest) = line
        .split_once('=')
        .ok_or_else(|| format!("expected key = \"value\" or [[suppress]], found {line:?}"))?;
    let key = key.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!("{key:?} is not a key (expected rule, site, lock or reason)"));
    }
    let rest = rest.trim_start();
    let (value, after) = match rest.chars().next() {
        Some('"') => basic_string(&rest[1..])?,
        Some('\'') => {
            let end = rest[1..].find('\'').ok_or("this 'string' does not end on its line")?;
            (rest[1..1 + end].to_owned(), &rest[2 + end..])
        }
        _ => return Err(format!("the value of {key} must be a \"string\", found {rest:?}")),
    };
    let after = after.trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return Err(format!("unexpected {after:?} after the value of {key}"));
    }
    Ok((key, value))
}

/// Reads a basic string's content up to its closing quote; returns it and what follows.
fn basic_string(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => {
                let escape = match chars.next().map(|(_, e)| e) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some(u @ ('u' | 'U')) => {
                        let len = if u == 'u' { 4 } else { 8 };
                        let hex: String = chars.by_ref().take(len).map(|(_, h)| h).collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == len)
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("\\{u}{hex} is not a valid escape"))?
                    }
                    Some(other) => return Err(format!("\\{other} is not a valid escape")),
                    None => break,
                };
                value.push(escape);
            }
            c if c.is_control() && c != '\t' => return Err("control character in a string".into()),
            c => value.push(c),
        }
    }
    Err("this \"string\" does not end on its line".into())
}

#[cfg(test)]
mod tests {
    use lockprof_analysis::findings::FindingSite;
    use lockprof_trace::LockKind;
    use lockprof_trace::schema::{LockEntry, WriteReason};

    use super::*;

    const GOOD: &str = r##"
# Known findings.
[[suppress]]
rule = "deadlock"               # the kind
site = "src/bank.rs:42"
reason = "tracked in \"#123\""

[[ suppress ]]
rule = 'deadlock'
lock = "ledger"
reason = 'a literal \ string'
"##;

    #[test]
    fn a_valid_file_parses() {
        let s = Suppressions::parse(GOOD, "lockprof.toml").expect("valid");
        assert_eq!(s.rules.len(), 2);
        assert_eq!(
            s.rules[0],
            Rule {
                kind: FindingKind::Deadlock,
                target: Target::Site(SitePattern {
                    file: "src/bank.rs".into(),
                    line: Some(42),
                    column: None
                }),
                reason: "tracked in \"#123\"".into(),
                origin: "lockprof.toml:3".into(),
            }
        );
        assert_eq!(s.rules[1].target, Target::Lock("ledger".into()));
        assert_eq!(s.rules[1].reason, "a literal \\ string");
        assert_eq!(s.rules[1].origin, "lockprof.toml:8");
        assert_eq!(Suppressions::parse("# nothing\n\n", "x").unwrap(), Suppressions::default());
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases = [
            ("rule = \"deadlock\"\n", ":1: ", "outside"),
            (
                "[[suppress]]\nrule = \"livelock\"\nsite = \"a.rs\"\nreason = \"r\"\n",
                ":2: ",
                "unknown finding kind",
            ),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs\"\n", ":1: ", "no reason"),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs\"\nreason = \"  \"\n", ":1: ", "no reason"),
            ("[[suppress]]\nrule = \"deadlock\"\nreason = \"r\"\n", ":1: ", "neither site"),
            (
                "[[suppress]]\nrule = \"deadlock\"\nsite = \"a\"\nlock = \"b\"\nreason = \"r\"\n",
                ":1: ",
                "both",
            ),
            ("[[suppress]]\nrule = \"deadlock\"\nraeson = \"r\"\n", ":3: ", "unknown key \"raeson\""),
            ("[[suppress]]\nrule = deadlock\n", ":2: ", "must be a \"string\""),
            ("[[suppress]]\nrule = \"deadlock\n", ":2: ", "does not end"),
            ("[[suppress]]\nrule = \"deadlock\" x\n", ":2: ", "unexpected"),
            ("[[suppress]]\nrule = \"a\"\nrule = \"b\"\n", ":3: ", "twice"),
            ("[suppress]\n", ":1: ", "expected [[suppress]]"),
            ("[[ignore]]\n", ":1: ", "unknown table"),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \":12\"\nreason = \"r\"\n", ":3: ", "no file"),
            (
                "[[suppress]]\nrule = \"deadlock\"\nreason = \"r\"\nsite = \"a.rs:99999999999999999999\"\n",
                ":4: ",
                "line 99999999999999999999 is out of range",
            ),
            (
                "[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:1:2:3:4\"\nreason = \"r\"\n",
                ":3: ",
                "4 numbers",
            ),
            (
                "[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:1:2:3\"\nreason = \"r\"\n",
                ":3: ",
                "3 numbers",
            ),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:0\"\nreason = \"r\"\n", ":3: ", "line 0"),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:3:0\"\nreason = \"r\"\n", ":3: ", "column 0"),
            (
                "[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:1:4294967296\"\nreason = \"r\"\n",
                ":3: ",
                "column 4294967296 is out of range",
            ),
            ("[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs:\"\nreason = \"r\"\n", ":3: ", "empty number"),
            (
                "[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs::7\"\nreason = \"r\"\n",
                ":3: ",
                "empty number",
            ),
            ("[[suppress]]\nrule = \"deadlock\"\nlock = \"\"\nreason = \"r\"\n", ":3: ", "names no lock"),
            ("just words\n", ":1: ", "expected key"),
            ("[[suppress]]\nreason = \"\\q\"\n", ":2: ", "not a valid escape"),
        ];
        for (text, line, what) in cases {
            let error = Suppressions::parse(text, "f.toml").expect_err(text);
            assert!(
                error.starts_with("f.toml") && error.contains(line) && error.contains(what),
                "{text:?}: {error}"
            );
            assert!(!error.contains('\n'), "{error:?}");
        }
    }

    #[test]
    fn site_patterns() {
        let p = |s| SitePattern::parse(s).unwrap();
        let site = Site { file: "crates/bank/src/lib.rs".into(), line: 12, column: 9 };
        assert!(p("src/lib.rs").matches(&site));
        assert!(p("lib.rs:12").matches(&site));
        assert!(p("crates/bank/src/lib.rs:12:9").matches(&site));
        assert!(p("/work/repo/crates/bank/src/lib.rs:12").matches(&site));
        assert!(!p("b.rs").matches(&site), "not at a / boundary");
        assert!(!p("src/lib.rs:13").matches(&site));
        assert!(!p("src/lib.rs:12:10").matches(&site));
        assert!(!p("src/main.rs").matches(&site));
        assert_eq!(p("a.rs:1:2").to_string(), "a.rs:1:2");
        assert_eq!(p("C:/src/a.rs:4").file, "C:/src/a.rs");
        assert_eq!(p("a.rs:4294967295").line, Some(u32::MAX));
    }

    #[test]
    fn rules_match_by_kind_and_site_or_lock_name() {
        let mut trace = Trace::empty(WriteReason::Exit);
        let at = Site { file: "src/x.rs".into(), line: 3, column: 1 };
        trace.locks.push(LockEntry {
            id: 4,
            kind: LockKind::Mutex,
            site: at.clone(),
            name: Some("ledger".into()),
            written: false,
            dropped: None,
            capacity: None,
        });
        trace.locks.push(LockEntry {
            id: 44,
            kind: LockKind::Mutex,
            site: at.clone(),
            name: Some("audit".into()),
            written: false,
            dropped: None,
            capacity: None,
        });
        let finding = Finding {
            kind: FindingKind::Deadlock,
            title: "deadlock: thread #1 → lock #44 \"audit\" → thread #1".into(),
            sites: vec![FindingSite { site: at, role: "thread #1 waits for lock #44 \"audit\"".into() }],
        };
        let rule =
            |target| Rule { kind: FindingKind::Deadlock, target, reason: "r".into(), origin: "o".into() };
        assert!(rule(Target::Lock("audit".into())).matches(&trace, &finding));
        assert!(!rule(Target::Lock("ledger".into())).matches(&trace, &finding), "lock #4 is not lock #44");
        assert!(!rule(Target::Lock("nobody".into())).matches(&trace, &finding));
        assert!(rule(Target::Site(SitePattern::parse("x.rs:3").unwrap())).matches(&trace, &finding));
        assert!(!rule(Target::Site(SitePattern::parse("x.rs:4").unwrap())).matches(&trace, &finding));
        if let Some(&other) = FindingKind::ALL.iter().find(|&&k| k != FindingKind::Deadlock) {
            let mut other_kind = rule(Target::Lock("audit".into()));
            other_kind.kind = other;
            assert!(!other_kind.matches(&trace, &finding));
        }
    }
}
