//! The config's nodes, and node IPAM: every node gets `spec.podCIDR(s)`, one per cluster
//! CIDR family. Node *i* of the config gets the *i*-th subnet (10.244.*i*.0/24 by default);
//! a node that registers itself and is not in the config gets the lowest free one, as
//! kube-controller-manager's range allocator would.
//!
//! The loop creates the config's missing nodes once at start (the lab's stand-in for kubelet
//! registration), then watches nodes and fills in missing pod CIDRs, one node at a time (so
//! that two nodes never get the same subnet).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Role};
use crate::error::{Error, is_conflict};
use crate::reconciler;

pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// The `index`-th subnet of each cluster CIDR, or None when a CIDR is exhausted.
pub fn pod_cidrs(config: &Config, index: usize) -> Option<Vec<IpNet>> {
    config
        .pod_subnets
        .iter()
        .map(|net| {
            let mask = match net {
                IpNet::V4(_) => config.node_cidr_mask_v4,
                IpNet::V6(_) => config.node_cidr_mask_v6,
            };
            net.subnets(mask).ok()?.nth(index)
        })
        .collect()
}

/// The pod CIDRs for a node that has none: its config index if it is a config node, else the
/// lowest index whose primary subnet is neither held by a node nor reserved for the config.
pub fn assign(config: &Config, node: &str, nodes: &[Node]) -> Option<Vec<IpNet>> {
    if let Some(i) = config.nodes.iter().position(|n| n.name == node) {
        return pod_cidrs(config, i);
    }
    let held: BTreeSet<String> = nodes
        .iter()
        .filter_map(|n| n.spec.as_ref()?.pod_cidr.clone())
        .collect();
    (config.nodes.len()..)
        .map_while(|i| pod_cidrs(config, i))
        .find(|cidrs| !held.contains(&cidrs[0].to_string()))
}

/// The Node object of config node `index`, as its kubelet (and kind) would register it.
pub fn desired_node(config: &Config, index: usize) -> Node {
    let n = &config.nodes[index];
    let mut labels: std::collections::BTreeMap<String, String> = [
        ("kubernetes.io/hostname", n.name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", std::env::consts::ARCH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut taints = None;
    // kind leaves the control plane schedulable when there is no worker to run pods.
    let has_workers = config.nodes.iter().any(|n| n.role == Role::Worker);
    if n.role == Role::ControlPlane {
        labels.insert(CONTROL_PLANE_LABEL.into(), String::new());
    }
    if n.role == Role::ControlPlane && has_workers {
        taints = Some(vec![Taint {
            key: CONTROL_PLANE_LABEL.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        }]);
    }
    let cidrs: Option<Vec<String>> =
        pod_cidrs(config, index).map(|c| c.iter().map(ToString::to_string).collect());
    let mut addresses: Vec<NodeAddress> = n
        .internal_ip
        .iter()
        .map(|ip: &IpAddr| NodeAddress {
            type_: "InternalIP".into(),
            address: ip.to_string(),
        })
        .collect();
    addresses.push(NodeAddress {
        type_: "Hostname".into(),
        address: n.name.clone(),
    });
    Node {
        metadata: ObjectMeta {
            name: Some(n.name.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: cidrs.as_ref().and_then(|c| c.first().cloned()),
            pod_cidrs: cidrs,
            taints,
            ..Default::default()
        }),
        status: Some(NodeStatus {
            addresses: Some(addresses),
            ..Default::default()
        }),
    }
}

struct Ctx {
    client: Client,
    config: Config,
    nodes: Store<Node>,
}

/// Registers the config's nodes, then keeps every node's pod CIDRs filled in.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let api: Api<Node> = Api::all(client.clone());
    for i in 0..config.nodes.len() {
        match api
            .create(&PostParams::default(), &desired_node(&config, i))
            .await
        {
            Ok(_) => tracing::info!(node = %config.nodes[i].name, "registered"),
            Err(e) if is_conflict(&e) => {}
            Err(e) => {
                return Err(Error::on("registering node", config.nodes[i].name.clone())(
                    e,
                ));
            }
        }
    }
    let controller = Controller::new(api, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(1));
    let ctx = Arc::new(Ctx {
        client,
        config,
        nodes: controller.store(),
    });
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
    Ok(())
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let has = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .is_some_and(|c| !c.is_empty());
    if has {
        return Ok(Action::await_change());
    }
    let nodes: Vec<Node> = ctx.nodes.state().iter().map(|n| (**n).clone()).collect();
    let Some(cidrs) = assign(&ctx.config, &node.name_any(), &nodes) else {
        tracing::warn!(node = %node.name_any(), "no pod CIDR left in the cluster CIDR");
        return Ok(Action::requeue(Duration::from_secs(30)));
    };
    let cidrs: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    tracing::info!(node = %node.name_any(), cidr = %cidrs[0], "allocated pod CIDR");
    let patch = json!({"metadata": {"resourceVersion": node.resource_version()},
        "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}});
    Api::<Node>::all(ctx.client.clone())
        .patch(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::on("setting the pod CIDR of node", node.name_any()))?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role::{ControlPlane, Worker};

    fn node_with(name: &str, cidr: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: cidr.map(Into::into),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn config_node_i_gets_the_ith_slash_24() {
        let c = Config::lab("kind", &[ControlPlane, Worker, Worker]);
        let n = desired_node(&c, 2);
        let spec = n.spec.unwrap();
        assert_eq!(spec.pod_cidr.as_deref(), Some("10.244.2.0/24"));
        assert_eq!(spec.pod_cidrs, Some(vec!["10.244.2.0/24".to_string()]));
        assert_eq!(n.metadata.name.as_deref(), Some("kind-worker2"));
        assert!(spec.taints.is_none());
    }

    #[test]
    fn control_plane_node_is_labelled_and_tainted() {
        let c = Config::lab("lab", &[ControlPlane, Worker]);
        let n = desired_node(&c, 0);
        assert_eq!(n.labels()[CONTROL_PLANE_LABEL], "");
        let t = &n.spec.unwrap().taints.unwrap()[0];
        assert_eq!(
            (t.key.as_str(), t.effect.as_str()),
            (CONTROL_PLANE_LABEL, "NoSchedule")
        );
        let addrs = n.status.unwrap().addresses.unwrap();
        assert_eq!(addrs[0].address, "172.18.0.2");
    }

    #[test]
    fn a_lone_control_plane_is_not_tainted_as_kind_leaves_it() {
        let c = Config::lab("lab", &[ControlPlane]);
        let n = desired_node(&c, 0);
        assert_eq!(n.labels()[CONTROL_PLANE_LABEL], "");
        assert!(n.spec.unwrap().taints.is_none());
    }

    #[test]
    fn dual_stack_nodes_get_one_cidr_per_family() {
        let mut c = Config::lab("kind", &[ControlPlane, Worker]);
        c.pod_subnets.push("fd00:10:244::/56".parse().unwrap());
        let cidrs = pod_cidrs(&c, 1).unwrap();
        let s: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["10.244.1.0/24", "fd00:10:244:1::/64"]);
    }

    #[test]
    fn a_node_outside_the_config_gets_the_lowest_free_subnet_after_the_configs() {
        let c = Config::lab("kind", &[ControlPlane, Worker]);
        let nodes = vec![
            node_with("extra-a", Some("10.244.2.0/24")),
            node_with("extra-b", None),
        ];
        let got = assign(&c, "extra-b", &nodes).unwrap();
        assert_eq!(got[0].to_string(), "10.244.3.0/24");
        assert_eq!(
            assign(&c, "kind-worker", &nodes).unwrap()[0].to_string(),
            "10.244.1.0/24"
        );
    }

    #[test]
    fn an_exhausted_cluster_cidr_assigns_nothing() {
        let mut c = Config::lab("kind", &[Worker]);
        c.pod_subnets = vec!["10.244.0.0/23".parse().unwrap()];
        let nodes = vec![node_with("a", Some("10.244.1.0/24"))];
        assert_eq!(assign(&c, "b", &nodes), None);
    }
}
