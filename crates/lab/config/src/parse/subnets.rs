//! podSubnet / serviceSubnet: comma-separated CIDR lists, one per family, sized like
//! kube-controller-manager and kube-apiserver require.

use ipnet::IpNet;

use crate::cluster::IpFamily;

/// Each node's pod CIDR: /24 for IPv4, /64 for IPv6 (kube-controller-manager's defaults).
const NODE_MASK_V4: u8 = 24;
const NODE_MASK_V6: u8 = 64;
/// kube-apiserver refuses larger service ranges (20 bits of host part at most).
const MAX_SERVICE_BITS: u8 = 20;

/// `"10.244.0.0/16,fd00:10:244::/56"` → CIDRs, with the families `ip_family` asks for.
pub(crate) fn parse_list(s: &str, ip_family: IpFamily) -> Result<Vec<IpNet>, String> {
    let mut cidrs = Vec::new();
    for part in s.split(',').map(str::trim) {
        let net: IpNet = part
            .parse()
            .map_err(|_| format!("{part:?} is not a valid CIDR"))?;
        if net.trunc() != net {
            return Err(format!(
                "{part:?} has host bits set (the network is {})",
                net.trunc()
            ));
        }
        cidrs.push(net);
    }
    if !ip_family.matches(&cidrs) {
        let want = match ip_family {
            IpFamily::Ipv4 => "one IPv4 CIDR",
            IpFamily::Ipv6 => "one IPv6 CIDR",
            IpFamily::Dual => "one IPv4 and one IPv6 CIDR",
        };
        return Err(format!("must be {want} for ipFamily {ip_family}"));
    }
    Ok(cidrs)
}

/// Field (under `networking`) and message for each sizing problem.
pub(crate) fn check_sizes(
    pods: &[IpNet],
    services: &[IpNet],
    nodes: usize,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for net in pods {
        let node_mask = match net {
            IpNet::V4(_) => NODE_MASK_V4,
            IpNet::V6(_) => NODE_MASK_V6,
        };
        if net.prefix_len() > node_mask {
            out.push((
                "podSubnet",
                format!("Invalid value: \"{net}\": must be /{node_mask} or larger: each node gets a /{node_mask}"),
            ));
        } else if u32::from(node_mask - net.prefix_len()) < usize::BITS
            && (1usize << (node_mask - net.prefix_len())) < nodes
        {
            out.push((
                "podSubnet",
                format!(
                    "Invalid value: \"{net}\": holds fewer than {nodes} node CIDRs of /{node_mask}"
                ),
            ));
        }
    }
    for net in services {
        let host_bits = net.max_prefix_len() - net.prefix_len();
        if host_bits > MAX_SERVICE_BITS {
            out.push((
                "serviceSubnet",
                format!(
                    "Invalid value: \"{net}\": too large: at most {MAX_SERVICE_BITS} bits of host part (/{} for this family)",
                    net.max_prefix_len() - MAX_SERVICE_BITS
                ),
            ));
        }
        if host_bits < 2 {
            out.push((
                "serviceSubnet",
                format!("Invalid value: \"{net}\": too small"),
            ));
        }
        for pod in pods {
            if pod.contains(&net.network()) || net.contains(&pod.network()) {
                out.push((
                    "serviceSubnet",
                    format!("Invalid value: \"{net}\": overlaps podSubnet {pod}"),
                ));
            }
        }
    }
    out
}
