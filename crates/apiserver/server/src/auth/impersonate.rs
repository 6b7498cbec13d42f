//! `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid` (kubectl's `--as`,
//! `--as-group`): the request acts as another user when its sender may `impersonate` that
//! user, each group and the uid, as kube-apiserver's impersonation filter decides.

use axum::http::HeaderMap;

use super::UserInfo;
use super::user::{ANONYMOUS, AUTHENTICATED};
use crate::App;
use crate::error::ApiError;
use crate::rbac::{self, Attributes, Decision};

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";

/// The user the request acts as: `sender` itself without impersonation headers.
pub fn apply(app: &App, sender: UserInfo, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    };
    let Some(username) = values(USER).into_iter().next() else {
        if !values(GROUP).is_empty() || !values(UID).is_empty() {
            return Err(ApiError::BadRequest(
                "requested Impersonate-Group or Impersonate-Uid without Impersonate-User".into(),
            ));
        }
        return Ok(sender);
    };
    let groups = values(GROUP);
    let uid = values(UID).into_iter().next().unwrap_or_default();

    let account = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    let mut asks = vec![match account {
        Some((ns, name)) => ask(&sender, "serviceaccounts", ns, name),
        None => ask(&sender, "users", "", &username),
    }];
    asks.extend(groups.iter().map(|g| ask(&sender, "groups", "", g)));
    if !uid.is_empty() {
        asks.push(ask(&sender, "uids", "", &uid));
    }
    for attrs in &asks {
        if rbac::authorize(app, attrs) == Decision::Deny {
            return Err(ApiError::Forbidden(rbac::attributes::forbidden_message(
                attrs,
            )));
        }
    }

    let mut user = match account {
        Some((ns, name)) if groups.is_empty() => UserInfo::service_account(ns, name, &uid),
        _ => UserInfo {
            username: username.clone(),
            uid,
            groups,
            ..Default::default()
        },
    };
    if username != ANONYMOUS && !user.in_group(AUTHENTICATED) {
        user.groups.push(AUTHENTICATED.into());
    }
    tracing::debug!(sender = %sender.username, as_user = %user.username, "impersonating");
    Ok(user)
}

fn ask(sender: &UserInfo, resource: &str, namespace: &str, name: &str) -> Attributes {
    Attributes {
        user: sender.clone(),
        verb: "impersonate".into(),
        resource_request: true,
        namespace: namespace.into(),
        resource: resource.into(),
        name: name.into(),
        ..Default::default()
    }
}
