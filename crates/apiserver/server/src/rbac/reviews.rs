//! The review kinds, answered and never stored: SelfSubjectReview (`kubectl auth whoami`),
//! SelfSubjectAccessReview, LocalSubjectAccessReview and SubjectAccessReview (`kubectl auth
//! can-i`), SelfSubjectRulesReview (`kubectl auth can-i --list`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

use super::{Attributes, Decision, Policy, authorize};
use crate::App;
use crate::auth::UserInfo;
use crate::auth::user::{AUTHENTICATED, MASTERS};
use crate::error::ApiError;
use crate::http::{Reply, Req, Target};
use crate::resources::ResourceType;

/// Whether `rt` is one of the kinds this module answers.
pub fn is_review(rt: &ResourceType) -> bool {
    matches!(
        rt.kind,
        "SelfSubjectReview"
            | "SelfSubjectAccessReview"
            | "LocalSubjectAccessReview"
            | "SubjectAccessReview"
            | "SelfSubjectRulesReview"
    )
}

pub fn create(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let mut review = req.object()?;
    let status = match t.rt.kind {
        "SelfSubjectReview" => json!({"userInfo": req.user}),
        "SelfSubjectAccessReview" => access(app, req.user.clone(), &review["spec"]),
        "SubjectAccessReview" => access(app, subject_of(&review["spec"]), &review["spec"]),
        "LocalSubjectAccessReview" => {
            let ns = t.namespace.as_deref().unwrap_or_default();
            let asked = review["spec"]["resourceAttributes"]["namespace"]
                .as_str()
                .unwrap_or_default();
            if asked != ns {
                return Err(ApiError::BadRequest(format!(
                    "spec.resourceAttributes.namespace must match namespace: {ns}"
                )));
            }
            access(app, subject_of(&review["spec"]), &review["spec"])
        }
        _ => rules_review(app, &req.user, &review["spec"]),
    };
    crate::strategy::set_type(t.rt, &mut review);
    let mut meta = review["metadata"].as_object().cloned().unwrap_or_default();
    meta.insert(
        "creationTimestamp".into(),
        json!(
            podnet_apiserver_store::meta::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        ),
    );
    if let Some(ns) = &t.namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    review["metadata"] = Value::Object(meta);
    review["status"] = status;
    Ok(Reply::with(StatusCode::CREATED, review))
}

/// The user a SubjectAccessReview asks about.
fn subject_of(spec: &Value) -> UserInfo {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let extra: BTreeMap<String, Vec<String>> = spec["extra"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), strings(v)))
        .collect();
    UserInfo {
        username: spec["user"].as_str().unwrap_or_default().into(),
        uid: spec["uid"].as_str().unwrap_or_default().into(),
        groups: strings(&spec["groups"]),
        extra,
    }
}

fn access(app: &App, user: UserInfo, spec: &Value) -> Value {
    let attrs = match spec.get("resourceAttributes").filter(|v| v.is_object()) {
        Some(r) => {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            Attributes {
                user,
                verb: s("verb"),
                resource_request: true,
                namespace: s("namespace"),
                api_group: s("group"),
                resource: s("resource"),
                subresource: s("subresource"),
                name: s("name"),
                path: String::new(),
            }
        }
        None => {
            let n = &spec["nonResourceAttributes"];
            Attributes {
                user,
                verb: n["verb"].as_str().unwrap_or_default().into(),
                path: n["path"].as_str().unwrap_or_default().into(),
                ..Default::default()
            }
        }
    };
    match authorize(app, &attrs) {
        Decision::Allow(reason) if reason.is_empty() => json!({"allowed": true}),
        Decision::Allow(reason) => json!({"allowed": true, "reason": reason}),
        Decision::Deny => json!({"allowed": false}),
    }
}

fn rules_review(app: &App, user: &UserInfo, spec: &Value) -> Value {
    let namespace = spec["namespace"].as_str().unwrap_or_default();
    let rules = if user.in_group(MASTERS) || (user.is_anonymous() && app.auth.anonymous_is_admin) {
        Policy::load(&app.store)
            .rules_for(&UserInfo::named("", &[MASTERS, AUTHENTICATED]), namespace)
    } else {
        Policy::load(&app.store).rules_for(user, namespace)
    };
    let (urls, resources): (Vec<PolicyRule>, Vec<PolicyRule>) = rules
        .into_iter()
        .partition(|r| r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()));
    let resource_rules: Vec<Value> = resources
        .iter()
        .map(|r| {
            json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources,
                "resourceNames": r.resource_names})
        })
        .collect();
    let url_rules: Vec<Value> = urls
        .iter()
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    json!({"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": false})
}
