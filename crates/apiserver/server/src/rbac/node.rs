//! The Node authorizer (kube-apiserver's `--authorization-mode=Node`) for kubelets, who
//! authenticate as `system:node:NAME` in `system:nodes`: they get upstream's node rules
//! (the `system:node` ClusterRole, also bootstrapped for reference) limited to their own
//! node — a node may
//! - read a Secret, ConfigMap or PersistentVolumeClaim only with `get`, and only when a pod
//!   bound to it references it (volumes, env, envFrom, imagePullSecrets);
//! - ask a token only for the ServiceAccount of a pod bound to it;
//! - update, patch or delete only its own Node and its own Lease in `kube-node-lease`
//!   (what upstream's NodeRestriction admission adds);
//! - write the status of, or delete, only pods bound to it.
//!
//! Anything else it asks falls through to RBAC, as upstream's authorizer chain does.

use std::sync::{Arc, LazyLock};

use k8s_openapi::api::rbac::v1::PolicyRule;
use podnet_apiserver_store::{Filter, Store};
use serde_json::{Value, json};

use super::rules::{Attributes, rule_allows};
use crate::resources::ResourceType;

pub const NODES_GROUP: &str = "system:nodes";
const NODE_USER_PREFIX: &str = "system:node:";
const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const ROLE: &str = "system:node";

/// The rules of upstream's `system:node` ClusterRole (bootstrappolicy's NodeRules) for the
/// resources the lab serves.
pub fn rules() -> Value {
    let r = |groups: &[&str], resources: &[&str], verbs: &[&str]| json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
    json!([
        r(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        r(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews", "subjectaccessreviews"],
            &["create"]
        ),
        r(&[""], &["services"], &["get", "list", "watch"]),
        r(&[""], &["nodes"], &["create", "get", "list", "watch"]),
        r(&[""], &["nodes/status"], &["patch", "update"]),
        r(&[""], &["nodes"], &["patch", "update"]),
        r(&[""], &["events"], &["create", "patch", "update"]),
        r(
            &["events.k8s.io"],
            &["events"],
            &["create", "patch", "update"]
        ),
        r(&[""], &["pods"], &["get", "list", "watch"]),
        r(&[""], &["pods"], &["create", "delete"]),
        r(&[""], &["pods/status"], &["patch", "update"]),
        r(&[""], &["pods/eviction"], &["create"]),
        r(&[""], &["configmaps", "secrets"], &["get", "list", "watch"]),
        r(
            &[""],
            &["persistentvolumeclaims", "persistentvolumes"],
            &["get"]
        ),
        r(&[""], &["endpoints"], &["get"]),
        r(
            &["coordination.k8s.io"],
            &["leases"],
            &["create", "delete", "get", "patch", "update"]
        ),
        r(&[""], &["serviceaccounts/token"], &["create"]),
    ])
}

/// The `system:node` ClusterRole as kube-apiserver bootstraps it (bound to nobody: the Node
/// authorizer grants these rules).
pub fn cluster_role() -> Value {
    json!({"metadata": {"name": ROLE,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": rules()})
}

static RULES: LazyLock<Vec<PolicyRule>> =
    LazyLock::new(|| serde_json::from_value(rules()).expect("the node rules are PolicyRules"));

/// The node a user is the kubelet of: `system:node:NAME` in `system:nodes`.
pub fn node_of(attrs: &Attributes) -> Option<&str> {
    let user = &attrs.user;
    let name = user.username.strip_prefix(NODE_USER_PREFIX)?;
    (user.in_group(NODES_GROUP) && !name.is_empty()).then_some(name)
}

/// Whether the Node authorizer allows `attrs` by `node`'s kubelet (the reason), reading the
/// pods bound to it from `store` when the answer depends on them.
pub fn authorize(store: &Store, node: &str, attrs: &Attributes) -> Option<String> {
    decide(node, attrs, || bound_pods(store, node, &attrs.namespace))
}

/// [`authorize`], pure: `pods` gives the pods bound to the node in the request's namespace.
pub fn decide(
    node: &str,
    attrs: &Attributes,
    pods: impl FnOnce() -> Vec<Arc<Value>>,
) -> Option<String> {
    if !attrs.resource_request || !RULES.iter().any(|r| rule_allows(attrs, r)) {
        return None;
    }
    let verb = attrs.verb.as_str();
    let writes = matches!(verb, "update" | "patch" | "delete");
    let allowed = match (
        attrs.api_group.as_str(),
        attrs.resource.as_str(),
        attrs.subresource.as_str(),
    ) {
        ("", "secrets" | "configmaps" | "persistentvolumeclaims", "") => {
            verb == "get"
                && pods()
                    .iter()
                    .any(|p| references(p, &attrs.resource, &attrs.name))
        }
        ("", "serviceaccounts", "token") => pods().iter().any(|p| account_of(p) == attrs.name),
        ("coordination.k8s.io", "leases", _) => {
            attrs.namespace == LEASE_NAMESPACE && (attrs.name == node || verb == "create")
        }
        ("", "nodes", _) if writes => attrs.name == node,
        ("", "pods", "status") => pods().iter().any(|p| name_of(p) == attrs.name),
        ("", "pods", "") if verb == "delete" => pods().iter().any(|p| name_of(p) == attrs.name),
        _ => true,
    };
    allowed.then(|| format!("Node: allowed for node {node:?}"))
}

fn bound_pods(store: &Store, node: &str, namespace: &str) -> Vec<Arc<Value>> {
    let rt = ResourceType::find("", "v1", "pods").expect("pods are served");
    store
        .list(&rt.store_resource(), Some(namespace), &Filter::default())
        .items
        .into_iter()
        .filter(|p| p["spec"]["nodeName"].as_str() == Some(node))
        .collect()
}

fn name_of(pod: &Value) -> &str {
    pod["metadata"]["name"].as_str().unwrap_or_default()
}

fn account_of(pod: &Value) -> &str {
    pod["spec"]["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// Whether `pod` uses the `resource` (secrets, configmaps, persistentvolumeclaims) `name`.
fn references(pod: &Value, resource: &str, name: &str) -> bool {
    let spec = &pod["spec"];
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut names: Vec<Value> = Vec::new();
    for volume in list(&spec["volumes"]) {
        match resource {
            "secrets" => names.push(volume["secret"]["secretName"].clone()),
            "configmaps" => names.push(volume["configMap"]["name"].clone()),
            _ => names.push(volume["persistentVolumeClaim"]["claimName"].clone()),
        }
        for source in list(&volume["projected"]["sources"]) {
            match resource {
                "secrets" => names.push(source["secret"]["name"].clone()),
                "configmaps" => names.push(source["configMap"]["name"].clone()),
                _ => {}
            }
        }
    }
    let (key_ref, env_from) = match resource {
        "secrets" => ("secretKeyRef", "secretRef"),
        "configmaps" => ("configMapKeyRef", "configMapRef"),
        _ => return names.iter().any(|n| n == name),
    };
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|field| list(&spec[*field]));
    for container in containers {
        for env in list(&container["env"]) {
            names.push(env["valueFrom"][key_ref]["name"].clone());
        }
        for from in list(&container["envFrom"]) {
            names.push(from[env_from]["name"].clone());
        }
    }
    if resource == "secrets" {
        names.extend(
            list(&spec["imagePullSecrets"])
                .iter()
                .map(|s| s["name"].clone()),
        );
    }
    names.iter().any(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::UserInfo;

    fn kubelet(node: &str) -> UserInfo {
        UserInfo::named(&format!("system:node:{node}"), &[NODES_GROUP])
    }

    fn ask(verb: &str, ns: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            user: kubelet("kind-worker"),
            verb: verb.into(),
            resource_request: true,
            namespace: ns.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    fn pod() -> Vec<Arc<Value>> {
        vec![Arc::new(json!({"metadata": {"name": "web"}, "spec": {
            "nodeName": "kind-worker", "serviceAccountName": "builder",
            "volumes": [{"name": "v", "secret": {"secretName": "tls"}},
                {"name": "p", "projected": {"sources": [{"configMap": {"name": "ca"}}]}}],
            "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "env"}}]}]}}))]
    }

    fn allowed(attrs: &Attributes) -> bool {
        decide("kind-worker", attrs, pod).is_some()
    }

    #[test]
    fn only_a_kubelet_is_a_node() {
        let mut attrs = ask("get", "", "", "nodes", "", "kind-worker");
        assert_eq!(node_of(&attrs), Some("kind-worker"));
        attrs.user = UserInfo::named("system:node:kind-worker", &[]);
        assert_eq!(node_of(&attrs), None, "the name without the group");
    }

    #[test]
    fn secrets_and_config_maps_of_its_pods_only_by_get() {
        assert!(allowed(&ask("get", "default", "", "secrets", "", "tls")));
        assert!(allowed(&ask("get", "default", "", "secrets", "", "env")));
        assert!(allowed(&ask("get", "default", "", "configmaps", "", "ca")));
        assert!(!allowed(&ask("get", "default", "", "secrets", "", "other")));
        assert!(!allowed(&ask("list", "default", "", "secrets", "", "")));
        assert!(!allowed(&ask(
            "get",
            "default",
            "",
            "configmaps",
            "",
            "tls"
        )));
    }

    #[test]
    fn tokens_only_for_the_accounts_of_its_pods() {
        let builder = ask(
            "create",
            "default",
            "",
            "serviceaccounts",
            "token",
            "builder",
        );
        assert!(allowed(&builder));
        let admin = ask("create", "default", "", "serviceaccounts", "token", "admin");
        assert!(!allowed(&admin));
    }

    #[test]
    fn its_own_node_lease_and_pods_only() {
        assert!(allowed(&ask(
            "patch",
            "",
            "",
            "nodes",
            "status",
            "kind-worker"
        )));
        assert!(!allowed(&ask(
            "patch",
            "",
            "",
            "nodes",
            "status",
            "kind-control-plane"
        )));
        assert!(!allowed(&ask(
            "delete",
            "",
            "",
            "nodes",
            "",
            "kind-control-plane"
        )));
        assert!(allowed(&ask(
            "get",
            "",
            "",
            "nodes",
            "",
            "kind-control-plane"
        )));
        let lease = |name: &str| {
            ask(
                "update",
                LEASE_NAMESPACE,
                "coordination.k8s.io",
                "leases",
                "",
                name,
            )
        };
        assert!(allowed(&lease("kind-worker")));
        assert!(!allowed(&lease("kind-worker2")));
        assert!(allowed(&ask(
            "patch", "default", "", "pods", "status", "web"
        )));
        assert!(!allowed(&ask(
            "patch", "default", "", "pods", "status", "db"
        )));
        assert!(!allowed(&ask("delete", "default", "", "pods", "", "db")));
        assert!(allowed(&ask("list", "", "", "pods", "", "")));
    }

    #[test]
    fn what_the_node_rules_do_not_name_is_left_to_rbac() {
        assert!(!allowed(&ask("list", "", "apps", "deployments", "", "")));
        assert!(!allowed(&ask("create", "default", "", "services", "", "")));
    }
}
