//! The bounded ring of recent changes that lets a watch resume from a resourceVersion.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ObjectKey, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One committed change. `object` is the state after it (for a deletion: the last state,
/// carrying the deletion's resourceVersion); `prev` the state before, which a filtered watch
/// needs to notice an object leaving or entering its selection.
#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub key: ObjectKey,
    pub object: Arc<Value>,
    pub prev: Option<Arc<Value>>,
}

/// Holds every event with a resourceVersion above `floor`, at most `capacity` of them.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Event>,
    capacity: usize,
    floor: u64,
}

// === impl History ===

impl History {
    pub fn new(capacity: usize, floor: u64) -> Self {
        History {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            floor,
        }
    }

    pub fn push(&mut self, event: Event) {
        if self.events.len() == self.capacity
            && let Some(evicted) = self.events.pop_front()
        {
            self.floor = evicted.rv;
        }
        self.events.push_back(event);
    }

    /// The oldest resourceVersion a watch may still start from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The events after `rv`, oldest first, or `Expired` when some of them were dropped.
    pub fn since(&self, rv: u64) -> Result<impl Iterator<Item = &Event>, StoreError> {
        if rv < self.floor {
            return Err(StoreError::Expired {
                requested: rv,
                oldest: self.floor,
            });
        }
        let start = self.events.partition_point(|e| e.rv <= rv);
        Ok(self.events.range(start..))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;

    fn event(rv: u64) -> Event {
        Event {
            rv,
            kind: EventType::Added,
            key: Resource::new("", "pods").key("ns1", &format!("p{rv}")),
            object: Arc::new(json!({})),
            prev: None,
        }
    }

    #[test]
    fn a_full_ring_forgets_the_oldest_and_expires_older_watches() {
        let mut h = History::new(3, 10);
        for rv in 11..=15 {
            h.push(event(rv));
        }
        assert_eq!(h.floor(), 12);
        let rvs: Vec<u64> = h.since(12).unwrap().map(|e| e.rv).collect();
        assert_eq!(rvs, [13, 14, 15]);
        assert_eq!(h.since(15).unwrap().count(), 0);
        assert!(matches!(
            h.since(11),
            Err(StoreError::Expired {
                requested: 11,
                oldest: 12
            })
        ));
    }
}
