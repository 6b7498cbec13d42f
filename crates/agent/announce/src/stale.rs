//! Per-address Leases left behind. An announcer releases an address's Lease when nobody
//! wants it any more, but the Lease object stays (a rival may want it a moment later);
//! once no Service has the address, it is stale and the allocator's leader deletes it —
//! as kube-apiserver's lease garbage collector deletes expired identity Leases. A Lease is
//! deleted only when nobody holds it (released, or expired by more than [`GRACE`] on the
//! leader's clock) and only at the resourceVersion it was judged at, so a node that takes
//! the address again in between keeps its Lease.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Preconditions};
use kube::{Api, ResourceExt};

use crate::announcer::{LEASE_LABEL, LEASE_NAMESPACE, LEASE_PREFIX};

/// How long past its expiry a held Lease must be before it counts as abandoned: room for
/// the holder's and the leader's clocks to disagree.
pub const GRACE: Duration = Duration::from_secs(10);

/// One Lease to delete, at the version it was judged at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub name: String,
    pub resource_version: String,
}

/// The address a per-address Lease stands for (`podnet-l2-172-18-255-200`).
pub fn address_of(lease_name: &str) -> Option<Ipv4Addr> {
    lease_name
        .strip_prefix(LEASE_PREFIX)?
        .replace('-', ".")
        .parse()
        .ok()
}

/// The Leases of `leases` (the announcers', by label) whose address no Service has
/// (`in_use`) and that nobody holds at `now`.
pub fn stale<'a>(
    leases: impl IntoIterator<Item = &'a Lease>,
    in_use: &BTreeSet<Ipv4Addr>,
    now: Timestamp,
) -> Vec<Stale> {
    leases
        .into_iter()
        .filter(|l| address_of(&l.name_any()).is_some_and(|ip| !in_use.contains(&ip)))
        .filter(|l| !held(l, now))
        .map(|l| Stale {
            name: l.name_any(),
            resource_version: l.resource_version().unwrap_or_default(),
        })
        .collect()
}

/// Whether someone holds `lease` at `now`: a holder and a renewal less than its duration
/// plus [`GRACE`] ago.
fn held(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = lease.spec.as_ref() else {
        return false;
    };
    if spec
        .holder_identity
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        return false;
    }
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        // Held but never renewed: trust the holder.
        return true;
    };
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
    let expires = renewed.0 + (duration + GRACE);
    expires > now
}

/// Deletes the stale Leases given the addresses Services have; returns how many went.
pub async fn sweep(
    client: &kube::Client,
    in_use: &BTreeSet<Ipv4Addr>,
) -> Result<usize, kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let leases = api
        .list(&ListParams::default().labels(&format!("{LEASE_LABEL}=true")))
        .await?;
    let mut deleted = 0;
    for lease in stale(&leases.items, in_use, Timestamp::now()) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(lease.resource_version.clone()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&lease.name, &params).await {
            Ok(_) => {
                tracing::info!(lease = %lease.name, "deleted the Lease of an address no Service has");
                deleted += 1;
            }
            // Gone already, or written since (someone stands for the address again).
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-12-08T01:00:00Z";

    fn lease(name: &str, holder: Option<&str>, renewed: &str) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system", "resourceVersion": "7",
                "labels": {LEASE_LABEL: "true"}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 1,
                "renewTime": renewed},
        }))
        .unwrap()
    }

    fn names(s: &[Stale]) -> Vec<&str> {
        s.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn lease_names_map_back_to_their_addresses() {
        let ip: Ipv4Addr = "172.18.255.200".parse().unwrap();
        assert_eq!(address_of(&crate::lease_name(ip)), Some(ip));
        assert_eq!(address_of("podnet-lb-ipam"), None);
        assert_eq!(address_of("podnet-l2-not-an-address"), None);
    }

    #[test]
    fn a_released_lease_of_an_address_no_service_has_is_stale() {
        let now: Timestamp = NOW.parse().unwrap();
        let leases = [
            lease("podnet-l2-172-18-255-200", None, NOW),
            lease("podnet-l2-172-18-255-201", Some(""), NOW),
            lease("podnet-l2-172-18-255-202", None, NOW),
        ];
        let in_use = BTreeSet::from(["172.18.255.202".parse().unwrap()]);
        let found = stale(&leases, &in_use, now);
        assert_eq!(
            names(&found),
            ["podnet-l2-172-18-255-200", "podnet-l2-172-18-255-201"]
        );
        assert_eq!(
            found[0].resource_version, "7",
            "deleted at the version judged"
        );
    }

    #[test]
    fn a_held_lease_stays_until_it_expired_by_more_than_the_grace() {
        let now: Timestamp = NOW.parse().unwrap();
        let in_use = BTreeSet::new();
        // Renewed 5 s ago with a 1 s duration: expired, but within the grace.
        let recent = [lease(
            "podnet-l2-172-18-255-200",
            Some("node-1"),
            "2026-12-08T00:59:55Z",
        )];
        assert!(stale(&recent, &in_use, now).is_empty());
        // Renewed a minute ago: its holder is gone.
        let abandoned = [lease(
            "podnet-l2-172-18-255-200",
            Some("node-1"),
            "2026-12-08T00:59:00Z",
        )];
        assert_eq!(
            names(&stale(&abandoned, &in_use, now)),
            ["podnet-l2-172-18-255-200"]
        );
    }
}
