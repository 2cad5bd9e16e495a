//! Durations on the command line: a whole number and a unit, `500ms`, `30s`, `2m`, `1h`.

use std::time::Duration;

/// Parses `text` as a duration; the error says what is expected.
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
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is too long a duration"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        "" => return Err(format!("{text:?} has no unit ({expected})")),
        _ => return Err(format!("{text:?} has an unknown unit {unit:?} ({expected})")),
    };
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
        for bad in ["", "s", "30", "1.5s", "30 s", "-1s", "10d", "0s", "99999999999999999999999s"] {
            let error = parse(bad).expect_err(bad);
            assert!(!error.is_empty(), "{bad}");
        }
        assert!(parse("30").unwrap_err().contains("500ms, 30s, 2m or 1h"));
    }

    #[test]
    fn display_round_trips() {
        for text in ["500ms", "1500ms", "30s", "2m", "90s", "1h"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
