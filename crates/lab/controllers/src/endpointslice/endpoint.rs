//! One pod as an endpoint of one Service, as upstream's `podToEndpoint` and
//! `getEndpointPorts`.

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::pods::is_ready;

/// Whether the pod belongs in the Service's endpoints at all (upstream
/// `ShouldPodBeInEndpoints` with terminating pods included): it has an IP and has not
/// finished for good.
pub fn should_include(p: &Pod) -> bool {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    let restart = p.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
    let finished = match restart {
        Some("Never") => matches!(phase, Some("Succeeded" | "Failed")),
        Some("OnFailure") => phase == Some("Succeeded"),
        _ => false,
    };
    let has_ip = status
        .and_then(|s| s.pod_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty());
    has_ip && !finished
}

/// The pod's address of the family `address_type` (`IPv4` / `IPv6`), if it has one.
pub fn address(p: &Pod, address_type: &str) -> Option<String> {
    let status = p.status.as_ref()?;
    let ips = status
        .pod_ips
        .iter()
        .flatten()
        .map(|i| i.ip.clone())
        .chain(status.pod_ip.clone());
    let v6 = address_type == "IPv6";
    ips.filter(|ip| !ip.is_empty())
        .find(|ip| ip.contains(':') == v6)
}

/// The endpoint of `pod` for `svc`, with its conditions: `serving` is readiness, `ready` is
/// readiness of a pod that is not terminating, `terminating` is the deletionTimestamp; with
/// `publishNotReadyAddresses` every pod is ready and serving.
pub fn endpoint(svc: &Service, pod: &Pod, address: String) -> Endpoint {
    let spec = svc.spec.as_ref();
    let publish = spec.and_then(|s| s.publish_not_ready_addresses) == Some(true);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let serving = publish || is_ready(pod);
    let ready = serving && (publish || !terminating);
    let pod_spec = pod.spec.as_ref();
    let node_name = pod_spec
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    // A pod's hostname is published only for the Service its subdomain names.
    let hostname = pod_spec
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .filter(|_| {
            pod_spec.and_then(|s| s.subdomain.as_deref()) == Some(svc.name_any().as_str())
                && pod.namespace() == svc.namespace()
        });
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname,
        node_name,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Service's ports as this pod serves them: a named targetPort is looked up among the
/// pod's container ports (same name and protocol); a port the pod does not have is left out
/// for this pod, as upstream.
pub fn ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let spec_ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    spec_ports
        .iter()
        .filter_map(|sp| {
            let number = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// Upstream `podutil.FindPort`.
fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(0)) => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = sp.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}
