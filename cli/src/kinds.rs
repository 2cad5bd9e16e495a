//! Finding kinds by name, as users write them in `--fail-on` and in `lockprof.toml`: rule ids
//! and short aliases.

use lockprof_analysis::findings::FindingKind;

/// Short names accepted besides the rule ids, as `(alias, rule id)`.
const ALIASES: [(&str, &str); 1] = [("potential", "potential-deadlock")];

/// The kind named `name`: a rule id (`deadlock`, `potential-deadlock`, ...) or a short alias
/// (`potential`). The error lists what this build knows.
///
/// ```
/// use lockprof_cli::kinds::parse_kind;
/// use lockprof_analysis::findings::FindingKind;
/// assert_eq!(parse_kind("deadlock"), Ok(FindingKind::Deadlock));
/// assert!(parse_kind("deadlocks").is_err());
/// ```
pub fn parse_kind(name: &str) -> Result<FindingKind, String> {
    let name = name.trim();
    let rule_id = ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, id)| id);
    FindingKind::ALL
        .into_iter()
        .find(|kind| kind.rule_id() == rule_id)
        .ok_or_else(|| format!("unknown finding kind {name:?} (known: {})", known_kinds()))
}

/// The kinds this build knows, with their aliases: `deadlock, potential-deadlock (or
/// potential), ...`.
pub fn known_kinds() -> String {
    FindingKind::ALL
        .into_iter()
        .map(|kind| {
            let aliases: Vec<&str> =
                ALIASES.iter().filter(|(_, id)| *id == kind.rule_id()).map(|(alias, _)| *alias).collect();
            if aliases.is_empty() {
                kind.rule_id().to_owned()
            } else {
                format!("{} (or {})", kind.rule_id(), aliases.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_by_its_rule_id() {
        for kind in FindingKind::ALL {
            assert_eq!(parse_kind(kind.rule_id()), Ok(kind));
        }
    }

    #[test]
    fn unknown_kinds_list_the_known_ones() {
        let error = parse_kind("livelock").unwrap_err();
        assert!(error.contains("deadlock"), "{error}");
    }

    #[test]
    fn aliases_name_known_kinds() {
        for (alias, id) in ALIASES {
            if let Ok(kind) = parse_kind(id) {
                assert_eq!(parse_kind(alias), Ok(kind));
            }
        }
    }
}
