//! The lab's kubeconfig: one cluster, one user, one context, all named `podnet-NAME`, as kind
//! names its own `kind-NAME`.

use std::net::SocketAddr;

use serde_json::json;

pub fn context_name(lab: &str) -> String {
    format!("podnet-{lab}")
}

/// A kubeconfig for the lab `lab` served at `addr`: over HTTPS trusting `ca_pem` when the
/// listener there is TLS, else plain HTTP; the user is the admin, by `token`.
pub fn render(lab: &str, addr: SocketAddr, ca_pem: Option<&str>, token: &str) -> String {
    use base64::Engine as _;
    let name = context_name(lab);
    let cluster = match ca_pem {
        Some(ca) => json!({"server": format!("https://{addr}"),
            "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(ca)}),
        None => json!({"server": format!("http://{addr}")}),
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).expect("JSON values render as YAML")
}
