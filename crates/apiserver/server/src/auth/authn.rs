//! Authentication: a request's credentials → its user, as kube-apiserver's union of
//! authenticators (client certificates, static tokens, service-account tokens, then
//! anonymous).

use axum::http::{HeaderMap, header};

use super::token::{self, Claims};
use super::user::UserInfo;
use super::{Auth, StaticToken};
use crate::App;
use crate::error::ApiError;
use crate::resources::ResourceType;

/// The user behind a request: its connection's verified client certificate (`cert`) first,
/// then a bearer token in `headers`, which must be valid (else 401, as upstream: a bad
/// credential is never downgraded to anonymous); no credentials is `system:anonymous`.
pub fn authenticate(
    app: &App,
    cert: Option<&UserInfo>,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    if let Some(user) = cert {
        return Ok(user.clone());
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(UserInfo::anonymous());
    };
    let bearer = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    by_token(app, &app.auth, bearer)
}

fn by_token(app: &App, auth: &Auth, bearer: &str) -> Result<UserInfo, ApiError> {
    if let Some(StaticToken { user, .. }) = auth.static_tokens.iter().find(|t| t.token == bearer) {
        return Ok(user.clone());
    }
    let now = jiff::Timestamp::now().as_second();
    let claims = token::verify(&auth.signing_key, bearer, now).map_err(|error| {
        tracing::debug!(%error, "bearer token refused");
        ApiError::Unauthorized
    })?;
    still_valid(app, &claims)?;
    let private = &claims.kubernetes;
    let account = &private.serviceaccount;
    let mut user = UserInfo::service_account(&private.namespace, &account.name, &account.uid);
    if let Some(pod) = &private.pod {
        let extra = &mut user.extra;
        extra.insert(
            "authentication.kubernetes.io/pod-name".into(),
            vec![pod.name.clone()],
        );
        extra.insert(
            "authentication.kubernetes.io/pod-uid".into(),
            vec![pod.uid.clone()],
        );
    }
    user.extra.insert(
        "authentication.kubernetes.io/credential-id".into(),
        vec![format!("JTI={}", claims.jti)],
    );
    Ok(user)
}

/// The ServiceAccount (and the pod or secret the token is bound to) must still exist with
/// the uid the token names: deleting it revokes its tokens.
fn still_valid(app: &App, claims: &Claims) -> Result<(), ApiError> {
    let ns = &claims.kubernetes.namespace;
    let check = |plural: &str, r: &token::Ref| {
        let rt = ResourceType::find("", "v1", plural).expect("core kinds are served");
        let current = app
            .store
            .get(&rt.store_resource().key(ns, &r.name))
            .ok()
            .and_then(|obj| obj["metadata"]["uid"].as_str().map(str::to_string));
        if current.as_deref() == Some(r.uid.as_str()) {
            Ok(())
        } else {
            tracing::debug!(%plural, name = %r.name, "token refused: its object is gone");
            Err(ApiError::Unauthorized)
        }
    };
    check("serviceaccounts", &claims.kubernetes.serviceaccount)?;
    if let Some(pod) = &claims.kubernetes.pod {
        check("pods", pod)?;
    }
    if let Some(secret) = &claims.kubernetes.secret {
        check("secrets", secret)?;
    }
    Ok(())
}
