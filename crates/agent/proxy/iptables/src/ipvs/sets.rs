//! The ipsets of the ipvs mode, named, typed and commented as kube-proxy's.

use podnet_k8s_model::AddressFamily;

/// An ipset type and how iptables matches an entry of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpsetKind {
    /// `hash:ip,port`: `10.96.0.10,udp:53`.
    IpPort,
    /// `hash:ip,port,ip`: `10.244.1.2,tcp:8080,10.244.1.2`.
    IpPortIp,
    /// `hash:ip,port,net`: `172.18.255.200,tcp:80,203.0.113.0/24`.
    IpPortNet,
    /// `bitmap:port`: `30080`.
    Port,
}

/// Every set of the mode, in kube-proxy's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetName {
    LoopBack,
    ClusterIp,
    ExternalIp,
    ExternalIpLocal,
    LoadBalancer,
    LoadBalancerFw,
    LoadBalancerLocal,
    LoadBalancerSourceIp,
    LoadBalancerSourceCidr,
    NodePortTcp,
    NodePortLocalTcp,
    NodePortUdp,
    NodePortLocalUdp,
    NodePortSctp,
    NodePortLocalSctp,
    HealthCheckNodePort,
}

// === impl SetName ===

impl SetName {
    pub const ALL: [SetName; 16] = [
        Self::LoopBack,
        Self::ClusterIp,
        Self::ExternalIp,
        Self::ExternalIpLocal,
        Self::LoadBalancer,
        Self::LoadBalancerFw,
        Self::LoadBalancerLocal,
        Self::LoadBalancerSourceIp,
        Self::LoadBalancerSourceCidr,
        Self::NodePortTcp,
        Self::NodePortLocalTcp,
        Self::NodePortUdp,
        Self::NodePortLocalUdp,
        Self::NodePortSctp,
        Self::NodePortLocalSctp,
        Self::HealthCheckNodePort,
    ];

    /// The IPv4 name; IPv6 sets say `KUBE-6-` instead of `KUBE-` (see [`SetName::name`]).
    fn base(self) -> &'static str {
        match self {
            Self::LoopBack => "KUBE-LOOP-BACK",
            Self::ClusterIp => "KUBE-CLUSTER-IP",
            Self::ExternalIp => "KUBE-EXTERNAL-IP",
            Self::ExternalIpLocal => "KUBE-EXTERNAL-IP-LOCAL",
            Self::LoadBalancer => "KUBE-LOAD-BALANCER",
            Self::LoadBalancerFw => "KUBE-LOAD-BALANCER-FW",
            Self::LoadBalancerLocal => "KUBE-LOAD-BALANCER-LOCAL",
            Self::LoadBalancerSourceIp => "KUBE-LOAD-BALANCER-SOURCE-IP",
            Self::LoadBalancerSourceCidr => "KUBE-LOAD-BALANCER-SOURCE-CIDR",
            Self::NodePortTcp => "KUBE-NODE-PORT-TCP",
            Self::NodePortLocalTcp => "KUBE-NODE-PORT-LOCAL-TCP",
            Self::NodePortUdp => "KUBE-NODE-PORT-UDP",
            Self::NodePortLocalUdp => "KUBE-NODE-PORT-LOCAL-UDP",
            Self::NodePortSctp => "KUBE-NODE-PORT-SCTP-HASH",
            Self::NodePortLocalSctp => "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
            Self::HealthCheckNodePort => "KUBE-HEALTH-CHECK-NODE-PORT",
        }
    }

    /// The set's name in `family`: dual-stack nodes hold both, so IPv6 sets are
    /// `KUBE-6-…`, cut to ipset's 31 characters.
    pub fn name(self, family: AddressFamily) -> String {
        match family {
            AddressFamily::V4 => self.base().to_owned(),
            AddressFamily::V6 => {
                let mut n = self.base().replacen("KUBE-", "KUBE-6-", 1);
                n.truncate(31);
                n
            }
        }
    }

    /// Whether `name` is one of the mode's sets, in either family.
    pub fn is_ours(name: &str) -> bool {
        Self::ALL
            .iter()
            .any(|s| s.name(AddressFamily::V4) == name || s.name(AddressFamily::V6) == name)
    }

    pub fn kind(self) -> IpsetKind {
        match self {
            Self::LoopBack | Self::LoadBalancerSourceIp => IpsetKind::IpPortIp,
            Self::LoadBalancerSourceCidr => IpsetKind::IpPortNet,
            Self::NodePortTcp
            | Self::NodePortLocalTcp
            | Self::NodePortUdp
            | Self::NodePortLocalUdp
            | Self::HealthCheckNodePort => IpsetKind::Port,
            _ => IpsetKind::IpPort,
        }
    }

    /// The comment kube-proxy puts on the iptables rules that match the set.
    pub fn comment(self) -> &'static str {
        match self {
            Self::LoopBack => {
                "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"
            }
            Self::ClusterIp => "Kubernetes service cluster ip + port for masquerade purpose",
            Self::ExternalIp => {
                "Kubernetes service external ip + port for masquerade and filter purpose"
            }
            Self::ExternalIpLocal => {
                "Kubernetes service external ip + port with externalTrafficPolicy=local"
            }
            Self::LoadBalancer => "Kubernetes service lb portal",
            Self::LoadBalancerFw => {
                "Kubernetes service load balancer ip + port for load balancer with sourceRange"
            }
            Self::LoadBalancerLocal => {
                "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"
            }
            Self::LoadBalancerSourceIp => {
                "Kubernetes service load balancer ip + port + source IP for packet filter purpose"
            }
            Self::LoadBalancerSourceCidr => {
                "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"
            }
            Self::NodePortTcp => "Kubernetes nodeport TCP port for masquerade purpose",
            Self::NodePortLocalTcp => {
                "Kubernetes nodeport TCP port with externalTrafficPolicy=local"
            }
            Self::NodePortUdp => "Kubernetes nodeport UDP port for masquerade purpose",
            Self::NodePortLocalUdp => {
                "Kubernetes nodeport UDP port with externalTrafficPolicy=local"
            }
            Self::NodePortSctp => {
                "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"
            }
            Self::NodePortLocalSctp => {
                "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"
            }
            Self::HealthCheckNodePort => "Kubernetes health check node port",
        }
    }

    /// `create …` as `ipset save` prints it.
    pub fn create_line(self, family: AddressFamily) -> String {
        let inet = match family {
            AddressFamily::V4 => "inet",
            AddressFamily::V6 => "inet6",
        };
        let name = self.name(family);
        match self.kind() {
            IpsetKind::Port => format!("create {name} bitmap:port range 0-65535"),
            kind => {
                let t = match kind {
                    IpsetKind::IpPort => "hash:ip,port",
                    IpsetKind::IpPortIp => "hash:ip,port,ip",
                    _ => "hash:ip,port,net",
                };
                format!("create {name} {t} family {inet} hashsize 1024 maxelem 65536")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sets_are_prefixed_and_fit_ipset_s_limit() {
        assert_eq!(
            SetName::ClusterIp.name(AddressFamily::V6),
            "KUBE-6-CLUSTER-IP"
        );
        let long = SetName::NodePortLocalSctp.name(AddressFamily::V6);
        assert_eq!(long, "KUBE-6-NODE-PORT-LOCAL-SCTP-HAS");
        assert!(SetName::is_ours(&long));
        assert!(!SetName::is_ours("KUBE-SERVICES"));
    }
}
