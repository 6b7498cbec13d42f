//! Per-object expiry: objects of some resources are removed a fixed time after their last
//! write, as kube-apiserver keeps Events under an etcd lease that every write renews
//! (`--event-ttl`). Deadlines live in memory only: after a restart every such object gets a
//! full TTL again, which errs on keeping an object a little longer, never on losing one early.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::{ObjectKey, Resource};

/// When each expiring object is due, ordered so the earliest is found at once.
#[derive(Debug, Default)]
pub(crate) struct Expiry {
    ttls: Vec<(Resource, Duration)>,
    due: BTreeSet<(Instant, ObjectKey)>,
    at: HashMap<ObjectKey, Instant>,
}

// === impl Expiry ===

impl Expiry {
    pub(crate) fn new(ttls: Vec<(Resource, Duration)>) -> Self {
        Expiry {
            ttls,
            ..Expiry::default()
        }
    }

    fn ttl(&self, resource: &Resource) -> Option<Duration> {
        self.ttls
            .iter()
            .find(|(r, _)| r == resource)
            .map(|(_, ttl)| *ttl)
    }

    /// The object was written at `now`: its deadline moves to `now` + its resource's TTL.
    pub(crate) fn touch(&mut self, key: &ObjectKey, now: Instant) {
        let Some(ttl) = self.ttl(&key.resource) else {
            return;
        };
        self.forget(key);
        let deadline = now + ttl;
        self.due.insert((deadline, key.clone()));
        self.at.insert(key.clone(), deadline);
    }

    /// The object is gone: it has no deadline any more.
    pub(crate) fn forget(&mut self, key: &ObjectKey) {
        if let Some(deadline) = self.at.remove(key) {
            self.due.remove(&(deadline, key.clone()));
        }
    }

    /// The objects whose deadline is at or before `now`, earliest first.
    pub(crate) fn due(&self, now: Instant) -> Vec<ObjectKey> {
        self.due
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// The earliest deadline, if any object expires.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.due.first().map(|(deadline, _)| *deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Resource {
        Resource::new("", "events")
    }

    #[test]
    fn a_write_renews_the_deadline_and_other_resources_never_expire() {
        let mut expiry = Expiry::new(vec![(events(), Duration::from_secs(60))]);
        let t0 = Instant::now();
        let ev = events().key("ns1", "ev1");
        let pod = Resource::new("", "pods").key("ns1", "p");
        expiry.touch(&ev, t0);
        expiry.touch(&pod, t0);
        assert_eq!(expiry.next(), Some(t0 + Duration::from_secs(60)));
        expiry.touch(&ev, t0 + Duration::from_secs(30));
        assert!(expiry.due(t0 + Duration::from_secs(60)).is_empty());
        assert_eq!(expiry.due(t0 + Duration::from_secs(90)), vec![ev.clone()]);
        expiry.forget(&ev);
        assert_eq!(expiry.next(), None);
    }
}
