//! Which scheduled time is due, and when to look again (upstream cronjob `utils.go`:
//! `mostRecentScheduleTime`, `nextScheduleTimeDuration`).

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use podnet_k8s_cron::Schedule;

/// Past this many missed times the controller warns (`TooManyMissedTimes`): a wrong clock
/// or a controller down for long, rather than a schedule to catch up on.
const MANY_MISSED: i64 = 100;

/// After the next scheduled time, by this much: a little clock skew must not wake the
/// controller just before the time (upstream's `nextScheduleDelta`).
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// Where a CronJob stands against its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// Where the count starts: the last scheduled time, else the creation time (moved up to
    /// `now − startingDeadlineSeconds` when that is later and the deadline counts).
    pub earliest: Timestamp,
    /// The latest scheduled time in (earliest, now], if any.
    pub most_recent: Option<Timestamp>,
    /// How many scheduled times passed since `earliest` (roughly, as upstream counts).
    pub missed: i64,
}

/// The CronJob's times that matter here.
#[derive(Clone, Copy, Debug)]
pub struct History {
    pub created: Timestamp,
    pub last_scheduled: Option<Timestamp>,
    pub starting_deadline_seconds: Option<i64>,
}

/// Upstream `mostRecentScheduleTime`. (Its error, two times under a second apart, cannot
/// happen here: schedules fire on whole seconds, `@every` at least a second apart.)
pub fn due(history: History, now: Timestamp, schedule: &Schedule, with_deadline: bool) -> Due {
    let mut earliest = history.last_scheduled.unwrap_or(history.created);
    if let Some(deadline) = history.starting_deadline_seconds.filter(|_| with_deadline) {
        let cutoff = now - SignedDuration::from_secs(deadline);
        earliest = earliest.max(cutoff);
    }
    let none = Due {
        earliest,
        most_recent: None,
        missed: 0,
    };
    let (Some(t1), Some(t2)) = (
        schedule.next_after(earliest),
        schedule
            .next_after(earliest)
            .and_then(|t| schedule.next_after(t)),
    ) else {
        return none;
    };
    if now < t1 {
        return none;
    }
    if now < t2 {
        return Due {
            most_recent: Some(t1),
            ..none
        };
    }
    // Rounded to the second, as Go's `Duration.Round(time.Second)`.
    let between = ((t2.duration_since(t1).as_millis() + 500).div_euclid(1000) as i64).max(1);
    let missed = now.duration_since(t1).as_secs() / between + 1;
    // Jump close to now instead of walking every missed time; one interval back so that
    // irregular schedules (`30 6-16/4 * * 1-5`) are walked by the schedule itself.
    let mut t = t1 + SignedDuration::from_secs((missed - 2) * between);
    let mut most_recent = None;
    while let Some(next) = schedule.next_after(t).filter(|n| *n <= now) {
        most_recent = Some(next);
        t = next;
    }
    Due {
        earliest,
        most_recent,
        missed,
    }
}

/// Whether so many times were missed that upstream warns.
pub fn many_missed(due: &Due) -> bool {
    due.missed > MANY_MISSED
}

/// How long until the controller should look again: just after the next scheduled time
/// (upstream `nextScheduleTimeDuration`); None when the schedule never fires again.
pub fn requeue_after(history: History, now: Timestamp, schedule: &Schedule) -> Option<Duration> {
    let from = match due(history, now, schedule, false) {
        Due {
            most_recent: Some(t),
            ..
        } => t,
        Due {
            earliest,
            missed: 0,
            ..
        } => earliest,
        _ => now,
    };
    let next = schedule.next_after(from)?;
    let wait = Duration::try_from(next.duration_since(now)).unwrap_or_default();
    Some(wait + NEXT_SCHEDULE_DELTA)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn every_minute() -> Schedule {
        Schedule::parse("*/1 * * * *", None).unwrap()
    }

    fn history(created: &str, last: Option<&str>, deadline: Option<i64>) -> History {
        History {
            created: at(created),
            last_scheduled: last.map(at),
            starting_deadline_seconds: deadline,
        }
    }

    #[test]
    fn nothing_is_due_before_the_first_time() {
        let h = history("2026-12-07T19:00:10Z", None, None);
        let d = due(h, at("2026-12-07T19:00:50Z"), &every_minute(), true);
        assert_eq!(d.most_recent, None);
        assert_eq!(
            requeue_after(h, at("2026-12-07T19:00:50Z"), &every_minute()),
            Some(Duration::from_millis(10_100))
        );
    }

    #[test]
    fn the_first_time_after_creation_is_due() {
        let h = history("2026-12-07T19:00:10Z", None, None);
        let d = due(h, at("2026-12-07T19:01:00.5Z"), &every_minute(), true);
        assert_eq!(d.most_recent, Some(at("2026-12-07T19:01:00Z")));
        assert_eq!(d.missed, 0);
    }

    #[test]
    fn after_missed_times_only_the_latest_is_due() {
        let h = history("2026-12-07T18:00:00Z", Some("2026-12-07T18:30:00Z"), None);
        let d = due(h, at("2026-12-07T19:00:30Z"), &every_minute(), true);
        assert_eq!(d.most_recent, Some(at("2026-12-07T19:00:00Z")));
        assert_eq!(d.missed, 30);
        assert!(!many_missed(&d));
        let long_ago = history("2026-12-01T00:00:00Z", None, None);
        let d = due(long_ago, at("2026-12-07T19:00:30Z"), &every_minute(), true);
        assert!(many_missed(&d));
        assert_eq!(d.most_recent, Some(at("2026-12-07T19:00:00Z")));
    }

    #[test]
    fn a_starting_deadline_moves_the_earliest_time_up() {
        let h = history("2026-12-01T00:00:00Z", None, Some(200));
        let now = at("2026-12-07T19:00:30Z");
        let d = due(h, now, &every_minute(), true);
        assert_eq!(d.earliest, at("2026-12-07T18:57:10Z"));
        assert_eq!(d.missed, 3);
        assert!(!many_missed(&d));
        // Without the deadline (the requeue's view) the creation time counts.
        assert!(many_missed(&due(h, now, &every_minute(), false)));
    }

    #[test]
    fn the_requeue_lands_just_after_the_next_time() {
        let h = history("2026-12-07T18:00:00Z", Some("2026-12-07T19:00:00Z"), None);
        assert_eq!(
            requeue_after(h, at("2026-12-07T19:00:00.5Z"), &every_minute()),
            Some(Duration::from_millis(59_600))
        );
        let hourly = Schedule::parse("@hourly", None).unwrap();
        assert_eq!(
            requeue_after(h, at("2026-12-07T19:00:00.5Z"), &hourly),
            Some(Duration::from_millis(3_599_600))
        );
    }

    #[test]
    fn a_schedule_that_never_fires_is_never_due() {
        let never = Schedule::parse("0 0 30 2 *", None).unwrap();
        let h = history("2026-12-07T18:00:00Z", None, None);
        let now = at("2026-12-07T19:00:00Z");
        assert_eq!(due(h, now, &never, true).most_recent, None);
        assert_eq!(requeue_after(h, now, &never), None);
    }
}
