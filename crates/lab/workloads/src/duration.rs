//! Go's duration syntax (`time.ParseDuration`): agnhost takes `--timeout=1s`, `/exit?wait=500ms`,
//! `1h2m3.5s`, and manifests are written with it.

use std::time::Duration;

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`). Negative durations are refused: every
/// place agnhost takes one means a length of time to wait.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?}");
    let body = match s.strip_prefix('-') {
        Some(rest)
            if rest
                .trim_start_matches(['0', '.'])
                .chars()
                .any(|c| c.is_ascii_digit()) =>
        {
            return Err(format!("negative duration {s:?} is not allowed here"));
        }
        Some(rest) => rest,
        None => s.strip_prefix('+').unwrap_or(s),
    };
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                f.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration {s:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        total += whole * nanos_per_unit;
        // The fraction, digit by digit, so that `1.000000001s` is exact as in Go.
        let mut scale = nanos_per_unit;
        for d in frac.bytes() {
            scale /= 10;
            total += u128::from(d - b'0') * scale;
        }
        if total > u128::from(u64::MAX) {
            return Err(invalid());
        }
        rest = after;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// How Go prints a duration (`1.5s`, `300ms`, `0s`), for log lines that quote one.
pub fn go_duration_string(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    if d < Duration::from_secs(1) {
        let ns = d.as_nanos();
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(ns, div));
    }
    let secs = d.as_secs();
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    let s = trim_fraction(
        u128::from(secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()),
        1_000_000_000,
    );
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

fn trim_fraction(value: u128, div: u128) -> String {
    let (whole, frac) = (value / div, value % div);
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("1s"), Duration::from_secs(1));
        assert_eq!(ok("+5m"), Duration::from_secs(300));
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("2h45m0.5s"), Duration::from_millis(9_900_500));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.000000001s"), Duration::from_nanos(1_000_000_001));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("-0s"), Duration::ZERO);
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for bad in ["", "1", "s", ".s", "1x", "1.2.3s", "-1s", "1s-"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_go_duration("1").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn prints_as_go_does() {
        assert_eq!(go_duration_string(Duration::ZERO), "0s");
        assert_eq!(go_duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration_string(Duration::from_millis(300)), "300ms");
        assert_eq!(go_duration_string(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration_string(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration_string(Duration::from_micros(1500)), "1.5ms");
    }
}
