//! What happens to an event before it is written, as client-go's EventCorrelator decides
//! (tools/record/events_cache.go), pure: a per-object spam filter, the aggregation of similar
//! events, and de-duplication into `count` + `lastTimestamp`.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Entries each cache keeps (client-go's maxLruCacheEntries).
const MAX_ENTRIES: usize = 4096;
/// Distinct messages of one kind of event, within [`AGGREGATE_WINDOW`], before they are
/// combined into one (defaultAggregateMaxEvents).
const AGGREGATE_MAX_EVENTS: usize = 10;
const AGGREGATE_WINDOW: SignedDuration = SignedDuration::from_mins(10);
/// The spam filter's token bucket per source and object: 25 at once, then one per 5 minutes.
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL: SignedDuration = SignedDuration::from_mins(5);
/// What replaces the message of an aggregated event.
pub const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// How an event reaches the API.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// A new object.
    Create(Event),
    /// Seen before: `count`, `lastTimestamp` and `message` of the object named in the event
    /// are patched (and it is created again if it expired meanwhile).
    Patch(Event),
}

/// The correlator's memory, bounded to [`MAX_ENTRIES`] per cache.
#[derive(Debug, Default)]
pub struct Correlator {
    spam: Bounded<String, Bucket>,
    aggregates: Bounded<String, Aggregate>,
    seen: Bounded<String, Seen>,
}

#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

#[derive(Clone, Debug)]
struct Aggregate {
    messages: HashSet<String>,
    last: Timestamp,
}

#[derive(Clone, Debug)]
struct Seen {
    name: String,
    count: i32,
    first: Option<Time>,
}

// === impl Correlator ===

impl Correlator {
    /// Decides what to write for `event`, observed at `now`; `None`: dropped as spam.
    pub fn correlate(&mut self, event: Event, now: Timestamp) -> Option<Write> {
        if !self.allow(&event, now) {
            return None;
        }
        let (event, key) = self.aggregate(event, now);
        Some(self.observe(event, key))
    }

    fn allow(&mut self, event: &Event, now: Timestamp) -> bool {
        let bucket = self.spam.get_or_insert_with(spam_key(event), || Bucket {
            tokens: SPAM_BURST,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refilled.max(0.0)).min(SPAM_BURST);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// Past [`AGGREGATE_MAX_EVENTS`] different messages of one kind of event about one
    /// object, a new combined event takes their place (and is then de-duplicated itself).
    fn aggregate(&mut self, event: Event, now: Timestamp) -> (Event, String) {
        let (aggregate_key, message) = aggregate_key(&event);
        let record = self
            .aggregates
            .get_or_insert_with(aggregate_key.clone(), || Aggregate {
                messages: HashSet::new(),
                last: now,
            });
        if now.duration_since(record.last) > AGGREGATE_WINDOW {
            record.messages.clear();
        }
        record.messages.insert(message);
        record.last = now;
        if record.messages.len() < AGGREGATE_MAX_EVENTS {
            let key = dedup_key(&event);
            return (event, key);
        }
        // Keep the set from growing past the limit.
        if let Some(any) = record.messages.iter().next().cloned() {
            record.messages.remove(&any);
        }
        let combined = Event {
            message: Some(format!(
                "{COMBINED_PREFIX}{}",
                event.message.as_deref().unwrap_or("")
            )),
            ..event
        };
        (combined, aggregate_key)
    }

    /// The same event again becomes a patch of the first one's object: count + 1, the
    /// first timestamp kept, the last one now.
    fn observe(&mut self, mut event: Event, key: String) -> Write {
        match self.seen.get_mut(&key) {
            Some(seen) => {
                seen.count += 1;
                event.metadata.name = Some(seen.name.clone());
                event.first_timestamp = seen.first.clone();
                event.count = Some(seen.count);
                Write::Patch(event)
            }
            None => {
                let seen = Seen {
                    name: event.metadata.name.clone().unwrap_or_default(),
                    count: event.count.unwrap_or(1),
                    first: event.first_timestamp.clone(),
                };
                self.seen.insert(key, seen);
                Write::Create(event)
            }
        }
    }
}

fn source_and_object(event: &Event) -> Vec<&str> {
    let source = event.source.as_ref();
    let o = &event.involved_object;
    vec![
        source.and_then(|s| s.component.as_deref()).unwrap_or(""),
        source.and_then(|s| s.host.as_deref()).unwrap_or(""),
        o.kind.as_deref().unwrap_or(""),
        o.namespace.as_deref().unwrap_or(""),
        o.name.as_deref().unwrap_or(""),
        o.uid.as_deref().unwrap_or(""),
        o.api_version.as_deref().unwrap_or(""),
    ]
}

/// Source and object: what the spam filter rations.
fn spam_key(event: &Event) -> String {
    source_and_object(event).join("\u{0}")
}

/// (source, object, type, reason, reporter) and the message: similar events share the
/// first and differ in the second.
fn aggregate_key(event: &Event) -> (String, String) {
    let mut parts = source_and_object(event);
    parts.extend([
        event.type_.as_deref().unwrap_or(""),
        event.reason.as_deref().unwrap_or(""),
        event.reporting_component.as_deref().unwrap_or(""),
        event.reporting_instance.as_deref().unwrap_or(""),
    ]);
    (
        parts.join("\u{0}"),
        event.message.clone().unwrap_or_default(),
    )
}

/// Everything that makes two events the same one (the field path and the message too).
fn dedup_key(event: &Event) -> String {
    let mut parts = source_and_object(event);
    parts.extend([
        event.involved_object.field_path.as_deref().unwrap_or(""),
        event.type_.as_deref().unwrap_or(""),
        event.reason.as_deref().unwrap_or(""),
        event.message.as_deref().unwrap_or(""),
    ]);
    parts.join("\u{0}")
}

/// A map that forgets its least recently used entry past [`MAX_ENTRIES`].
#[derive(Debug)]
struct Bounded<K, V> {
    entries: HashMap<K, (u64, V)>,
    clock: u64,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            entries: HashMap::new(),
            clock: 0,
        }
    }
}

// === impl Bounded ===

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(used, v)| {
            *used = clock;
            v
        })
    }

    fn insert(&mut self, key: K, value: V) {
        self.clock += 1;
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (self.clock, value));
    }

    fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) {
            self.insert(key.clone(), make());
        }
        self.get_mut(&key).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn event(name: &str, reason: &str, message: &str, now: Timestamp) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns1".into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("ns1".into()),
                name: Some("web-1".into()),
                uid: Some("u1".into()),
                api_version: Some("v1".into()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Warning".into()),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some("node-1".into()),
            }),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_event_twice_patches_the_first_object_with_count_two() {
        let mut c = Correlator::default();
        let first = c.correlate(
            event("web-1.a", "Unhealthy", "Readiness probe failed", at(0)),
            at(0),
        );
        assert!(matches!(first, Some(Write::Create(_))));
        let Some(Write::Patch(again)) = c.correlate(
            event("web-1.b", "Unhealthy", "Readiness probe failed", at(10)),
            at(10),
        ) else {
            panic!("the same event again is a patch");
        };
        assert_eq!(again.metadata.name.as_deref(), Some("web-1.a"));
        assert_eq!(again.count, Some(2));
        assert_eq!(again.first_timestamp, Some(Time(at(0))));
        assert_eq!(again.last_timestamp, Some(Time(at(10))));
        let Some(Write::Patch(third)) = c.correlate(
            event("web-1.c", "Unhealthy", "Readiness probe failed", at(20)),
            at(20),
        ) else {
            panic!("and again");
        };
        assert_eq!(third.count, Some(3));

        let other = c.correlate(
            event("web-1.d", "Unhealthy", "Liveness probe failed", at(30)),
            at(30),
        );
        assert!(
            matches!(other, Some(Write::Create(_))),
            "another message is another event"
        );
    }

    #[test]
    fn the_tenth_different_message_is_combined_and_then_counted() {
        let mut c = Correlator::default();
        for i in 0..9 {
            let write = c.correlate(
                event(&format!("e.{i}"), "Failed", &format!("error {i}"), at(i)),
                at(i),
            );
            assert!(matches!(write, Some(Write::Create(_))), "message {i}");
        }
        let Some(Write::Create(combined)) =
            c.correlate(event("e.9", "Failed", "error 9", at(9)), at(9))
        else {
            panic!("the tenth is a combined event");
        };
        assert_eq!(
            combined.message.as_deref(),
            Some("(combined from similar events): error 9")
        );
        let Some(Write::Patch(again)) =
            c.correlate(event("e.10", "Failed", "error 10", at(10)), at(10))
        else {
            panic!("further ones count on the combined event");
        };
        assert_eq!(again.metadata.name.as_deref(), Some("e.9"));
        assert_eq!(again.count, Some(2));
        assert_eq!(
            again.message.as_deref(),
            Some("(combined from similar events): error 10")
        );
    }

    #[test]
    fn an_object_gets_25_events_at_once_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let written = (0..30)
            .filter(|i| {
                c.correlate(event(&format!("e.{i}"), "Started", "same", at(0)), at(0))
                    .is_some()
            })
            .count();
        assert_eq!(written, 25);
        assert!(
            c.correlate(event("x", "Started", "same", at(60)), at(60))
                .is_none()
        );
        assert!(
            c.correlate(event("y", "Started", "same", at(301)), at(301))
                .is_some()
        );
    }

    #[test]
    fn the_caches_stay_bounded() {
        let mut map: Bounded<u32, u32> = Bounded::default();
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            map.insert(i, i);
        }
        assert_eq!(map.entries.len(), MAX_ENTRIES);
        assert!(map.get_mut(&0).is_none(), "the oldest went first");
        assert!(map.get_mut(&(MAX_ENTRIES as u32 + 9)).is_some());
    }
}
