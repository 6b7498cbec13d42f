//! Status writes as merge patches. Upstream's status counters are `omitempty` (a zero is
//! left out), but a merge patch leaves out what it does not mention: a counter that drops
//! to zero must be sent as `null` to disappear.

use serde::Serialize;
use serde_json::{Value, json};

pub const DEPLOYMENT_COUNTERS: &[&str] = &[
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
    "terminatingReplicas",
];

pub const REPLICA_SET_COUNTERS: &[&str] = &[
    "fullyLabeledReplicas",
    "readyReplicas",
    "availableReplicas",
    "terminatingReplicas",
];

/// `{"status": status}` with `null` for each of `counters` that `status` leaves out.
pub fn merge(status: &impl Serialize, counters: &[&str]) -> Value {
    let mut status = serde_json::to_value(status).expect("statuses serialize");
    if let Some(map) = status.as_object_mut() {
        for key in counters {
            map.entry(*key).or_insert(Value::Null);
        }
    }
    json!({ "status": status })
}

pub const DAEMON_SET_COUNTERS: &[&str] = &[
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
];

pub const STATEFUL_SET_COUNTERS: &[&str] = &[
    "readyReplicas",
    "availableReplicas",
    "currentReplicas",
    "updatedReplicas",
];

pub const JOB_COUNTERS: &[&str] = &["active", "succeeded", "failed", "completionTime"];

/// `status.active` is a list, `omitempty` too: an empty one is sent as `null`.
pub const CRON_JOB_LISTS: &[&str] = &["active"];
