//! The lab's kubeconfigs: one cluster, one user, one context, all named `podnet-NAME`, as kind
//! names its own `kind-NAME`; always HTTPS trusting the lab's CA, the user a client
//! certificate.

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::json;

use crate::error::DaemonError;
use crate::pki::ClientCredentials;

pub fn context_name(lab: &str) -> String {
    format!("podnet-{lab}")
}

/// A kubeconfig for the lab `lab` served at `addr` over HTTPS, trusting `ca_pem`, as the
/// user of `credentials`.
pub fn render(
    lab: &str,
    addr: SocketAddr,
    ca_pem: &str,
    credentials: &ClientCredentials,
) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let name = context_name(lab);
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": format!("https://{addr}"),
            "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": name, "user": {
            "client-certificate-data": b64(&credentials.cert_pem),
            "client-key-data": b64(&credentials.key_pem)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).expect("JSON values render as YAML")
}

/// A kube client from a kubeconfig's text, through kube-rs's own kubeconfig loading (what
/// every podnet component does with its kubeconfig file).
pub async fn client(text: &str) -> Result<kube::Client, DaemonError> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let failed = |e: &dyn std::fmt::Display| DaemonError::Client(e.to_string());
    let parsed = Kubeconfig::from_yaml(text).map_err(|e| failed(&e))?;
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|e| failed(&e))?;
    kube::Client::try_from(config).map_err(|e| failed(&e))
}
