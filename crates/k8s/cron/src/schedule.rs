//! A schedule in its time zone, and the next time it fires.

use std::str::FromStr as _;

use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::Error;
use crate::grammar::{self, Fields, STAR, Spec};

/// A CronJob's schedule, ready to say when it fires.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    zone: TimeZone,
}

#[derive(Clone, Debug)]
enum Kind {
    Calendar(Box<Cron>),
    Every(SignedDuration),
}

/// The IANA zone `name` (`Europe/Berlin`); `UTC` and Go's empty name are UTC.
pub fn time_zone(name: &str) -> Result<TimeZone, Error> {
    if name.is_empty() || name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| Error::UnknownTimeZone(name.to_string()))
}

// === impl Schedule ===

impl Schedule {
    /// `spec` in `time_zone` (the CronJob's `spec.timeZone`); a `TZ=` prefix in `spec` wins,
    /// as in the controller's `formatSchedule`. With neither, UTC: the controller manager of
    /// a kind cluster runs in UTC, and the lab's times must not depend on the host's zone.
    pub fn parse(spec: &str, time_zone: Option<&str>) -> Result<Schedule, Error> {
        let parsed = grammar::parse(spec)?;
        let zone = match parsed.zone.as_deref().or(time_zone) {
            Some(name) => crate::time_zone(name)?,
            None => TimeZone::UTC,
        };
        let kind = match parsed.spec {
            Spec::Every(every) => Kind::Every(every),
            Spec::Fields(fields) => {
                let pattern = pattern(&fields);
                let cron = Cron::from_str(&pattern)
                    .map_err(|source| Error::Pattern { pattern, source })?;
                Kind::Calendar(Box::new(cron))
            }
        };
        Ok(Schedule { kind, zone })
    }

    /// The first time the schedule fires strictly after `t`, in whole seconds (robfig's
    /// `Next`); None when it never does (the 30th of February).
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let whole = Timestamp::from_second(t.as_second()).ok()?;
        match &self.kind {
            Kind::Every(every) => whole.checked_add(*every).ok(),
            Kind::Calendar(cron) => cron
                .find_next_occurrence(&whole.to_zoned(self.zone.clone()), false)
                .ok()
                .map(|z| z.timestamp()),
        }
    }
}

/// A five-field croner pattern that matches what `fields` match: a field robfig marks as
/// "any" is `*` (so croner applies the same day-of-month/day-of-week rule: a day matches both
/// fields when either is `*`, and either field when neither is), any other the list of its
/// values.
fn pattern(fields: &Fields) -> String {
    let render = |bits: u64| {
        if bits & STAR != 0 {
            return "*".to_string();
        }
        let values: Vec<String> = (0..63)
            .filter(|n| bits & (1 << n) != 0)
            .map(|n| n.to_string())
            .collect();
        values.join(",")
    };
    [
        fields.minute,
        fields.hour,
        fields.day_of_month,
        fields.month,
        fields.day_of_week,
    ]
    .map(render)
    .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(spec: &str, zone: Option<&str>, after: &str) -> String {
        Schedule::parse(spec, zone)
            .unwrap()
            .next_after(at(after))
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn every_minute_fires_at_the_next_whole_minute() {
        assert_eq!(
            next("*/1 * * * *", None, "2026-12-07T19:00:00Z"),
            "2026-12-07T19:01:00Z"
        );
        assert_eq!(
            next("* * * * *", None, "2026-12-07T19:00:59.5Z"),
            "2026-12-07T19:01:00Z"
        );
    }

    #[test]
    fn steps_ranges_and_names() {
        assert_eq!(
            next("*/15 9-17 * * mon-fri", None, "2026-12-05T12:00:00Z"),
            // Saturday the 5th → Monday the 7th at 09:00.
            "2026-12-07T09:00:00Z"
        );
        assert_eq!(
            next("0 0 1 jan *", None, "2026-12-07T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // The 13th or a Friday: Friday the 11th of December 2026 comes first.
        assert_eq!(
            next("0 0 13 * 5", None, "2026-12-07T00:00:00Z"),
            "2026-12-11T00:00:00Z"
        );
        // A step over `*` is not "any" for robfig: the 1st, 3rd, … or a Friday.
        assert_eq!(
            next("0 0 */2 * 5", None, "2026-12-07T00:00:00Z"),
            "2026-12-09T00:00:00Z"
        );
        // `*` in the day of month leaves the day to the day of week alone.
        assert_eq!(
            next("0 0 * * 5", None, "2026-12-07T00:00:00Z"),
            "2026-12-11T00:00:00Z"
        );
    }

    #[test]
    fn descriptors_and_every() {
        assert_eq!(
            next("@hourly", None, "2026-12-07T19:30:00Z"),
            "2026-12-07T20:00:00Z"
        );
        assert_eq!(
            next("@weekly", None, "2026-12-07T19:30:00Z"),
            "2026-12-13T00:00:00Z"
        );
        assert_eq!(
            next("@every 1h30m", None, "2026-12-07T19:30:00.7Z"),
            "2026-12-07T21:00:00Z"
        );
    }

    #[test]
    fn a_time_zone_moves_the_wall_clock() {
        // 09:00 in Berlin is 08:00 UTC in winter.
        assert_eq!(
            next("0 9 * * *", Some("Europe/Berlin"), "2026-12-07T12:00:00Z"),
            "2026-12-08T08:00:00Z"
        );
        // A TZ= prefix wins over the field.
        assert_eq!(
            next(
                "TZ=America/New_York 0 9 * * *",
                Some("Europe/Berlin"),
                "2026-12-07T12:00:00Z"
            ),
            "2026-12-07T14:00:00Z"
        );
    }

    #[test]
    fn an_impossible_date_never_fires() {
        assert_eq!(next("0 0 30 2 *", None, "2026-12-07T00:00:00Z"), "");
    }

    #[test]
    fn an_unknown_zone_is_refused_as_go_words_it() {
        let err = Schedule::parse("* * * * *", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(err.to_string(), "unknown time zone Mars/Olympus");
    }
}
