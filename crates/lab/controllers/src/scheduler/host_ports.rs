//! kube-scheduler's NodePorts filter (pure): a pod that asks for a `hostPort` does not fit on
//! a node where a pod already holds the same port and protocol on an overlapping host IP
//! (`0.0.0.0`, the default, overlaps every address).

use k8s_openapi::api::core::v1::{ContainerPort, Pod};

/// Upstream's reason, shown as "N node(s) didn't have free ports for the requested pod ports".
pub const REASON: &str = "didn't have free ports for the requested pod ports";

/// A host port as the filter compares them: (host IP, protocol, port).
#[derive(Debug, PartialEq, Eq)]
struct HostPort<'a> {
    ip: &'a str,
    protocol: &'a str,
    port: i32,
}

// === impl HostPort ===

impl HostPort<'_> {
    fn conflicts(&self, other: &HostPort<'_>) -> bool {
        const ANY: &str = "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == ANY || other.ip == ANY)
    }
}

fn host_ports(pod: &Pod) -> Vec<HostPort<'_>> {
    let spec = pod.spec.iter();
    spec.flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p: &ContainerPort| {
            Some(HostPort {
                ip: p
                    .host_ip
                    .as_deref()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or("0.0.0.0"),
                protocol: p.protocol.as_deref().unwrap_or("TCP"),
                port: p.host_port.filter(|port| *port > 0)?,
            })
        })
        .collect()
}

/// Whether `pod`'s host ports are free among the (unfinished) pods already on the node.
pub fn fits<'a>(pod: &Pod, on_node: impl IntoIterator<Item = &'a Pod>) -> Result<(), String> {
    let wanted = host_ports(pod);
    if wanted.is_empty() {
        return Ok(());
    }
    for other in on_node {
        let taken = host_ports(other);
        if wanted.iter().any(|w| taken.iter().any(|t| w.conflicts(t))) {
            return Err(REASON.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ports: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": ports}]}}))
        .unwrap()
    }

    #[test]
    fn same_port_and_protocol_on_overlapping_addresses_conflict() {
        let web = pod(json!([{"containerPort": 80, "hostPort": 8080}]));
        let dns_udp = pod(json!([{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]));
        let on_ip = pod(json!([{"containerPort": 80, "hostPort": 8080, "hostIP": "172.18.0.3"}]));
        assert_eq!(fits(&web, [&web]), Err(REASON.to_owned()));
        assert_eq!(
            fits(&on_ip, [&web]),
            Err(REASON.to_owned()),
            "0.0.0.0 overlaps"
        );
        let other_ip =
            pod(json!([{"containerPort": 80, "hostPort": 8080, "hostIP": "172.18.0.4"}]));
        assert_eq!(fits(&other_ip, [&on_ip]), Ok(()));
        let dns_tcp = pod(json!([{"containerPort": 53, "hostPort": 53, "protocol": "TCP"}]));
        assert_eq!(fits(&dns_tcp, [&dns_udp]), Ok(()), "other protocol");
        let no_host_port = pod(json!([{"containerPort": 8080}]));
        assert_eq!(fits(&no_host_port, [&web]), Ok(()));
        assert_eq!(fits(&web, [&no_host_port]), Ok(()));
    }
}
