//! `podnet agent`: the node agent (cross-node routing and egress), run on every node — in a
//! real cluster in the host's network namespace, in the lab inside the node's namespace.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ipnet::Ipv4Net;
use podnet_agent_app::Settings;
use podnet_agent_routing::{Config, Mode};

#[derive(Debug, Args)]
#[command(
    about = "Run the node agent: routes to the other nodes' pods, egress masquerade",
    long_about = "Run the node agent. It watches the cluster's Nodes and keeps this node's \
        kernel in step: routes to every other node's pod CIDR (vxlan: an overlay device \
        podnet.1, VNI 1, UDP 8472, with static FDB and neighbour entries; host-gw: direct \
        routes via the node IPs, nodes must share an L2 segment) and masquerade of pod \
        traffic leaving the cluster CIDR (table ip podnet-egress). It programs the network \
        namespace it runs in; stop it with SIGTERM (its routes stay until the next start).",
    after_help = "Logs go to stderr; set RUST_LOG=info to see every change it makes."
)]
pub struct AgentCommand {
    /// This node's name (its Node object).
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    /// Kubeconfig to reach the API server; without it, in-cluster config or $KUBECONFIG.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// How pod traffic crosses to other nodes: vxlan or host-gw.
    #[arg(long, default_value = "vxlan", value_parser = parse_mode)]
    pub routing: Mode,
    /// The cluster's pod CIDR: traffic to it is never masqueraded.
    #[arg(long, default_value = "10.244.0.0/16", value_name = "CIDR")]
    pub cluster_cidr: Ipv4Net,
    /// Seconds between full reconciles, which repair changes made behind the agent's back.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub resync: u64,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

pub fn run(cmd: AgentCommand) -> anyhow::Result<()> {
    anyhow::ensure!(cmd.resync > 0, "--resync: must be at least 1 second");
    let settings = Settings {
        routing: Config {
            node: cmd.node.clone(),
            mode: cmd.routing,
            cluster_cidr: cmd.cluster_cidr.trunc(),
        },
        resync: Duration::from_secs(cmd.resync),
        netns: None,
    };
    podnet_agent_app::main(settings, cmd.kubeconfig.as_deref())
        .with_context(|| format!("agent of node {:?}", cmd.node))
}
