//! Which LoadBalancer addresses this node may stand for, pure, from the Services and
//! EndpointSlices as watched: every address in `status.loadBalancer.ingress[].ip` of a
//! `type: LoadBalancer` Service of podnet's class (or none); with
//! `externalTrafficPolicy: Local` only where this node has a ready endpoint of it (else the
//! traffic would arrive where the proxy has nowhere local to send it). Services sharing an
//! address (a sharing key) must all accept the node.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// `spec.loadBalancerClass` podnet serves (besides none); the lb-ipam controller's.
pub const LB_CLASS: &str = "podnet.io/lb";
/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The addresses `node` may stand for, each with the Services (`namespace/name`) behind it.
pub fn wanted<'a>(
    node: &str,
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice> + Clone,
) -> BTreeMap<Ipv4Addr, Vec<String>> {
    let mut accepted: BTreeMap<Ipv4Addr, (Vec<String>, bool)> = BTreeMap::new();
    for svc in services {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let ours = spec.type_.as_deref() == Some("LoadBalancer")
            && spec
                .load_balancer_class
                .as_deref()
                .is_none_or(|c| c == LB_CLASS);
        if !ours || svc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let namespace = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let local = spec.external_traffic_policy.as_deref() == Some("Local");
        let ok = !local || has_ready_local_endpoint(node, &namespace, &name, slices.clone());
        for ip in ingress_ips(svc) {
            let entry = accepted.entry(ip).or_insert_with(|| (Vec::new(), true));
            entry.0.push(format!("{namespace}/{name}"));
            entry.1 &= ok;
        }
    }
    accepted
        .into_iter()
        .filter(|(_, (_, ok))| *ok)
        .map(|(ip, (services, _))| (ip, services))
        .collect()
}

fn ingress_ips(svc: &Service) -> impl Iterator<Item = Ipv4Addr> + '_ {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
}

fn has_ready_local_endpoint<'a>(
    node: &str,
    namespace: &str,
    name: &str,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> bool {
    slices
        .into_iter()
        .filter(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .map(String::as_str)
                    == Some(name)
        })
        .flat_map(|s| s.endpoints.iter().flatten())
        .any(|e| {
            e.node_name.as_deref() == Some(node)
                && e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(name: &str, etp: &str, class: Option<&str>, ips: &[&str]) -> Service {
        let ingress: Vec<_> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp,
                "loadBalancerClass": class, "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": ingress}},
        }))
        .unwrap()
    }

    fn slice(service: &str, endpoints: &[(&str, bool)]) -> EndpointSlice {
        let endpoints: Vec<_> = endpoints
            .iter()
            .map(|(node, ready)| {
                json!({"addresses": ["10.244.1.5"], "nodeName": node,
                "conditions": {"ready": ready}})
            })
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-abc"), "namespace": "ns",
                "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": endpoints,
        }))
        .unwrap()
    }

    fn ips(w: &BTreeMap<Ipv4Addr, Vec<String>>) -> Vec<String> {
        w.keys().map(ToString::to_string).collect()
    }

    #[test]
    fn a_cluster_policy_address_may_be_announced_from_any_node() {
        let svcs = [service("web", "Cluster", None, &["172.18.255.200"])];
        let w = wanted("n1", &svcs, &[]);
        assert_eq!(ips(&w), ["172.18.255.200"]);
        assert_eq!(w.values().next().unwrap(), &["ns/web"]);
    }

    #[test]
    fn a_local_policy_address_needs_a_ready_endpoint_on_this_node() {
        let svcs = [service("web", "Local", None, &["172.18.255.200"])];
        let slices = [slice("web", &[("n1", true), ("n2", false)])];
        assert_eq!(ips(&wanted("n1", &svcs, &slices)), ["172.18.255.200"]);
        assert!(wanted("n2", &svcs, &slices).is_empty(), "not ready");
        assert!(wanted("n3", &svcs, &slices).is_empty(), "no endpoint");
        let other = [slice("other", &[("n3", true)])];
        assert!(wanted("n3", &svcs, &other).is_empty(), "another Service's");
    }

    #[test]
    fn other_classes_and_pending_services_are_not_ours() {
        let svcs = [
            service(
                "a",
                "Cluster",
                Some("example.com/other"),
                &["172.18.255.201"],
            ),
            service("b", "Cluster", None, &[]),
            service("c", "Cluster", Some(LB_CLASS), &["172.18.255.202"]),
        ];
        assert_eq!(ips(&wanted("n1", &svcs, &[])), ["172.18.255.202"]);
    }

    #[test]
    fn a_shared_address_needs_every_service_behind_it_to_accept_the_node() {
        let svcs = [
            service("dns-tcp", "Cluster", None, &["172.18.255.210"]),
            service("dns-udp", "Local", None, &["172.18.255.210"]),
        ];
        let slices = [slice("dns-udp", &[("n1", true)])];
        let w = wanted("n1", &svcs, &slices);
        assert_eq!(w.values().next().unwrap(), &["ns/dns-tcp", "ns/dns-udp"]);
        assert!(wanted("n2", &svcs, &slices).is_empty());
    }
}
