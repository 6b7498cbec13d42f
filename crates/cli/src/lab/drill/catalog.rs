//! The drills: what each breaks, the path traced, the layer trace must name, and how the
//! lab is restored.

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use podnet_trace::LayerName;
use serde_json::json;

use super::setup::{self, NS, apply};

/// The cluster DNS Deployment the lab installs.
const DNS_NAMESPACE: &str = "kube-system";
const DNS_DEPLOYMENT: &str = "coredns";
/// Its replicas, as crates/dns/server/deploy/kube-dns.yaml has them.
const DNS_REPLICAS: i32 = 2;
/// The lab's outside host.
const OUTSIDE: &str = "203.0.113.10";

#[derive(Debug)]
pub struct Drill {
    pub name: &'static str,
    pub about: &'static str,
    pub layer: LayerName,
    /// What the broken layer's evidence must say (a transient state on the way, such as
    /// pods being replaced, does not count).
    pub evidence: &'static str,
}

pub const DRILLS: &[Drill] = &[
    Drill {
        name: "selector-mismatch",
        about: "the Service's selector has a typo (app=Web): it selects no pod",
        layer: LayerName::Endpoints,
        evidence: "matches no pod",
    },
    Drill {
        name: "readiness-failing",
        about: "every pod's readiness probe fails: the Service has no ready endpoint",
        layer: LayerName::Endpoints,
        evidence: "readiness probe failing",
    },
    Drill {
        name: "dns-down",
        about: "the cluster DNS is scaled to zero: names stop resolving",
        layer: LayerName::Dns,
        evidence: "has no ready endpoint",
    },
    Drill {
        name: "dns-egress-blocked",
        about: "an egress policy on the client forgets DNS: it may reach web, but not resolve its name",
        layer: LayerName::Dns,
        evidence: "blocked by policy",
    },
    Drill {
        name: "etp-local-no-endpoint",
        about: "externalTrafficPolicy Local, and the NodePort is tried on a node without an endpoint",
        layer: LayerName::Entry,
        evidence: "externalTrafficPolicy Local and no ready endpoint",
    },
];

// === impl Drill ===

impl Drill {
    /// Breaks the lab; returns the path (SRC, DST) that trace must find broken.
    pub async fn break_it(&self, client: &kube::Client) -> anyhow::Result<(String, String)> {
        let svc_path = ("drill/client".to_owned(), "svc/drill/web:80".to_owned());
        match self.name {
            "selector-mismatch" => {
                apply::<Service>(client, "web", setup::service("Web", false)).await?;
                Ok(svc_path)
            }
            "readiness-failing" => {
                let probe = json!({"tcpSocket": {"port": 9999}, "periodSeconds": 1});
                apply::<Deployment>(client, "web", setup::deployment(2, Some(probe))).await?;
                Ok(svc_path)
            }
            "dns-down" => {
                scale_dns(client, 0).await?;
                Ok(setup::healthy_path())
            }
            "dns-egress-blocked" => {
                apply::<NetworkPolicy>(
                    client,
                    "client-egress",
                    json!({
                        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "client-egress", "namespace": NS},
                        "spec": {
                            "podSelector": {"matchLabels": {"app": "client"}},
                            "policyTypes": ["Egress"],
                            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]
                        }
                    }),
                )
                .await?;
                Ok(setup::healthy_path())
            }
            "etp-local-no-endpoint" => {
                apply::<Deployment>(client, "web", setup::deployment(1, None)).await?;
                apply::<Service>(client, "web", setup::service("web", true)).await?;
                let node = node_without_web(client).await?;
                let port = node_port(client).await?;
                Ok((OUTSIDE.to_owned(), format!("{node}:{port}")))
            }
            other => bail!("no drill {other:?}"),
        }
    }

    /// Puts back what [`Drill::break_it`] broke.
    pub async fn restore(&self, client: &kube::Client) -> anyhow::Result<()> {
        match self.name {
            "selector-mismatch" => {
                apply::<Service>(client, "web", setup::service("web", false)).await
            }
            "readiness-failing" => {
                apply::<Deployment>(client, "web", setup::deployment(2, None)).await
            }
            "dns-down" => scale_dns(client, DNS_REPLICAS).await,
            "dns-egress-blocked" => {
                let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), NS);
                api.delete("client-egress", &DeleteParams::default())
                    .await
                    .map_err(super::super::client::api_error)?;
                Ok(())
            }
            "etp-local-no-endpoint" => {
                apply::<Service>(client, "web", setup::service("web", false)).await?;
                apply::<Deployment>(client, "web", setup::deployment(2, None)).await
            }
            other => bail!("no drill {other:?}"),
        }
    }
}

async fn scale_dns(client: &kube::Client, replicas: i32) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), DNS_NAMESPACE);
    api.patch(
        DNS_DEPLOYMENT,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": replicas}})),
    )
    .await
    .map_err(super::super::client::api_error)
    .with_context(|| format!("scaling {DNS_NAMESPACE}/{DNS_DEPLOYMENT} to {replicas}"))?;
    Ok(())
}

/// A node that holds no `web` pod, once only one is left.
async fn node_without_web(client: &kube::Client) -> anyhow::Result<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + super::SETTLE;
    loop {
        let web = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .map_err(super::super::client::api_error)?;
        let on: Vec<String> = web
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        if on.len() == 1 {
            let all = nodes
                .list(&ListParams::default())
                .await
                .map_err(super::super::client::api_error)?;
            if let Some(n) = all
                .items
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .find(|n| !on.contains(n))
            {
                return Ok(n);
            }
            bail!("every node holds a web pod");
        }
        if std::time::Instant::now() > deadline {
            bail!("drill/web did not scale to one pod");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn node_port(client: &kube::Client) -> anyhow::Result<i32> {
    let api: Api<Service> = Api::namespaced(client.clone(), NS);
    let svc = api
        .get("web")
        .await
        .map_err(super::super::client::api_error)?;
    svc.spec
        .and_then(|s| s.ports?.first()?.node_port)
        .context("drill/web has no nodePort")
}
