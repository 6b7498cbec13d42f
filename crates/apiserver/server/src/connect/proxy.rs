//! Carrying a request to a kubelet as kube-apiserver's `UpgradeAwareHandler` does: the
//! request goes to the kubelet (without the client's credentials); an upgrade the kubelet
//! accepts (101) is answered to the client with the kubelet's headers and the raw bytes are
//! then copied both ways, so the streaming protocols live only in the kubelet; any other
//! answer is passed through, streamed (`logs -f`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::Dialer;
use crate::error::ApiError;

/// Headers that are the API server's business, not the kubelet's.
const DROPPED: &[header::HeaderName] = &[
    header::AUTHORIZATION,
    header::HOST,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

/// Sends `method path` to the kubelet at `addr` and answers with what it says.
pub async fn forward(
    dialer: &Dialer,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    client_upgrade: Option<OnUpgrade>,
) -> Result<Response<Body>, ApiError> {
    let backend_err = |e: &dyn std::fmt::Display| {
        ApiError::Internal(format!("error dialing backend: dial tcp {addr}: {e}"))
    };
    let stream = dialer.dial(addr).await.map_err(|e| backend_err(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| backend_err(&e))?;
    tokio::spawn(async move {
        if let Err(error) = conn.with_upgrades().await {
            tracing::debug!(%error, "kubelet connection");
        }
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (name, value) in headers {
        if !DROPPED.contains(name) {
            req = req.header(name, value);
        }
    }
    let req = req
        .body(Full::new(Bytes::new()))
        .map_err(|e| ApiError::Internal(format!("kubelet request: {e}")))?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| ApiError::Internal(format!("error from the kubelet at {addr}: {e}")))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = resp.into_parts();
        let mut out = Response::new(Body::new(body));
        *out.status_mut() = parts.status;
        for (name, value) in &parts.headers {
            if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
                out.headers_mut().append(name, value.clone());
            }
        }
        return Ok(out);
    }
    let Some(client_upgrade) = client_upgrade else {
        return Err(ApiError::BadRequest(
            "the kubelet upgraded a connection the client cannot upgrade".into(),
        ));
    };
    let backend_upgrade = hyper::upgrade::on(&mut resp);
    let mut out = Response::new(Body::empty());
    *out.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *out.headers_mut() = resp.headers().clone();
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
            Ok(both) => both,
            Err(error) => {
                tracing::debug!(%error, "upgrading a streaming connection");
                return;
            }
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            Ok((up, down)) => tracing::debug!(up, down, "streaming connection closed"),
            Err(error) => tracing::debug!(%error, "streaming connection ended"),
        }
    });
    Ok(out)
}
