//! Status writes as merge patches. Upstream's status counters are `omitempty` (a zero is
//! left out), but a merge patch leaves out what it does not mention: a counter that drops
//! to zero must be sent as `null` to disappear.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, is_not_found};

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

/// Writes `status` through the `/status` subresource of `name` unless it is `old` already;
/// `counters` as in [`merge`]. An object deleted meanwhile is no error.
pub async fn write<K, S>(
    api: &Api<K>,
    name: &str,
    old: Option<&S>,
    status: &S,
    counters: &[&str],
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if old == Some(status) {
        return Ok(());
    }
    let patch = merge(status, counters);
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(source) => Err(Error::Object {
            what: "updating the status of",
            name: format!("{} {name}", K::kind(&()).to_lowercase()),
            source,
        }),
    }
}

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
