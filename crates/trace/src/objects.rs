//! The API objects a trace is computed from, read once (one list per kind), and the lookups
//! every layer asks of them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use podnet_k8s_model::{NodeRoute, SERVICE_NAME_LABEL};

use crate::error::{Error, Result};

/// Everything a what-if trace reads.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
    pub nodes: Vec<Node>,
    pub policies: Vec<NetworkPolicy>,
    pub namespaces: Vec<Namespace>,
}

/// `namespace/name` of any object.
pub fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

fn is(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ns: &str,
    name: &str,
) -> bool {
    meta.namespace.as_deref() == Some(ns) && meta.name.as_deref() == Some(name)
}

// === impl Objects ===

impl Objects {
    /// One list of each kind, across all namespaces.
    pub async fn load(client: &kube::Client) -> Result<Self> {
        let lp = ListParams::default();
        macro_rules! list {
            ($ty:ty, $resource:literal) => {
                Api::<$ty>::all(client.clone())
                    .list(&lp)
                    .await
                    .map_err(|source| Error::List {
                        resource: $resource,
                        source,
                    })?
                    .items
            };
        }
        Ok(Self {
            pods: list!(Pod, "pods"),
            services: list!(Service, "services"),
            slices: list!(EndpointSlice, "endpointslices"),
            nodes: list!(Node, "nodes"),
            policies: list!(NetworkPolicy, "networkpolicies"),
            namespaces: list!(Namespace, "namespaces"),
        })
    }

    pub fn pod(&self, ns: &str, name: &str) -> Option<&Pod> {
        self.pods.iter().find(|p| is(&p.metadata, ns, name))
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| is(&s.metadata, ns, name))
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
    }

    /// The (non host-network) pod holding `ip`.
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&Pod> {
        self.pods.iter().find(|p| {
            let spec = p.spec.as_ref();
            !spec.and_then(|s| s.host_network).unwrap_or(false)
                && pod_ip(p) == Some(ip)
                && !is_finished(p)
        })
    }

    /// The slices of Service `ns/name` (by the `kubernetes.io/service-name` label).
    pub fn slices_of<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a EndpointSlice> {
        self.slices.iter().filter(move |s| {
            s.metadata.namespace.as_deref() == Some(ns)
                && s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .is_some_and(|n| n == name)
        })
    }

    /// Every Node as routing sees it (malformed ones left out: the agent skips them too).
    pub fn node_routes(&self) -> Vec<NodeRoute> {
        self.nodes
            .iter()
            .filter_map(|n| NodeRoute::from_node(n).ok())
            .collect()
    }

    /// The node whose pod CIDR holds `ip`.
    pub fn node_of_pod_ip(&self, ip: IpAddr) -> Option<NodeRoute> {
        self.node_routes()
            .into_iter()
            .find(|n| n.pod_cidrs.iter().any(|c| c.contains(&ip)))
    }

    /// The node whose InternalIP is `ip`.
    pub fn node_by_ip(&self, ip: IpAddr) -> Option<NodeRoute> {
        self.node_routes()
            .into_iter()
            .find(|n| n.node_ip.is_some_and(|a| a.0 == ip))
    }

    /// The node's InternalIP.
    pub fn node_ip(&self, name: &str) -> Option<IpAddr> {
        self.node_routes()
            .into_iter()
            .find(|n| n.name == name)
            .and_then(|n| n.node_ip.map(|a| a.0))
    }

    /// The cluster CIDR as the nodes' pod CIDRs tell it: their common supernet (what the
    /// agent's `--cluster-cidr` is, when every node got its range from it).
    pub fn cluster_cidrs(&self) -> Vec<IpNet> {
        let cidrs: Vec<IpNet> = self
            .node_routes()
            .into_iter()
            .flat_map(|n| n.pod_cidrs)
            .collect();
        let Some(first) = cidrs.first() else {
            return Vec::new();
        };
        let mut net = *first;
        while cidrs.iter().any(|c| !net.contains(c)) {
            match net.supernet() {
                Some(s) => net = s,
                None => break,
            }
        }
        vec![net]
    }

    /// Each node's addresses (policy: traffic from a pod's own node is always allowed).
    pub fn node_addresses(&self) -> BTreeMap<String, Vec<IpAddr>> {
        self.node_routes()
            .into_iter()
            .map(|n| (n.name, n.node_ip.map(|a| a.0).into_iter().collect()))
            .collect()
    }
}

/// The pod's primary address.
pub fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
}

/// A pod that ran to completion no longer holds its address.
pub fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

pub fn labels(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}
