//! Durations on the command line: a whole number and a unit, `500ms`, `30s`, `2m`, `1h`.

use std::time::Duration;

/// The longest duration [`parse`] accepts: a year (8760h). Far beyond any CI job, and far from
/// where adding it to a clock reading or counting it in milliseconds could overflow.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `text` as a duration, of at most [`MAX`]; the error says what is expected.
///
/// ```
/// use std::time::Duration;
/// use lockprof_cli::duration::parse;
/// assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
/// assert!(parse("30").is_err());
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let expected = "expected a whole number and a unit: 500ms, 30s, 2m or 1h";
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(format!("{text:?} is not a duration ({expected})"));
    }
    let too_long =
        || format!("{text:?} is longer than the longest duration lockprof takes, {}", display(MAX));
    let number: u64 = number.parse().map_err(|_| too_long())?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("{text:?} has no unit ({expected})")),
        _ => return Err(format!("{text:?} has an unknown unit {unit:?} ({expected})")),
    };
    let millis = number.checked_mul(millis_per_unit).ok_or_else(too_long)?;
    let duration = Duration::from_millis(millis);
    if duration > MAX {
        return Err(too_long());
    }
    if duration.is_zero() {
        return Err(format!("{text:?}: the duration must be more than zero"));
    }
    Ok(duration)
}

/// `duration` as [`parse`] reads it, in the largest unit that shows it exactly: `1500ms`, `30s`,
/// `2m`.
pub fn display(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse(" 1h "), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        for bad in [
            "",
            "s",
            "30",
            "1.5s",
            "30 s",
            "-1s",
            "10d",
            "0s",
            "99999999999999999999999s",
            "307445734561825860m",
            "18446744073709551615s",
            "18446744073709551615ms",
            "8761h",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(!error.is_empty(), "{bad}");
        }
        assert!(parse("30").unwrap_err().contains("500ms, 30s, 2m or 1h"));
        assert!(parse("307445734561825860m").unwrap_err().contains("longest duration lockprof takes, 8760h"));
        assert_eq!(parse("8760h"), Ok(MAX));
    }

    #[test]
    fn display_round_trips() {
        for text in ["500ms", "1500ms", "30s", "2m", "90s", "1h"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
