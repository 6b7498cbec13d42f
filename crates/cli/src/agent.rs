//! `podnet agent`: the node agent (cross-node routing and egress, and the service proxy), run
//! on every node — in a real cluster in the host's network namespace, in the lab inside the
//! node's namespace.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ipnet::{IpNet, Ipv4Net};
use podnet_agent_app::{BgpSettings, ProxyMode, ProxySettings, Settings};
use podnet_agent_bgp::Peer;
use podnet_agent_proxy::NodePortAddressConfig;
use podnet_agent_routing::{Config, Mode};

#[derive(Debug, Args)]
#[command(
    about = "Run the node agent: routes to the other nodes' pods, egress masquerade, Services",
    long_about = "Run the node agent. It watches the cluster's Nodes and keeps this node's \
        kernel in step: routes to every other node's pod CIDR (vxlan: an overlay device \
        podnet.1, VNI 1, UDP 8472, with static FDB and neighbour entries; host-gw: direct \
        routes via the node IPs, nodes must share an L2 segment) and masquerade of pod \
        traffic leaving the cluster CIDR (table ip podnet-egress). It programs the network \
        namespace it runs in; stop it with SIGTERM (its routes stay until the next start).\n\n\
        It is also the node's service proxy, doing kube-proxy's job with kube-proxy's names: it \
        watches Services and EndpointSlices and programs ClusterIPs, NodePorts, externalIPs and \
        LoadBalancer IPs (--proxy-mode nftables: `nft list table ip kube-proxy`; iptables: \
        `iptables -t nat -L KUBE-SERVICES`). It serves /healthz and /livez on \
        --healthz-bind-address (every address, as kube-proxy: load balancers probe nodes \
        there), /metrics on --metrics-bind-address (loopback, as kube-proxy: only the node \
        itself reads them), and each externalTrafficPolicy=Local Service's \
        healthCheckNodePort. Starting in one mode removes the rules of the others.\n\n\
        It announces LoadBalancer addresses on the node network (MetalLB's L2 mode): for \
        each address one node, elected by the Lease kube-system/podnet-l2-<address>, answers \
        ARP for it and sends gratuitous ARP when it takes over; it falls silent 0.7 s after \
        its last successful renewal was sent, before any rival may take over (1 s), so two \
        nodes never answer at once. externalTrafficPolicy=Local addresses are announced only \
        from nodes with a ready endpoint. A node labelled \
        node.kubernetes.io/exclude-from-external-load-balancers announces no LoadBalancer \
        address, by ARP or BGP.\n\n\
        With --bgp-peer it speaks BGP to that router (eBGP from --bgp-asn to --bgp-peer-asn): \
        it announces each LoadBalancer address as a /32 (with externalTrafficPolicy=Local only \
        while a ready endpoint runs on this node) and, with --routing bgp, this node's pod \
        CIDR, the node as next hop; --routing bgp also sends the cluster CIDR to the router \
        instead of building an overlay. On SIGTERM the session ends with a Cease \
        NOTIFICATION and the router withdraws at once.",
    after_help = "Examples:\n  \
        podnet agent --node node-1 --kubeconfig ~/.kube/config\n  \
        podnet agent --node node-1 --proxy-mode iptables --nodeport-addresses 172.18.0.0/16\n  \
        podnet agent --node node-1 --proxy-mode none        # another proxy runs here\n  \
        podnet agent --node node-1 --l2-announce=false      # MetalLB announces instead\n  \
        podnet agent --node node-1 --routing bgp --bgp-peer 172.18.0.254 --bgp-peer-asn 64512 --bgp-asn 64513\n  \
        curl -s localhost:10256/healthz; curl -s localhost:10249/metrics\n\n\
        Every option with an environment variable (PODNET_*) takes it from there too: the \
        DaemonSet in deploy/podnet-agent.yaml sets them from the podnet-config ConfigMap.\n\
        Logs go to stderr; set RUST_LOG=info to see every change it makes."
)]
pub struct AgentCommand {
    /// This node's name (its Node object).
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    /// Kubeconfig to reach the API server; without it, in-cluster config or $KUBECONFIG.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// How pod traffic crosses to other nodes: vxlan, host-gw or bgp (needs --bgp-peer).
    #[arg(long, env = "PODNET_ROUTING", default_value = "vxlan", value_parser = ["vxlan", "host-gw", "bgp"])]
    pub routing: String,
    /// The cluster's pod CIDR: traffic to it is never masqueraded.
    #[arg(
        long,
        env = "PODNET_CLUSTER_CIDR",
        default_value = "10.244.0.0/16",
        value_name = "CIDR"
    )]
    pub cluster_cidr: Ipv4Net,
    /// Seconds between full reconciles (routes and proxy rules), which repair changes made
    /// behind the agent's back.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub resync: u64,
    /// kube-proxy's --min-sync-period: proxy syncs come at most this often (changes that
    /// arrive sooner go together in the next one): `1s`, `500ms`, `0s` (no limit).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub min_sync_period: Duration,
    /// Service proxy mode: nftables, iptables, ipvs (refused on kernels without IPVS) or
    /// none.
    #[arg(
        long,
        env = "PODNET_PROXY_MODE",
        default_value = "nftables",
        value_name = "MODE"
    )]
    pub proxy_mode: ProxyMode,
    /// Which local addresses accept NodePort traffic: `primary` (the node's InternalIP; the
    /// nftables default) or a comma-separated list of CIDRs (`0.0.0.0/0`: every local
    /// address; the iptables default).
    #[arg(long, value_name = "primary|CIDR,…")]
    pub nodeport_addresses: Option<String>,
    /// Where /healthz (kube-proxy's semantics) and /livez are served.
    #[arg(long, default_value = "0.0.0.0:10256", value_name = "ADDR:PORT")]
    pub healthz_bind_address: SocketAddr,
    /// Where /metrics is served (kube-proxy's default: loopback only).
    #[arg(long, default_value = "127.0.0.1:10249", value_name = "ADDR:PORT")]
    pub metrics_bind_address: SocketAddr,
    /// Announce LoadBalancer addresses on the node network by ARP (one node per address,
    /// elected by a Lease per address); false when another component (MetalLB) does.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub l2_announce: bool,
    /// The interface to answer ARP on; default: the one holding the node's InternalIP.
    #[arg(long, value_name = "IFACE")]
    pub l2_interface: Option<String>,
    /// The BGP router to announce to (TCP port 179); without it, no BGP.
    #[arg(long, value_name = "IP")]
    pub bgp_peer: Option<Ipv4Addr>,
    /// The router's AS number.
    #[arg(long, default_value_t = 64512, value_name = "ASN")]
    pub bgp_peer_asn: u32,
    /// This node's AS number.
    #[arg(long, default_value_t = 64513, value_name = "ASN")]
    pub bgp_asn: u32,
    /// The BGP hold time offered, in seconds (0, or 3 and up; the session uses the lower of
    /// both sides'): how long a silent session stays up.
    #[arg(long, default_value_t = 90, value_name = "SECONDS")]
    pub bgp_hold_time: u16,
}

/// `--routing`, with the router `--bgp-peer` names for bgp.
fn routing_mode(cmd: &AgentCommand) -> anyhow::Result<Mode> {
    match (cmd.routing.as_str(), cmd.bgp_peer) {
        ("bgp", Some(gateway)) => Ok(Mode::Bgp { gateway }),
        ("bgp", None) => anyhow::bail!("--routing bgp needs --bgp-peer (the router)"),
        (other, _) => other.parse().map_err(anyhow::Error::msg),
    }
}

fn bgp(cmd: &AgentCommand, mode: Mode) -> anyhow::Result<Option<BgpSettings>> {
    let Some(addr) = cmd.bgp_peer else {
        return Ok(None);
    };
    anyhow::ensure!(
        !matches!(cmd.bgp_hold_time, 1 | 2),
        "--bgp-hold-time: must be 0 or at least 3 seconds (RFC 4271)"
    );
    Ok(Some(BgpSettings {
        speaker: podnet_agent_bgp::Settings {
            local_asn: cmd.bgp_asn,
            peer: Peer {
                addr,
                port: 179,
                asn: cmd.bgp_peer_asn,
            },
            hold_time: cmd.bgp_hold_time,
            connect_retry: Duration::from_secs(1),
            netns: None,
        },
        announce_pod_cidr: matches!(mode, Mode::Bgp { .. }),
    }))
}

/// `--nodeport-addresses`, or the mode's default (kube-proxy's).
fn node_ports(mode: ProxyMode, flag: Option<&str>) -> anyhow::Result<NodePortAddressConfig> {
    match flag.map(str::trim) {
        None | Some("") => Ok(match mode {
            ProxyMode::Iptables | ProxyMode::Ipvs => NodePortAddressConfig::All,
            _ => NodePortAddressConfig::Primary,
        }),
        Some("primary") => Ok(NodePortAddressConfig::Primary),
        Some(list) => {
            let cidrs =
                list.split(',')
                    .map(|c| {
                        c.trim().parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
                            anyhow::anyhow!("--nodeport-addresses: {c:?} is not a CIDR")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(NodePortAddressConfig::Cidrs(cidrs))
        }
    }
}

/// A duration as kube-proxy's flags take it: a number with `ms`, `s` or `m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 1s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

pub fn run(cmd: AgentCommand) -> anyhow::Result<()> {
    anyhow::ensure!(cmd.resync > 0, "--resync: must be at least 1 second");
    let mode = routing_mode(&cmd)?;
    let settings = Settings {
        routing: Config {
            node: cmd.node.clone(),
            mode,
            cluster_cidr: cmd.cluster_cidr.trunc(),
        },
        resync: Duration::from_secs(cmd.resync),
        netns: None,
        proxy: ProxySettings {
            mode: cmd.proxy_mode,
            node_ports: node_ports(cmd.proxy_mode, cmd.nodeport_addresses.as_deref())?,
            healthz: cmd.healthz_bind_address,
            metrics: cmd.metrics_bind_address,
            resync: Duration::from_secs(cmd.resync),
            min_sync: cmd.min_sync_period,
        },
        announce: cmd
            .l2_announce
            .then(|| podnet_agent_app::announce::Settings {
                node: cmd.node.clone(),
                interface: cmd.l2_interface.clone(),
                netns: None,
                timing: podnet_agent_app::announce::TIMING,
            }),
        bgp: bgp(&cmd, mode)?,
    };
    podnet_agent_app::main(settings, cmd.kubeconfig.as_deref())
        .with_context(|| format!("agent of node {:?}", cmd.node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kube_proxy_flags_do() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("1").is_err(), "a unit is needed");
        assert!(parse_duration("fast").is_err());
    }
}
