//! The watched objects, as last seen, keyed by (namespace, name).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

pub type Key = (String, String);

/// Everything the configuration is built from.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub ingresses: BTreeMap<Key, Ingress>,
    pub ingress_classes: BTreeMap<Key, IngressClass>,
    pub services: BTreeMap<Key, Service>,
    pub endpoint_slices: BTreeMap<Key, EndpointSlice>,
    pub secrets: BTreeMap<Key, Secret>,
    /// Gateway API objects as JSON (served by CRDs), when installed.
    pub gateway_classes: BTreeMap<Key, serde_json::Value>,
    pub gateways: BTreeMap<Key, serde_json::Value>,
    pub http_routes: BTreeMap<Key, serde_json::Value>,
    pub reference_grants: BTreeMap<Key, serde_json::Value>,
}

/// The key of an object.
pub fn key_of(meta: &kube::api::ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}
