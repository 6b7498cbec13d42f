//! CronJob schedules as Kubernetes reads them.
//!
//! kube-apiserver validates `spec.schedule` with robfig/cron v3's `ParseStandard` and returns
//! its error text in the 422; the CronJob controller computes the times a schedule fires with
//! the same library, in `spec.timeZone`. Here:
//!
//! - [`grammar`]: that grammar (five fields, `@hourly`-style descriptors, `@every`, a `TZ=`
//!   prefix) with robfig's error messages word for word (pure).
//! - [`Schedule`]: a parsed schedule and its next firing after an instant; the calendar
//!   arithmetic (months, weekdays, daylight-saving gaps) is croner's, fed a pattern rendered
//!   from the grammar's fields so that robfig's day-of-month/day-of-week rule holds.
//! - [`time_zone`]: an IANA zone by name, failing as Go's `time.LoadLocation` does.

pub mod grammar;
mod schedule;

pub use schedule::{Schedule, time_zone};

/// Why a schedule or a time zone cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The schedule is not robfig's grammar; the message is robfig's.
    #[error("{0}")]
    Grammar(String),
    /// Go's `time.LoadLocation` wording.
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),
    /// A pattern rendered from valid fields that croner refused (a bug here, not the user's).
    #[error("cron pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: croner::errors::CronError,
    },
}
