//! The lab's kubeconfig: one cluster, one user, one context, all named `podnet-NAME`, as kind
//! names its own `kind-NAME`.

use std::net::SocketAddr;

use serde_json::json;

pub fn context_name(lab: &str) -> String {
    format!("podnet-{lab}")
}

/// A kubeconfig for the lab `lab` served at `addr` (plain HTTP on loopback, no credentials).
pub fn render(lab: &str, addr: SocketAddr) -> String {
    let name = context_name(lab);
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": format!("http://{addr}")}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).expect("JSON values render as YAML")
}
