//! Durations as Falco reads them (`metrics.interval`).

use std::time::Duration;

/// A Prometheus duration as Falco reads `metrics.interval`: numbers with units (`ms`, `s`,
/// `m`, `h`, `d`, `w`, `y`) one after the other (`1h30m`), or bare milliseconds (Falco's
/// default, `5000`); at least 100 ms.
pub(crate) fn parse_interval(s: &str) -> Result<Duration, String> {
    let bad = || format!("\"{s}\" is not a duration (e.g. 15m, 1h, 1h30m, 500ms)");
    let mut total = 0u64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = rest.parse().map_err(|_| bad())?;
        return match ms {
            0..100 => Err(format!("\"{s}\": the interval is 100ms at least")),
            _ => Ok(Duration::from_millis(ms)),
        };
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(ms));
        rest = &rest[unit..];
    }
    if total < 100 {
        return Err(format!("\"{s}\": the interval is 100ms at least"));
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_prometheus_durations() {
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(2 * 86400)));
        assert!(parse_interval("50ms")
            .unwrap_err()
            .contains("100ms at least"));
        assert_eq!(parse_interval("5000"), Ok(Duration::from_secs(5)));
        assert!(parse_interval("99999999999999999999999")
            .unwrap_err()
            .contains("not a duration"));
        for bad in ["", "h", "10", "5 min", "1.5h", "-1s"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
