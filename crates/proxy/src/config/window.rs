//! `warm_up_after_change`: how long, after a pool's servers change, reads of the keys
//! that moved fall back to their previous server. Written as a number and a unit
//! (`"5m"`, `"90s"`, `"500ms"`, `"1h"`) or `0` (off), the same in the TOML route
//! tree and in a `nutcracker.yml`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The warm-up window after a change, by default: long enough for a busy cache to
/// copy its hot keys, short enough that a removed server is let go the same hour.
pub const DEFAULT_WARM_UP_AFTER_CHANGE: Duration = Duration::from_secs(5 * 60);

/// Reads `0`, or a whole number followed by `ms`, `s`, `m` or `h`.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("bad duration {text:?}: want 0 or a number with ms, s, m or h");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = |scale: u64| number.checked_mul(scale).map(Duration::from_secs);
    match unit {
        "" if number == 0 => Some(Duration::ZERO),
        "ms" => Some(Duration::from_millis(number)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => None,
    }
    .ok_or_else(bad)
}

pub(crate) fn default_warm_up_after_change() -> Duration {
    DEFAULT_WARM_UP_AFTER_CHANGE
}

/// The TOML form: a string with a unit, or the number 0.
pub(crate) fn deserialize_window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Number(u64),
    }
    match Written::deserialize(d)? {
        Written::Text(text) => parse_window(&text).map_err(serde::de::Error::custom),
        Written::Number(0) => Ok(Duration::ZERO),
        Written::Number(n) => Err(serde::de::Error::custom(format!(
            "bad duration {n}: give a unit (\"{n}s\") or 0"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_zero_are_read() {
        assert_eq!(parse_window("0"), Ok(Duration::ZERO));
        assert_eq!(parse_window("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_window("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_window("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_window("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_window("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn other_text_is_refused() {
        for bad in [
            "",
            "5",
            "m",
            "5 minutes",
            "-1s",
            "1.5m",
            "99999999999999999999h",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?} accepted");
        }
    }
}
