//! `podnet trace SRC DST[:PORT][/proto]`: one packet's path walked layer by layer from the
//! API objects (podnet-trace), printed top to bottom or as JSON.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ipnet::IpNet;
use podnet_trace::{Destination, Objects, Options, Spec};

#[derive(Debug, Args)]
#[command(
    about = "Say which layer breaks a path (DNS, endpoints, proxy rules, policy, routing), with the evidence",
    long_about = "Walk one packet from SRC to DST through every layer the cluster's objects \
        determine, in the order the packet meets them: DNS (the source pod's resolver, search \
        path included, against the cluster DNS's records), the entry to the cluster (NodePort, \
        LoadBalancer address, externalTrafficPolicy Local), Service → EndpointSlices (selector, \
        readiness and why not, ports), the service proxy's rules on the first node (the agent's \
        own rendering, walked by the packet tracer: DNAT targets and their chances, rejects, \
        masquerade), NetworkPolicy at both ends (the policy that decides), routing to the \
        destination's node (route, VXLAN FDB entry, MTU) and the way back. It stops at the \
        first broken layer and names it. What-if: computed from one list of each kind of \
        object (Pods, Services, EndpointSlices, Nodes, NetworkPolicies, Namespaces); no \
        packet is sent. Exits 1 when a layer is broken.\n\n\
        SRC: a pod (NAMESPACE/POD), a node (its name) or an address (a pod's, a node's, or \
        one outside the cluster).\n\
        DST: a pod (NAMESPACE/POD), a Service (svc/NAMESPACE/NAME), a Service's DNS name \
        (resolved as SRC's resolver would: `web`, `web.shop`, `web.shop.svc.cluster.local`), \
        a node (its name; with a Service's nodePort as PORT: that NodePort), or an address (a \
        ClusterIP, a LoadBalancer or external IP, a pod's, a node's, one outside); then \
        optionally :PORT and /tcp, /udp or /sctp (TCP when left out).",
    after_help = "Examples:\n\n  \
        podnet trace default/client svc/default/web               # pod → Service (its only port)\n  \
        podnet trace default/client web:80                        # by DNS name, search path applied\n  \
        podnet trace default/client web.default.svc.cluster.local:80\n  \
        podnet trace default/client kube-dns.kube-system:53/udp\n  \
        podnet trace default/client default/web-1:8080            # pod → pod\n  \
        podnet trace default/client 10.96.0.10:53/udp             # to a ClusterIP\n  \
        podnet trace podnet-worker svc/default/web:80             # from a node\n  \
        podnet trace 203.0.113.10 podnet-worker:30080             # outside → NodePort\n  \
        podnet trace 203.0.113.10 172.18.255.200:80               # outside → LoadBalancer IP\n  \
        podnet trace default/client 203.0.113.10:80               # pod → outside (egress)\n  \
        podnet trace default/client svc/default/web:80 -o json\n\n\
        In a lab: --kubeconfig \"$(podnet lab kubeconfig)\" (or KUBECONFIG)."
)]
pub struct TraceCommand {
    /// Where the packet starts: NAMESPACE/POD, a node's name, or an IP address.
    pub src: String,
    /// Where it goes: NAMESPACE/POD, svc/NAMESPACE/NAME, a DNS name, a node, or an address;
    /// then [:PORT][/tcp|udp|sctp].
    pub dst: String,
    /// The kubeconfig to read the objects with (default: KUBECONFIG, then ~/.kube/config, then
    /// in-cluster).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The cluster domain (the kubelet's --cluster-domain).
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// How pods reach other nodes (the agent's --routing-mode: vxlan or host-gw).
    #[arg(long, default_value = "vxlan", value_parser = parse_mode)]
    pub routing_mode: podnet_agent_routing::Mode,
    /// The agent's --cluster-cidr (default: what the nodes' pod CIDRs span).
    #[arg(long)]
    pub cluster_cidr: Option<IpNet>,
    /// The nodes' uplink MTU (the VXLAN device's is 50 less).
    #[arg(long, default_value_t = 1500)]
    pub underlay_mtu: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_mode(s: &str) -> Result<podnet_agent_routing::Mode, String> {
    s.parse()
}

pub fn run(cmd: TraceCommand) -> anyhow::Result<()> {
    let src = Spec::parse(&cmd.src)?;
    let dst = Destination::parse(&cmd.dst)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let objects = rt.block_on(async {
        let client = podnet_agent_app::client(cmd.kubeconfig.as_deref())
            .await
            .context("building the API client")?;
        anyhow::Ok(Objects::load(&client).await?)
    })?;
    let options = Options {
        cluster_domain: cmd.cluster_domain,
        routing_mode: cmd.routing_mode,
        cluster_cidr: cmd.cluster_cidr,
        underlay_mtu: cmd.underlay_mtu,
    };
    let started = Instant::now();
    let report = podnet_trace::trace(&objects, &src, &dst, &options)?;
    tracing::debug!(elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "walked");
    match cmd.output {
        Format::Text => println!("{report}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.broken().is_some() {
        std::process::exit(1);
    }
    Ok(())
}
