//! Request routing: the Kubernetes REST paths onto the handlers, and the replies' encoding.

use std::collections::HashMap;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::UserInfo;
use crate::error::ApiError;
use crate::negotiate::{self, Encoding};
use crate::resources::ResourceType;
use crate::tls::ClientCert;
use crate::{App, auth, binding, connect, crud, discovery, namespaces, openapi, rbac, watch};

/// A handler's answer before encoding.
pub struct Reply {
    pub code: StatusCode,
    pub body: Value,
    pub content_type: &'static str,
    pub warnings: Vec<String>,
}

/// What a resource path names.
pub struct Target {
    pub rt: &'static ResourceType,
    /// The namespace in the path; None for cluster-scoped kinds or an all-namespaces list.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// The decoded request as handlers see it.
pub struct Req {
    pub method: Method,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    /// Who sent it (see [`crate::auth::authn`]).
    pub user: UserInfo,
}

// === impl Reply ===

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply::with(StatusCode::OK, body)
    }

    pub fn with(code: StatusCode, body: Value) -> Self {
        Reply {
            code,
            body,
            content_type: "application/json",
            warnings: Vec::new(),
        }
    }
}

impl Reply {
    /// The response in `encoding` (replies of another media type, such as aggregated
    /// discovery, keep theirs).
    pub fn respond(self, encoding: Encoding) -> Response {
        let encoding = match self.content_type {
            "application/json" => encoding,
            _ => Encoding::Json,
        };
        let mut resp = negotiate::response(self.code, &self.body, encoding);
        let headers = resp.headers_mut();
        if encoding == Encoding::Json {
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(self.content_type),
            );
        }
        for w in self.warnings {
            if let Ok(v) = header::HeaderValue::from_str(&format!("299 - {w:?}")) {
                headers.append("warning", v);
            }
        }
        resp
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.respond(Encoding::Json)
    }
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    negotiate::response(code, body, Encoding::Json)
}

// === impl Req ===

impl Req {
    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn accept(&self) -> &str {
        self.header(header::ACCEPT)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    /// The body as JSON (decoded from JSON, YAML or protobuf by Content-Type), which must be
    /// an object.
    pub fn object(&self) -> Result<Value, ApiError> {
        negotiate::request_object(self.header(header::CONTENT_TYPE), &self.body)
    }

    /// The reply encoding the Accept header asks for.
    pub fn encoding(&self) -> Encoding {
        Encoding::for_accept(self.accept())
    }
}

/// The one handler behind every path.
pub async fn handle(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(e) => return ApiError::BadRequest(format!("reading the body: {e}")).into_response(),
    };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let encoding = Encoding::for_accept(
        parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let cert = parts
        .extensions
        .get::<ConnectInfo<ClientCert>>()
        .and_then(|ConnectInfo(ClientCert(user))| user.as_ref());
    let user = match auth::authn::authenticate(&app, cert, &parts.headers)
        .and_then(|sender| auth::impersonate::apply(&app, sender, &parts.headers))
    {
        Ok(user) => user,
        Err(e) => return e.respond(encoding),
    };
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let attrs = rbac::attributes::of_request(&user, &parts.method, &path, &query);
    if rbac::authorize(&app, &attrs) == rbac::Decision::Deny {
        tracing::debug!(user = %user.username, verb = %attrs.verb, %path, "forbidden");
        let message = rbac::attributes::forbidden_message(&attrs);
        return ApiError::Forbidden(message).respond(encoding);
    }
    if let Some(stream) = connect::Stream::of_path(&path) {
        return match connect::serve(&app, stream, parts).await {
            Ok(resp) => resp,
            Err(e) => e.respond(encoding),
        };
    }
    let req = Req {
        method: parts.method,
        query,
        headers: parts.headers,
        body,
        user,
    };
    tracing::debug!(method = %req.method, %path, accept = req.accept(), "request");
    match route(&app, &path, req).await {
        Ok(resp) => resp,
        Err(e) => e.respond(encoding),
    }
}

async fn route(app: &App, path: &str, req: Req) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let accept = req.accept().to_string();
    let reply = match segs.as_slice() {
        ["version"] => Reply::ok(version()),
        ["healthz" | "readyz" | "livez"] => {
            return Ok((StatusCode::OK, "ok").into_response());
        }
        ["api"] if discovery::wants_aggregated(&accept) => Reply {
            content_type: discovery::AGGREGATED,
            ..Reply::ok(discovery::aggregated(&app.registry, true))
        },
        ["api"] => Reply::ok(discovery::api_versions()),
        ["apis"] if discovery::wants_aggregated(&accept) => Reply {
            content_type: discovery::AGGREGATED,
            ..Reply::ok(discovery::aggregated(&app.registry, false))
        },
        ["apis"] => Reply::ok(discovery::api_group_list(&app.registry)),
        ["openapi", "v3"] => Reply::ok(openapi::root(&app.registry)),
        ["openapi", "v2"] if openapi::wants_only_protobuf(&accept) => {
            return Ok(json_response(
                StatusCode::NOT_ACCEPTABLE,
                &openapi::not_acceptable(&accept),
            ));
        }
        ["openapi", "v2"] => Reply::ok(openapi::v2(&app.registry)),
        ["openapi", "v3", rest @ ..] => Reply::ok(
            openapi::group_version(&app.registry, &rest.join("/")).ok_or(ApiError::NoSuchPath)?,
        ),
        ["api", version, rest @ ..] => return resource(app, "", version, rest, req).await,
        ["apis", group, version, rest @ ..] => {
            return resource(app, group, version, rest, req).await;
        }
        ["apis", group] => {
            Reply::ok(discovery::api_group(&app.registry, group).ok_or(ApiError::NoSuchPath)?)
        }
        _ => return Err(ApiError::NoSuchPath),
    };
    Ok(reply.into_response())
}

async fn resource(
    app: &App,
    group: &str,
    version: &str,
    segs: &[&str],
    req: Req,
) -> Result<Response, ApiError> {
    if segs.is_empty() {
        let list =
            discovery::resource_list(&app.registry, group, version).ok_or(ApiError::NoSuchPath)?;
        return Ok(Reply::ok(list).respond(req.encoding()));
    }
    let (namespace, rest) = match segs {
        ["namespaces", ns, plural, rest @ ..]
            if app
                .registry
                .find(group, version, plural)
                .is_some_and(|r| r.namespaced) =>
        {
            (Some(ns.to_string()), [&[*plural][..], rest].concat())
        }
        _ => (None, segs.to_vec()),
    };
    let rt = app
        .registry
        .find(group, version, rest[0])
        .ok_or(ApiError::NoSuchPath)?;
    if rest.len() > 3 {
        return Err(ApiError::NoSuchPath);
    }
    let subresource = rest.get(2).map(|s| s.to_string());
    if let Some(sub) = &subresource {
        let sub = rt.subresource(sub).ok_or(ApiError::NoSuchPath)?;
        let verb = match req.method {
            Method::GET => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::POST => "create",
            _ => "",
        };
        if !sub.verbs.contains(&verb) {
            return Err(ApiError::MethodNotAllowed(format!(
                "the server does not allow this method on the requested resource: {}",
                req.method
            )));
        }
    }
    let target = Target {
        rt,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        subresource,
    };
    if rt.namespaced && target.namespace.is_none() && target.name.is_some() {
        return Err(ApiError::NoSuchPath);
    }
    if rt.namespaced && target.namespace.is_none() && req.method != Method::GET {
        return Err(ApiError::MethodNotAllowed(format!(
            "{} is namespaced: create it under /namespaces/NAMESPACE/",
            rt.plural
        )));
    }
    if rbac::reviews::is_review(rt) {
        return match (&req.method, &target.name) {
            (&Method::POST, None) => {
                Ok(rbac::reviews::create(app, &target, &req)?.respond(req.encoding()))
            }
            (m, _) => Err(ApiError::MethodNotAllowed(format!(
                "the server does not allow this method on the requested resource: {m}"
            ))),
        };
    }
    let method = req.method.clone();
    let reply = match (method, target.name.is_some()) {
        (Method::POST, true) if target.subresource.as_deref() == Some("binding") => {
            binding::create(app, &target, &req)?
        }
        (Method::POST, true) if target.subresource.as_deref() == Some("token") => {
            auth::token_request::create(app, &target, &req)?
        }
        (Method::PUT, true) if target.subresource.as_deref() == Some("finalize") => {
            namespaces::finalize(app, &target, &req)?
        }
        (Method::GET, true) => crud::get(app, &target, &req)?,
        (Method::GET, false) if req.flag("watch") => {
            return watch::watch(app, &target, &req);
        }
        (Method::GET, false) => crud::list(app, &target, &req)?,
        (Method::POST, false) => crud::create(app, &target, &req)?,
        (Method::PUT, true) => crud::update(app, &target, &req)?,
        (Method::PATCH, true) => crud::patch(app, &target, &req)?,
        (Method::DELETE, true) => crud::delete(app, &target, &req)?,
        (Method::DELETE, false) => crud::delete_collection(app, &target, &req)?,
        (m, _) => {
            return Err(ApiError::MethodNotAllowed(format!(
                "the server does not allow this method on the requested resource: {m}"
            )));
        }
    };
    Ok(reply.respond(req.encoding()))
}

fn version() -> Value {
    json!({"major": "1", "minor": "37", "gitVersion": "v1.37.0-podnet",
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "", "compiler": "rustc", "platform": "linux/amd64"})
}
