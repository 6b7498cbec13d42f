//! One Lease's election, pure: what a candidate saw of the record and when (on its own
//! monotonic clock) in, what to do next and until when it may act as the holder out.
//!
//! The rules are client-go's `leaderelection`: a record is expired when the candidate has
//! seen no change to it for `leaseDurationSeconds` of its own time (never by comparing
//! wall clocks with `renewTime`); writes are compare-and-swap on the `resourceVersion` the
//! candidate saw; a released record (no holder) is free at once. On top of that the holder
//! **fences itself**: it may act only until `renew_deadline` after it *sent* its last
//! successful write, and `renew_deadline < lease_duration`. A rival takes over no earlier
//! than `lease_duration` after it saw that write, which came after it was sent, so the old
//! holder has stopped before the new one starts — whatever the API server or the network
//! between them does, as long as the two clocks run at about the same rate (the gap between
//! the two durations is the margin for that).

use std::time::{Duration, Instant};

/// The three durations of an election (client-go's `LeaseDuration`, `RenewDeadline`,
/// `RetryPeriod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Written to the record: how long rivals wait after its last change before taking over.
    /// Whole seconds (the field is `leaseDurationSeconds`).
    pub lease_duration: Duration,
    /// How long after sending its last successful write the holder may still act.
    pub renew_deadline: Duration,
    /// How often the holder renews, and how soon a failed write is tried again.
    pub retry_period: Duration,
}

/// What an election needs of a Lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Changes with every write: a change means the holder (or someone) is alive.
    pub resource_version: String,
    /// `holderIdentity`; None or empty: released, free for anyone.
    pub holder: Option<String>,
    pub lease_duration: Duration,
    pub transitions: i32,
}

/// The write a candidate should make next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// No Lease yet: create it, holding it.
    Create,
    /// The holder's periodic renewal.
    Renew,
    /// Take the Lease from an expired or released holder (one more transition).
    Acquire,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Write(Write),
    /// Nothing until then (or until the record changes).
    Wait(Instant),
    /// Nothing to act on until a record is observed.
    Observe,
}

/// A candidate's view of one Lease.
#[derive(Debug, Clone)]
pub struct Election {
    identity: String,
    timing: Timing,
    /// The record last seen and when it was first seen in that version; `Some(None)`: seen
    /// not to exist.
    observed: Option<(Option<Record>, Instant)>,
    /// When the last successful write of ours was sent, while the record names us.
    last_sent: Option<Instant>,
    /// When the last failed write was sent (the next one waits a retry period).
    last_failed: Option<Instant>,
}

// === impl Timing ===

impl Timing {
    /// client-go's defaults for controllers: 15 s, 10 s, 2 s.
    pub const CONTROLLER: Timing = Timing {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };

    /// Whether the holder stops (renew deadline) before a rival can start (lease duration).
    pub fn is_fenced(&self) -> bool {
        self.retry_period < self.renew_deadline && self.renew_deadline < self.lease_duration
    }

    /// `leaseDurationSeconds` as written (at least 1).
    pub fn lease_duration_seconds(&self) -> i32 {
        self.lease_duration.as_secs_f64().ceil().max(1.0) as i32
    }
}

// === impl Election ===

impl Election {
    pub fn new(identity: impl Into<String>, timing: Timing) -> Self {
        debug_assert!(timing.is_fenced(), "{timing:?}");
        Election {
            identity: identity.into(),
            timing,
            observed: None,
            last_sent: None,
            last_failed: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The record as read or watched at `now` (None: no such Lease).
    pub fn observe(&mut self, record: Option<Record>, now: Instant) {
        let unchanged = matches!(&self.observed, Some((seen, _)) if *seen == record);
        if !unchanged {
            self.observed = Some((record, now));
        }
        if !self.record_names_us() {
            self.last_sent = None;
        }
    }

    /// Our write sent at `sent_at` went through and stored `record`.
    pub fn written(&mut self, sent_at: Instant, record: Record, now: Instant) {
        self.observe(Some(record), now);
        self.last_failed = None;
        if self.record_names_us() {
            self.last_sent = Some(sent_at);
        }
    }

    /// Our write sent at `sent_at` failed (a conflict, or no answer): we hold only what an
    /// earlier success gave, and observe again before trying.
    pub fn failed(&mut self, sent_at: Instant) {
        self.last_failed = Some(sent_at);
    }

    /// We give the Lease up (the caller has already stopped acting): no more acting, and
    /// the caller writes the record released so that rivals need not wait it out.
    pub fn resign(&mut self) {
        self.last_sent = None;
    }

    /// Until when we may act as the holder; None: not at all. Checked against the clock at
    /// the moment of acting, not when this was computed.
    pub fn holding_until(&self) -> Option<Instant> {
        self.last_sent.map(|sent| sent + self.timing.renew_deadline)
    }

    /// Whether we may act as the holder at `now`.
    pub fn is_holding(&self, now: Instant) -> bool {
        self.holding_until().is_some_and(|until| now < until)
    }

    /// What to do at `now`.
    pub fn step(&self, now: Instant) -> Step {
        let Some((record, seen_at)) = &self.observed else {
            return Step::Observe;
        };
        let write = match record {
            None => Write::Create,
            Some(r) if self.is_ours(r) => {
                // Renew a retry period after the last success; at once if we are named but
                // hold nothing (a restart of ours, or a deadline missed).
                match self.last_sent {
                    Some(sent) if now < sent + self.timing.retry_period => {
                        return Step::Wait(sent + self.timing.retry_period);
                    }
                    _ => Write::Renew,
                }
            }
            Some(r) if r.holder.as_deref().is_none_or(str::is_empty) => Write::Acquire,
            Some(r) => {
                let expires = *seen_at + r.lease_duration;
                if now < expires {
                    return Step::Wait(expires);
                }
                Write::Acquire
            }
        };
        match self.last_failed {
            Some(failed) if now < failed + self.timing.retry_period => {
                Step::Wait(failed + self.timing.retry_period)
            }
            _ => Step::Write(write),
        }
    }

    /// The record our `write` would store (the API server assigns the resourceVersion).
    pub fn transitions_after(&self, write: Write) -> i32 {
        let current = self
            .observed
            .as_ref()
            .and_then(|(r, _)| r.as_ref())
            .map_or(0, |r| r.transitions);
        match write {
            Write::Create => 0,
            Write::Renew => current,
            Write::Acquire => current + 1,
        }
    }

    fn is_ours(&self, record: &Record) -> bool {
        record.holder.as_deref() == Some(self.identity.as_str())
    }

    fn record_names_us(&self) -> bool {
        matches!(&self.observed, Some((Some(r), _)) if self.is_ours(r))
    }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
