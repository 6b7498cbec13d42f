//! The ipvs mode's desired state from the plan: bound addresses, virtual servers and ipset
//! members (the iptables rules that match the sets are in `rules.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use podnet_agent_proxy::{NodeInfo, Plan, PortPlan, Target};
use podnet_k8s_model::{AddressFamily, Endpoint, Protocol, TrafficPolicy};

use super::sets::SetName;
use crate::render::DEFAULT_MASQUERADE_BIT;
use crate::ruleset::Ruleset;

/// How the ipvs mode renders, beyond the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsConfig {
    pub family: AddressFamily,
    pub masquerade_all: bool,
    pub masquerade_bit: u8,
    /// `--ipvs-scheduler` (kube-proxy's default: `rr`).
    pub scheduler: String,
    /// The node addresses NodePorts get a virtual server on (`--nodeport-addresses`
    /// resolved; by default every local address but loopback and kube-ipvs0's).
    pub node_port_ips: Vec<IpAddr>,
}

/// One IPVS real server: NAT ("masquerading") forwarding, weight 1, as kube-proxy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RealServer {
    pub addr: std::net::SocketAddr,
}

/// One IPVS virtual server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualServer {
    pub protocol: Protocol,
    pub addr: IpAddr,
    pub port: u16,
    pub scheduler: String,
    /// ClientIP affinity: `persistent` with this timeout.
    pub persistent_secs: Option<u32>,
    pub reals: Vec<RealServer>,
}

/// The whole desired state of the ipvs mode for one family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpvsRuleset {
    /// Addresses bound to kube-ipvs0.
    pub bound: BTreeSet<IpAddr>,
    pub servers: Vec<VirtualServer>,
    pub sets: BTreeMap<SetName, BTreeSet<String>>,
    pub family: Option<AddressFamily>,
    pub iptables: Ruleset,
}

// === impl IpvsConfig ===

impl IpvsConfig {
    /// kube-proxy's ipvs defaults for `family`, NodePorts on `node_port_ips`.
    pub fn new(family: AddressFamily, node_port_ips: Vec<IpAddr>) -> Self {
        Self {
            family,
            masquerade_all: false,
            masquerade_bit: DEFAULT_MASQUERADE_BIT,
            scheduler: "rr".to_owned(),
            node_port_ips,
        }
    }
}

/// Renders `plan` for `node` in the ipvs mode's shape.
pub fn render_ipvs(config: &IpvsConfig, node: &NodeInfo, plan: &Plan) -> IpvsRuleset {
    let mut out = IpvsRuleset {
        family: Some(config.family),
        ..IpvsRuleset::default()
    };
    for p in plan.ports().filter(|p| p.key.family == config.family) {
        render_port(config, node, p, &mut out);
    }
    let cluster_cidr = node.cluster_cidrs(config.family).next().copied();
    out.iptables = super::rules::iptables_rules(config, cluster_cidr, &out.sets);
    out
}

fn render_port(config: &IpvsConfig, node: &NodeInfo, p: &PortPlan, out: &mut IpvsRuleset) {
    let proto = p.protocol().as_str();
    let entry = |ip: IpAddr, port: u16| format!("{ip},{proto}:{port}");
    let mut add = |set: SetName, e: String| {
        out.sets.entry(set).or_default().insert(e);
    };
    let reals = |target: Target| -> Vec<RealServer> {
        let eps: &[Endpoint] = match target {
            Target::Cluster => &p.cluster_endpoints,
            Target::Local => &p.local_endpoints,
            Target::Reject | Target::Drop => &[],
        };
        let mut r: Vec<RealServer> = eps.iter().map(|e| RealServer { addr: e.addr }).collect();
        r.sort();
        r
    };
    let internal = reals(p.internal_target());
    let external = reals(p.external_target());
    let local_policy = p.external_policy == TrafficPolicy::Local;

    // An endpoint on this node reaching itself through the Service: masquerade.
    for ep in p.reachable_endpoints() {
        if node.is_local(ep.node_name.as_deref()) {
            let ip = ep.addr.ip();
            add(
                SetName::LoopBack,
                format!("{},{ip}", entry(ip, ep.addr.port())),
            );
        }
    }

    add(SetName::ClusterIp, entry(p.cluster_ip, p.port));
    let mut servers = vec![(p.cluster_ip, p.port, internal, true)];

    for &ip in &p.external_ips {
        let set = if local_policy {
            SetName::ExternalIpLocal
        } else {
            SetName::ExternalIp
        };
        add(set, entry(ip, p.port));
        servers.push((ip, p.port, external.clone(), true));
    }

    for &ip in &p.load_balancer_ips {
        add(SetName::LoadBalancer, entry(ip, p.port));
        if local_policy {
            add(SetName::LoadBalancerLocal, entry(ip, p.port));
        }
        if !p.load_balancer_source_ranges.is_empty() {
            add(SetName::LoadBalancerFw, entry(ip, p.port));
            for cidr in &p.load_balancer_source_ranges {
                add(
                    SetName::LoadBalancerSourceCidr,
                    format!("{},{cidr}", entry(ip, p.port)),
                );
            }
            // The node's own requests to a local LB IP come from the LB IP.
            let node_ip = node.node_ip(config.family);
            if node_ip.is_some_and(|n| p.load_balancer_source_ranges.iter().any(|c| c.contains(&n)))
            {
                add(
                    SetName::LoadBalancerSourceIp,
                    format!("{},{ip}", entry(ip, p.port)),
                );
            }
        }
        servers.push((ip, p.port, external.clone(), true));
    }

    if let Some(np) = p.node_port {
        let (all, local) = match p.protocol() {
            Protocol::Tcp => (SetName::NodePortTcp, SetName::NodePortLocalTcp),
            Protocol::Udp => (SetName::NodePortUdp, SetName::NodePortLocalUdp),
            Protocol::Sctp => (SetName::NodePortSctp, SetName::NodePortLocalSctp),
        };
        let entries: Vec<String> = match p.protocol() {
            // SCTP sets are hash:ip,port: one entry per node address.
            Protocol::Sctp => config
                .node_port_ips
                .iter()
                .map(|ip| entry(*ip, np))
                .collect(),
            _ => vec![np.to_string()],
        };
        for e in entries {
            add(all, e.clone());
            if local_policy {
                add(local, e);
            }
        }
        for &ip in &config.node_port_ips {
            servers.push((ip, np, external.clone(), false));
        }
    }

    if let Some(hc) = p.health_check_node_port {
        add(SetName::HealthCheckNodePort, hc.to_string());
    }

    for (addr, port, reals, bind) in servers {
        if bind {
            out.bound.insert(addr);
        }
        out.servers.push(VirtualServer {
            protocol: p.protocol(),
            addr,
            port,
            scheduler: config.scheduler.clone(),
            persistent_secs: p.affinity_timeout_secs,
            reals,
        });
    }
}

// === impl IpvsRuleset ===

impl IpvsRuleset {
    /// The ipsets as an `ipset restore` script: every set created (empty ones too, as
    /// kube-proxy keeps them), then its members.
    pub fn ipset_script(&self) -> String {
        let family = self.family.unwrap_or(AddressFamily::V4);
        let mut out = String::new();
        for set in SetName::ALL {
            let _ = writeln!(out, "{}", set.create_line(family));
        }
        for (set, entries) in &self.sets {
            for e in entries {
                let _ = writeln!(out, "add {} {e}", set.name(family));
            }
        }
        out
    }

    /// Virtual and real servers as `ipvsadm --save -n` prints them.
    pub fn ipvsadm_save(&self) -> String {
        let mut out = String::new();
        for vs in &self.servers {
            let svc = match vs.protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            let addr = socket(vs.addr, vs.port);
            let persistent = vs
                .persistent_secs
                .map(|t| format!(" -p {t}"))
                .unwrap_or_default();
            let _ = writeln!(out, "-A {svc} {addr} -s {}{persistent}", vs.scheduler);
            for r in &vs.reals {
                let _ = writeln!(out, "-a {svc} {addr} -r {} -m -w 1", r.addr);
            }
        }
        out
    }

    /// Everything, in the golden files' format.
    pub fn dump(&self) -> String {
        let mut out = String::from("# kube-ipvs0 addresses\n");
        for ip in &self.bound {
            let len = if ip.is_ipv4() { 32 } else { 128 };
            let _ = writeln!(out, "{ip}/{len}");
        }
        out.push_str("# ipvsadm --save -n\n");
        out.push_str(&self.ipvsadm_save());
        out.push_str("# ipset save\n");
        out.push_str(&self.ipset_script());
        out.push_str("# iptables-save\n");
        out.push_str(&self.iptables.dump());
        out
    }
}

fn socket(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}
