//! What every lab runs besides the user's workloads, as kind installs CoreDNS: the cluster
//! DNS (`podnet dns` as the `coredns` Deployment behind the `kube-dns` Service at
//! 10.96.0.10), from the same manifest `podnet install` applies to a real cluster
//! (deploy/podnet-dns.yaml: its image runs the lab's own binary), with the kubeconfig of its
//! own identity (`system:serviceaccount:kube-system:coredns`, which the manifest's RBAC
//! binds) added to the container's args.

use anyhow::Context;
use podnet_lab_daemon::LabDir;

use super::client::Catalog;
use super::{apply, manifest};

/// The deploy manifest of `podnet dns` (ConfigMap, RBAC, Deployment, PDB, Service).
pub(crate) const KUBE_DNS: &str = include_str!("../../../../deploy/podnet-dns.yaml");

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
    // The Service's address follows the config's serviceSubnet, as the kubelets' --cluster-dns.
    let dns_ip = podnet_lab_daemon::cluster_dns(&lab.cluster()?.cluster);
    let text = KUBE_DNS.replace("clusterIP: 10.96.0.10", &format!("clusterIP: {dns_ip}"));
    let mut objects: Vec<manifest::Object> = manifest::parse("podnet-dns.yaml", &text)?
        .into_iter()
        .filter(|o| catalog.by_kind(o.api_version(), o.kind()).is_ok())
        .collect();
    let kubeconfig = lab.component_kubeconfig("coredns");
    let deployment = objects
        .iter_mut()
        .find(|o| o.kind() == "Deployment")
        .context("podnet-dns.yaml has no Deployment")?;
    let args = &mut deployment.value["spec"]["template"]["spec"]["containers"][0]["args"];
    let args = args
        .as_array_mut()
        .context("the DNS container has no args")?;
    args.push(format!("--kubeconfig={}", kubeconfig.display()).into());
    apply::apply_objects(client, catalog, &objects, "kube-system", false).await
}
