//! A request → what it asks (upstream's `RequestInfoFactory`): resource requests under
//! `/api/v1` and `/apis/G/V`, everything else by path; the verb from the method, the name
//! and `?watch`.

use std::collections::HashMap;

use axum::http::Method;

use super::rules::Attributes;
use crate::auth::UserInfo;

/// The namespace subresources that stay the namespace's (not a resource of their own).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

pub fn of_request(
    user: &UserInfo,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Attributes {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => {
            return Attributes {
                user: user.clone(),
                verb: method.as_str().to_ascii_lowercase(),
                path: if path.is_empty() {
                    "/".into()
                } else {
                    path.into()
                },
                ..Default::default()
            };
        }
    };
    let mut watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let mut rest = rest;
    if rest.first() == Some(&"watch") {
        watch = true;
        rest = &rest[1..];
    }
    let mut namespace = "";
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = rest[1];
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    let name = rest.get(1).copied().unwrap_or_default();
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_empty() => "deletecollection",
        Method::DELETE => "delete",
        _ if watch => "watch",
        _ if name.is_empty() => "list",
        _ => "get",
    };
    let subresource = rest.get(2).copied().unwrap_or_default();
    // Connecting to a pod's process is `create` whatever the method (a WebSocket upgrade is
    // a GET): kube-apiserver's AuthorizePodWebsocketUpgradeCreatePermission.
    let verb = match (group, rest.first(), subresource) {
        ("", Some(&"pods"), "exec" | "attach" | "portforward") => "create",
        _ => verb,
    };
    // A list or watch of one object by `fieldSelector=metadata.name=NAME` is about that
    // name, so that rules with resourceNames cover it (upstream's RequestInfoFactory).
    let selected = matches!(verb, "list" | "watch")
        .then(|| query.get("fieldSelector"))
        .flatten()
        .and_then(|selector| exact_name(selector));
    let name = selected.unwrap_or(name);
    Attributes {
        user: user.clone(),
        verb: verb.into(),
        resource_request: true,
        namespace: namespace.into(),
        api_group: group.into(),
        resource: rest.first().copied().unwrap_or_default().into(),
        subresource: subresource.into(),
        name: name.into(),
        path: path.into(),
    }
}

/// The name a field selector requires exactly (`metadata.name=NAME` or `==`), if only one.
fn exact_name(selector: &str) -> Option<&str> {
    selector.split(',').find_map(|term| {
        let value = term
            .strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="))?;
        (!value.is_empty()).then_some(value)
    })
}

/// kube-apiserver's message for a denial.
pub fn forbidden_message(attrs: &Attributes) -> String {
    let user = &attrs.user.username;
    let verb = &attrs.verb;
    if !attrs.resource_request {
        return format!(
            "forbidden: User {user:?} cannot {verb} path {:?}",
            attrs.path
        );
    }
    let resource = attrs.combined_resource();
    let group = &attrs.api_group;
    let scope = if attrs.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {:?}", attrs.namespace)
    };
    let qualified = if group.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}.{group}", attrs.resource)
    };
    let what = if attrs.name.is_empty() {
        qualified
    } else {
        format!("{qualified} {:?}", attrs.name)
    };
    format!(
        "{what} is forbidden: User {user:?} cannot {verb} resource {resource:?} in API group \
         {group:?} {scope}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str, query: &[(&str, &str)]) -> Attributes {
        let q = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        of_request(&UserInfo::anonymous(), &method, path, &q)
    }

    fn summary(a: &Attributes) -> (String, String, String, String, String, String) {
        (
            a.verb.clone(),
            a.namespace.clone(),
            a.api_group.clone(),
            a.resource.clone(),
            a.subresource.clone(),
            a.name.clone(),
        )
    }

    fn s(v: [&str; 6]) -> (String, String, String, String, String, String) {
        let [a, b, c, d, e, f] = v.map(String::from);
        (a, b, c, d, e, f)
    }

    #[test]
    fn paths_and_methods_become_upstreams_attributes() {
        let g = Method::GET;
        let table = [
            (
                parse(g.clone(), "/api/v1/namespaces/default/pods", &[]),
                ["list", "default", "", "pods", "", ""],
            ),
            (
                parse(g.clone(), "/api/v1/pods", &[("watch", "true")]),
                ["watch", "", "", "pods", "", ""],
            ),
            (
                parse(g.clone(), "/api/v1/namespaces/default/pods/web/log", &[]),
                ["get", "default", "", "pods", "log", "web"],
            ),
            (
                parse(
                    g.clone(),
                    "/api/v1/namespaces/kube-system/configmaps",
                    &[("watch", "1"), ("fieldSelector", "metadata.name=coredns")],
                ),
                ["watch", "kube-system", "", "configmaps", "", "coredns"],
            ),
            // A WebSocket exec is a GET; connecting to a pod is `create` all the same.
            (
                parse(g.clone(), "/api/v1/namespaces/default/pods/web/exec", &[]),
                ["create", "default", "", "pods", "exec", "web"],
            ),
            (
                parse(
                    g.clone(),
                    "/api/v1/namespaces/default/pods/web/portforward",
                    &[],
                ),
                ["create", "default", "", "pods", "portforward", "web"],
            ),
            (
                parse(Method::POST, "/apis/apps/v1/namespaces/ns/deployments", &[]),
                ["create", "ns", "apps", "deployments", "", ""],
            ),
            (
                parse(Method::DELETE, "/api/v1/namespaces/ns/configmaps", &[]),
                ["deletecollection", "ns", "", "configmaps", "", ""],
            ),
            (
                parse(g.clone(), "/api/v1/namespaces/team-a", &[]),
                ["get", "team-a", "", "namespaces", "", "team-a"],
            ),
            (
                parse(Method::PUT, "/api/v1/namespaces/team-a/finalize", &[]),
                ["update", "team-a", "", "namespaces", "finalize", "team-a"],
            ),
            (
                parse(g.clone(), "/api/v1/nodes/n1", &[]),
                ["get", "", "", "nodes", "", "n1"],
            ),
            (
                parse(
                    Method::POST,
                    "/api/v1/namespaces/d/serviceaccounts/sa/token",
                    &[],
                ),
                ["create", "d", "", "serviceaccounts", "token", "sa"],
            ),
        ];
        for (got, want) in table {
            assert!(got.resource_request, "{got:?}");
            assert_eq!(summary(&got), s(want));
        }
        for path in [
            "/api",
            "/api/v1",
            "/apis/apps/v1",
            "/version",
            "/openapi/v3",
        ] {
            let got = parse(g.clone(), path, &[]);
            assert!(!got.resource_request, "{path}");
            assert_eq!((got.verb.as_str(), got.path.as_str()), ("get", path));
        }
    }

    #[test]
    fn denials_read_as_upstreams() {
        let mut a = parse(Method::GET, "/api/v1/namespaces/default/services", &[]);
        a.user = UserInfo::service_account("default", "default", "u");
        assert_eq!(
            forbidden_message(&a),
            "services is forbidden: User \"system:serviceaccount:default:default\" cannot \
             list resource \"services\" in API group \"\" in the namespace \"default\""
        );
        let mut a = parse(Method::GET, "/apis/apps/v1/deployments", &[]);
        a.user = UserInfo::named("bob", &[]);
        assert_eq!(
            forbidden_message(&a),
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" \
             in API group \"apps\" at the cluster scope"
        );
        let mut a = parse(Method::GET, "/api/v1/namespaces/d/pods/web/log", &[]);
        a.user = UserInfo::named("bob", &[]);
        assert_eq!(
            forbidden_message(&a),
            "pods \"web\" is forbidden: User \"bob\" cannot get resource \"pods/log\" in API \
             group \"\" in the namespace \"d\""
        );
        let mut a = parse(Method::GET, "/metrics", &[]);
        a.user = UserInfo::named("bob", &[]);
        assert_eq!(
            forbidden_message(&a),
            "forbidden: User \"bob\" cannot get path \"/metrics\""
        );
    }
}
