//! podnet's own network list, as a node's `/etc/cni/net.d/10-podnet.conflist` holds it: the
//! same for the lab's nodes and for a real cluster's (written there by `podnet cni install`,
//! the agent DaemonSet's init container).

use std::path::Path;

use serde_json::{Value, json};

/// The conflist's file name: sorted first among the usual CNI configs (`10-`).
pub const PODNET_CONFLIST: &str = "10-podnet.conflist";

/// The node's network: podnet-cni on the bridge cni0 (hairpin on, so that a pod reaches
/// itself through a Service) with addresses from the node's pod CIDR, then portmap for
/// hostPorts. `ipam_data_dir` overrides host-local's `/var/lib/cni/networks` (the lab keeps
/// each node's leases in its own directory).
pub fn podnet_network(pod_cidr: &str, mtu: u32, ipam_data_dir: Option<&Path>) -> Value {
    let mut ipam = json!({
        "type": "podnet-ipam",
        "ranges": [[{"subnet": pod_cidr}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    });
    if let Some(dir) = ipam_data_dir {
        ipam["dataDir"] = json!(dir);
    }
    json!({
        "cniVersion": "1.0.0",
        "name": "podnet",
        "plugins": [
            {
                "type": "podnet-cni",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "mtu": mtu,
                "ipam": ipam,
            },
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_parses_as_a_conflist_with_the_node_range() {
        let value = podnet_network("10.244.3.0/24", 1450, None);
        let list = crate::NetworkList::from_bytes(value.to_string().as_bytes()).unwrap();
        assert_eq!(list.name(), "podnet");
        assert_eq!(
            value["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.3.0/24"
        );
        assert_eq!(value["plugins"][0]["mtu"], 1450);
        assert!(value["plugins"][0]["ipam"].get("dataDir").is_none());
        let lab = podnet_network("10.244.3.0/24", 1500, Some(Path::new("/lab/ipam")));
        assert_eq!(lab["plugins"][0]["ipam"]["dataDir"], "/lab/ipam");
    }
}
