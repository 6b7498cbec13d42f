//! The pods' streaming subresources — `pods/exec`, `pods/attach`, `pods/portforward`
//! (connection upgrades) and `pods/log` — carried to the kubelet of the pod's node, as
//! kube-apiserver does: the pod and container checked here ([`location`]), the bytes
//! carried both ways by [`proxy`], the protocols spoken by the kubelet alone.
//!
//! - [`dialer`]: how the kubelet is reached (given by whoever runs the server).

pub mod dialer;
pub mod location;
pub mod proxy;

pub use dialer::Dialer;
pub use location::{Kind, Stream};

use axum::body::Body;
use axum::http::Response;
use axum::http::request::Parts;
use hyper::upgrade::OnUpgrade;

use crate::App;
use crate::error::ApiError;
use crate::resources::ResourceType;

/// Serves a streaming request (already authorized) by carrying it to the pod's kubelet.
pub async fn serve(
    app: &App,
    stream: Stream,
    mut parts: Parts,
) -> Result<Response<Body>, ApiError> {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let pod = get(app, "pods", &stream.namespace, &stream.pod)?;
    let path = stream.kubelet_path(&pod, &query)?;
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    let node = get(app, "nodes", "", node_name)?;
    let addr = location::kubelet_addr(&node)?;
    tracing::debug!(pod = %format!("{}/{}", stream.namespace, stream.pod), kind = ?stream.kind, %addr, %path, "streaming to the kubelet");
    let upgrade = parts.extensions.remove::<OnUpgrade>();
    proxy::forward(
        &app.kubelet_dialer,
        addr,
        parts.method,
        &path,
        &parts.headers,
        upgrade,
    )
    .await
}

fn get(
    app: &App,
    plural: &str,
    namespace: &str,
    name: &str,
) -> Result<serde_json::Value, ApiError> {
    let rt = ResourceType::find("", "v1", plural).expect("a built-in kind");
    app.store
        .get(&rt.store_resource().key(namespace, name))
        .map(|v| (*v).clone())
        .map_err(ApiError::from_store)
}
