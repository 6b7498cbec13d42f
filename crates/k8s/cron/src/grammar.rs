//! robfig/cron v3's standard grammar (`cron.ParseStandard`), which is what kube-apiserver
//! accepts in a CronJob's `spec.schedule`: an optional `TZ=ZONE ` or `CRON_TZ=ZONE ` prefix,
//! then a descriptor (`@hourly`, `@every 90s`, …) or five fields (minute, hour, day of month,
//! month, day of week), each a comma list of `*`, `?`, `N`, `N-M` with an optional `/STEP`,
//! months and weekdays also by name. The error messages are robfig's, word for word: they
//! reach the user in the API server's 422.

use jiff::SignedDuration;

use crate::Error;

/// Set in a field parsed from `*` or `?` with no step above 1 (robfig's `starBit`): a day of
/// month or week that is "any" leaves the day to the other field.
pub const STAR: u64 = 1 << 63;

/// The five fields as bit sets: bit `n` set means value `n` matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub minute: u64,
    pub hour: u64,
    pub day_of_month: u64,
    pub month: u64,
    pub day_of_week: u64,
}

/// What a schedule says, before a time zone is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    Fields(Fields),
    /// `@every DURATION`: fixed intervals, whole seconds, at least one.
    Every(SignedDuration),
}

/// A parsed schedule and the zone its `TZ=` prefix named, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub spec: Spec,
    pub zone: Option<String>,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// Parses `spec` as `cron.ParseStandard` does; the zone of a `TZ=` prefix is checked too.
pub fn parse(spec: &str) -> Result<Parsed, Error> {
    if spec.is_empty() {
        return Err(grammar("empty spec string".into()));
    }
    let mut spec = spec;
    let mut zone = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').expect("the prefix has one");
        let end = spec.find(' ').unwrap_or(spec.len());
        let name = &spec[eq + 1..end];
        if let Err(e) = crate::time_zone(name) {
            return Err(grammar(format!("provided bad location {name}: {e}")));
        }
        zone = Some(name.to_string());
        spec = spec[end..].trim();
    }
    let spec = if spec.starts_with('@') {
        descriptor(spec)?
    } else {
        Spec::Fields(fields(spec)?)
    };
    Ok(Parsed { spec, zone })
}

fn grammar(message: String) -> Error {
    Error::Grammar(message)
}

fn fields(spec: &str) -> Result<Fields, Error> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if parts.len() != 5 {
        // Go prints the slice as `[a b c]`.
        return Err(grammar(format!(
            "expected exactly 5 fields, found {}: [{}]",
            parts.len(),
            parts.join(" ")
        )));
    }
    Ok(Fields {
        minute: field(parts[0], &MINUTES)?,
        hour: field(parts[1], &HOURS)?,
        day_of_month: field(parts[2], &DAYS_OF_MONTH)?,
        month: field(parts[3], &MONTHS)?,
        day_of_week: field(parts[4], &DAYS_OF_WEEK)?,
    })
}

/// A comma list of ranges (empty items are skipped, as Go's `FieldsFunc` does).
fn field(text: &str, bounds: &Bounds) -> Result<u64, Error> {
    text.split(',')
        .filter(|r| !r.is_empty())
        .try_fold(0, |bits, r| Ok(bits | range(r, bounds)?))
}

/// `*`, `?`, `N` or `N-M`, then an optional `/STEP` (`N/STEP` runs to the maximum).
fn range(expr: &str, bounds: &Bounds) -> Result<u64, Error> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end, mut star) = if matches!(low_and_high[0], "*" | "?") {
        (bounds.min, bounds.max, STAR)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], bounds)?,
            _ => return Err(grammar(format!("too many hyphens: {expr}"))),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            if low_and_high.len() == 1 {
                end = bounds.max;
            }
            if step > 1 {
                star = 0;
            }
            step
        }
        _ => return Err(grammar(format!("too many slashes: {expr}"))),
    };
    if start < bounds.min {
        return Err(grammar(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        )));
    }
    if end > bounds.max {
        return Err(grammar(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        )));
    }
    if start > end {
        return Err(grammar(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(grammar(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |bits, n| bits | 1 << n);
    Ok(bits | star)
}

fn int_or_name(expr: &str, bounds: &Bounds) -> Result<u32, Error> {
    let lower = expr.to_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lower) {
        Some((_, n)) => Ok(*n),
        None => int(expr),
    }
}

/// Go's `strconv.Atoi`, then robfig's refusal of negatives. Values past `u32` cannot be in
/// range anyway; they are clamped so that the range check words the error.
fn int(expr: &str) -> Result<u32, Error> {
    let n: i64 = expr.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        grammar(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: {why}"
        ))
    })?;
    if n < 0 {
        return Err(grammar(format!(
            "negative number ({n}) not allowed: {expr}"
        )));
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The descriptors `ParseStandard` knows, as the fields they stand for.
fn descriptor(spec: &str) -> Result<Spec, Error> {
    let at = |minute: u64, hour: u64, dom: u64, month: u64, dow: u64| {
        Spec::Fields(Fields {
            minute,
            hour,
            day_of_month: dom,
            month,
            day_of_week: dow,
        })
    };
    let all = |b: &Bounds| (b.min..=b.max).fold(STAR, |bits, n| bits | 1 << n);
    let (m0, h0, d1, mo1) = (1, 1, 1 << 1, 1 << 1);
    Ok(match spec {
        "@yearly" | "@annually" => at(m0, h0, d1, mo1, all(&DAYS_OF_WEEK)),
        "@monthly" => at(m0, h0, d1, all(&MONTHS), all(&DAYS_OF_WEEK)),
        "@weekly" => at(m0, h0, all(&DAYS_OF_MONTH), all(&MONTHS), 1),
        "@daily" | "@midnight" => at(
            m0,
            h0,
            all(&DAYS_OF_MONTH),
            all(&MONTHS),
            all(&DAYS_OF_WEEK),
        ),
        "@hourly" => at(
            m0,
            all(&HOURS),
            all(&DAYS_OF_MONTH),
            all(&MONTHS),
            all(&DAYS_OF_WEEK),
        ),
        _ => match spec.strip_prefix("@every ") {
            Some(text) => Spec::Every(every(spec, text)?),
            None => return Err(grammar(format!("unrecognized descriptor: {spec}"))),
        },
    })
}

/// `@every`'s duration in Go's `time.ParseDuration` syntax (`1h30m`, `90s`, `1.5h`), rounded
/// as robfig's `Every` does: whole seconds, at least one.
fn every(spec: &str, text: &str) -> Result<SignedDuration, Error> {
    let invalid = || {
        grammar(format!(
            "failed to parse duration {spec}: time: invalid duration {text:?}"
        ))
    };
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(grammar(format!(
                    "failed to parse duration {spec}: time: missing unit in duration {text:?}"
                )));
            }
            unit => {
                return Err(grammar(format!(
                    "failed to parse duration {spec}: time: unknown unit {unit:?} in duration {text:?}"
                )));
            }
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Ok(SignedDuration::from_secs((total.floor() as i64).max(1)))
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
