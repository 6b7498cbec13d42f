//! The controllers, run against the daemon's own API server through a kube client, as real
//! controllers run against a real one.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use podnet_lab_config::{Cluster, Role};
use podnet_lab_controllers::alloc::{LbAllocator, Pool, lb::AddressRange};
use podnet_lab_controllers::{CancellationToken, Config, NodeConfig};
use serde_json::json;

use podnet_lab_topology::{API_PORT, FABRIC_GATEWAY, Plan};

use crate::error::DaemonError;
use crate::state::LabDir;

/// How long the controllers rest after failing before they are started again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// What the controllers need of the cluster config (kind's node names for `lab`, the
/// config's networks), and the lab's network plan for those nodes: the plan is the one
/// source of the nodes' addresses and of the API endpoint the controllers publish.
pub fn config(lab: &str, cluster: &Cluster) -> Result<(Config, Plan), DaemonError> {
    let roles: Vec<podnet_lab_controllers::Role> = cluster
        .roles()
        .into_iter()
        .map(|r| match r {
            Role::ControlPlane => podnet_lab_controllers::Role::ControlPlane,
            Role::Worker => podnet_lab_controllers::Role::Worker,
        })
        .collect();
    let mut config = Config::lab(lab, &roles);
    config.pod_subnets = cluster.networking.pod_subnets.clone();
    config.service_subnets = cluster.networking.service_subnets.clone();
    let names: Vec<String> = config.nodes.iter().map(|n| n.name.clone()).collect();
    let mut plan = Plan::new(lab, &names)?;
    if cluster.networking.bgp.is_some() {
        plan = plan.with_router(crate::router::routed(cluster));
    }
    for (node, placed) in config.nodes.iter_mut().zip(&plan.nodes) {
        node.internal_ip = Some(placed.ip.into());
    }
    config.api_server = SocketAddr::from((FABRIC_GATEWAY, API_PORT));
    config.load_balancer_pools = vec![default_pool(&cluster.networking.load_balancer_pool)];
    Ok((config, plan))
}

/// The lab's `default` LoadBalancerIPPool, from the kind config's `loadBalancerPool`
/// (each entry checked when the config was parsed).
fn default_pool(addresses: &[String]) -> Pool {
    Pool {
        ranges: addresses
            .iter()
            .filter_map(|a| AddressRange::parse(a))
            .collect(),
        ..LbAllocator::lab_pool()
    }
}

/// The network plan of an existing lab (its namespaces, nodes and addresses), for the
/// commands that reach into it.
pub fn lab_plan(lab: &LabDir) -> Result<Plan, DaemonError> {
    let cluster = lab.cluster()?.cluster;
    Ok(config(&lab.name, &cluster)?.1)
}

/// Runs every controller until `stop`; restarts them if they fail (a failing controller
/// stops the others), so the lab degrades for a second rather than for good.
pub async fn run(client: kube::Client, config: Config, cluster: Cluster, stop: CancellationToken) {
    tokio::spawn(label_nodes(
        client.clone(),
        config.nodes.clone(),
        cluster,
        stop.clone(),
    ));
    while !stop.is_cancelled() {
        let result =
            podnet_lab_controllers::run_all(client.clone(), config.clone(), stop.clone()).await;
        if let Err(error) = result {
            tracing::error!(%error, "controllers failed; restarting them");
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(RESTART_DELAY) => {}
        }
    }
}

/// Puts the config's `labels` on its nodes once they are registered, as kind's kubelets do
/// with `--node-labels`.
async fn label_nodes(
    client: kube::Client,
    nodes: Vec<NodeConfig>,
    cluster: Cluster,
    stop: CancellationToken,
) {
    let api: kube::Api<Node> = kube::Api::all(client);
    for (node, spec) in nodes.iter().zip(&cluster.nodes) {
        if spec.labels.is_empty() {
            continue;
        }
        let patch = json!({"metadata": {"labels": spec.labels}});
        loop {
            match api
                .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => break,
                Err(error) => tracing::debug!(node = %node.name, %error, "node not labelled yet"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
}
