//! What every lab runs besides the user's workloads, as kind installs CoreDNS: the cluster
//! DNS (`podnet dns` as the `coredns` Deployment behind the `kube-dns` Service at
//! 10.96.0.10), from the same manifest a real cluster uses, with the lab's binary and the
//! kubeconfig of its own identity (`system:serviceaccount:kube-system:coredns`, which the
//! manifest's RBAC binds) filled in.

use anyhow::Context;
use podnet_lab_daemon::LabDir;

use super::client::Catalog;
use super::{apply, manifest};

/// The deploy manifest of `podnet dns` (ConfigMap, RBAC, Deployment, Service).
const KUBE_DNS: &str = include_str!("../../../dns/server/deploy/kube-dns.yaml");

/// Applies the cluster DNS when the lab is new (a restarted lab keeps its objects, and a
/// user's changes to them, as a cluster keeps its CoreDNS). Object kinds the lab's API does
/// not serve are left out.
pub async fn install(lab: &LabDir, client: &kube::Client, catalog: &Catalog) -> anyhow::Result<()> {
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "kube-system");
    if deployments
        .get_opt("coredns")
        .await
        .map_err(super::client::api_error)?
        .is_some()
    {
        return Ok(());
    }
    let exe = std::env::current_exe().context("finding the podnet binary")?;
    // The Service's address follows the config's serviceSubnet, as the kubelets' --cluster-dns.
    let dns_ip = podnet_lab_daemon::cluster_dns(&lab.cluster()?.cluster);
    let text = KUBE_DNS
        .replace("clusterIP: 10.96.0.10", &format!("clusterIP: {dns_ip}"))
        .replace("{{PODNET}}", &exe.to_string_lossy())
        .replace(
            "{{KUBECONFIG}}",
            &lab.component_kubeconfig("coredns").to_string_lossy(),
        );
    let objects: Vec<manifest::Object> = manifest::parse("kube-dns.yaml", &text)?
        .into_iter()
        .filter(|o| catalog.by_kind(o.api_version(), o.kind()).is_ok())
        .collect();
    apply::apply_objects(client, catalog, &objects, "kube-system", false).await
}
