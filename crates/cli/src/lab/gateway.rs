//! The lab's HTTP front door: Gateway API's standard-channel CRDs (v1.6.1, vendored
//! unchanged), and `podnet gateway` as the Deployment podnet-gateway/podnet-gateway behind a
//! LoadBalancer Service (80, 443) with the default IngressClass `podnet`, from the same
//! manifest a real cluster uses; it reaches the API server as its own ServiceAccount.

use super::client::Catalog;
use super::{apply, manifest};

macro_rules! crd {
    ($plural:literal) => {
        (
            concat!("gateway.networking.k8s.io_", $plural, ".yaml"),
            include_str!(concat!(
                "../../../gateway/controller/deploy/gateway-api/gateway.networking.k8s.io_",
                $plural,
                ".yaml"
            )),
        )
    };
}

/// The deploy manifest of `podnet gateway`.
pub(crate) const GATEWAY: &str = include_str!("../../../gateway/controller/deploy/gateway.yaml");

/// Gateway API's standard channel, as its release installs it.
pub(crate) const GATEWAY_API_CRDS: [(&str, &str); 10] = [
    crd!("gatewayclasses"),
    crd!("gateways"),
    crd!("httproutes"),
    crd!("referencegrants"),
    crd!("grpcroutes"),
    crd!("backendtlspolicies"),
    crd!("listenersets"),
    crd!("tcproutes"),
    crd!("tlsroutes"),
    crd!("udproutes"),
];

/// Applies the gateway when the lab is new (a restarted lab keeps its objects and a user's
/// changes to them).
pub async fn install(client: &kube::Client, catalog: &Catalog) -> anyhow::Result<()> {
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "podnet-gateway");
    if deployments
        .get_opt("podnet-gateway")
        .await
        .map_err(super::client::api_error)?
        .is_some()
    {
        return Ok(());
    }
    let mut crds = Vec::new();
    for (file, text) in GATEWAY_API_CRDS {
        crds.extend(manifest::parse(file, text)?);
    }
    apply::apply_objects(client, catalog, &crds, "default", false).await?;
    let objects: Vec<manifest::Object> = manifest::parse("gateway.yaml", GATEWAY)?;
    apply::apply_objects(client, catalog, &objects, "podnet-gateway", false).await
}
