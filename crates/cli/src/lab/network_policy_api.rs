//! ClusterNetworkPolicy's CRD (network-policy-api v0.2.0, vendored unchanged under
//! deploy/network-policy-api/), applied on every `lab up` so the agents can enforce
//! ClusterNetworkPolicies (applying it again is a no-op; a lab made before it gains it).

use super::client::Catalog;
use super::{apply, manifest};

pub(crate) const FILE: &str = "policy.networking.k8s.io_clusternetworkpolicies.yaml";
pub(crate) const CRD: &str = include_str!(
    "../../../../deploy/network-policy-api/policy.networking.k8s.io_clusternetworkpolicies.yaml"
);

pub async fn install(client: &kube::Client, catalog: &Catalog) -> anyhow::Result<()> {
    let objects = manifest::parse(FILE, CRD)?;
    apply::apply_objects(client, catalog, &objects, "default", false).await
}
