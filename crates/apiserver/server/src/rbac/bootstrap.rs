//! The ClusterRoles and ClusterRoleBindings kube-apiserver creates at start
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`) that a lab's users meet: the
//! superuser, the user-facing admin/edit/view (aggregated, as upstream), discovery, the
//! basic user's self reviews and the public info. Missing ones are created at start;
//! existing ones are left as the cluster's admin made them.

use podnet_apiserver_store::{Store, StoreError};
use serde_json::{Value, json};

use super::rules::GROUP;
use crate::resources::ResourceType;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn urls(paths: &[&str], verbs: &[&str]) -> Value {
    json!({"nonResourceURLs": paths, "verbs": verbs})
}

fn meta(name: &str, extra_labels: Value) -> Value {
    let mut labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    for (k, v) in extra_labels.as_object().into_iter().flatten() {
        labels[k] = v.clone();
    }
    json!({"name": name, "labels": labels,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}})
}

fn cluster_role(name: &str, labels: Value, rules: Vec<Value>) -> Value {
    json!({"metadata": meta(name, labels), "rules": rules})
}

/// A user-facing role made of the `system:aggregate-to-NAME` roles.
fn aggregated(name: &str, labels: Value) -> Value {
    let key = format!("rbac.authorization.k8s.io/aggregate-to-{name}");
    json!({"metadata": meta(name, labels), "rules": [],
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {key: "true"}}]}})
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"kind": "Group", "apiGroup": GROUP, "name": g}))
        .collect();
    json!({"metadata": meta(name, json!({})),
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects})
}

pub fn cluster_roles() -> Vec<Value> {
    let to = |names: &[&str]| {
        let mut labels = json!({});
        for n in names {
            labels[format!("rbac.authorization.k8s.io/aggregate-to-{n}")] = json!("true");
        }
        labels
    };
    let agg = |n: &str| json!({format!("rbac.authorization.k8s.io/aggregate-to-{n}"): "true"});
    vec![
        cluster_role(
            "cluster-admin",
            json!({}),
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        aggregated("admin", json!({})),
        aggregated("edit", agg("admin")),
        aggregated("view", agg("edit")),
        cluster_role(
            "system:aggregate-to-admin",
            to(&["admin"]),
            vec![
                rule(
                    &["authorization.k8s.io"],
                    &["localsubjectaccessreviews"],
                    &["create"],
                ),
                rule(
                    &[GROUP],
                    &["rolebindings", "roles"],
                    &[WRITE, READ].concat(),
                ),
            ],
        ),
        cluster_role(
            "system:aggregate-to-edit",
            to(&["edit"]),
            vec![
                rule(
                    &[""],
                    &[
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                        "secrets",
                        "services/proxy",
                    ],
                    READ,
                ),
                rule(&[""], &["serviceaccounts"], &["impersonate"]),
                rule(
                    &[""],
                    &[
                        "pods",
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                    ],
                    WRITE,
                ),
                rule(&[""], &["pods/eviction"], &["create"]),
                rule(
                    &[""],
                    &[
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                    WRITE,
                ),
                rule(&[""], &["serviceaccounts/token"], &["create"]),
                rule(
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                    WRITE,
                ),
                rule(&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
                rule(&["batch"], &["cronjobs", "jobs"], WRITE),
                rule(
                    &["networking.k8s.io"],
                    &["ingresses", "networkpolicies"],
                    WRITE,
                ),
                rule(&["policy"], &["poddisruptionbudgets"], WRITE),
            ],
        ),
        cluster_role(
            "system:aggregate-to-view",
            to(&["view"]),
            vec![
                rule(
                    &[""],
                    &[
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                    READ,
                ),
                rule(
                    &[""],
                    &[
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                    READ,
                ),
                rule(&[""], &["namespaces"], READ),
                rule(&["discovery.k8s.io"], &["endpointslices"], READ),
                rule(
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                    READ,
                ),
                rule(
                    &["autoscaling"],
                    &[
                        "horizontalpodautoscalers",
                        "horizontalpodautoscalers/status",
                    ],
                    READ,
                ),
                rule(
                    &["batch"],
                    &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
                    READ,
                ),
                rule(
                    &["policy"],
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                    READ,
                ),
                rule(
                    &["networking.k8s.io"],
                    &["ingresses", "ingresses/status", "networkpolicies"],
                    READ,
                ),
            ],
        ),
        cluster_role(
            "system:discovery",
            json!({}),
            vec![urls(
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
                &["get"],
            )],
        ),
        cluster_role(
            "system:basic-user",
            json!({}),
            vec![
                rule(
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                    &["create"],
                ),
                rule(
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    &["create"],
                ),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            json!({}),
            vec![urls(
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
                &["get"],
            )],
        ),
        super::node::cluster_role(),
    ]
}

pub fn cluster_role_bindings() -> Vec<Value> {
    vec![
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

/// Creates the missing bootstrap roles and bindings; an aggregated role is stored with
/// the rules it aggregates, as upstream's controller writes them.
pub fn ensure(store: &Store) -> Result<(), StoreError> {
    let roles = cluster_roles();
    let mut resolved = roles.clone();
    let policy = super::Policy {
        cluster_roles: roles
            .iter()
            .filter_map(|r| serde_json::from_value(r.clone()).ok())
            .collect(),
        ..Default::default()
    };
    for role in &mut resolved {
        if role.get("aggregationRule").is_some() {
            let name = role["metadata"]["name"].as_str().unwrap_or_default();
            role["rules"] =
                serde_json::to_value(policy.cluster_role_rules(name)).expect("rules serialize");
        }
    }
    create_missing(store, "clusterroles", resolved)?;
    create_missing(store, "clusterrolebindings", cluster_role_bindings())
}

fn create_missing(store: &Store, plural: &str, objects: Vec<Value>) -> Result<(), StoreError> {
    let rt = ResourceType::find(GROUP, "v1", plural).expect("RBAC kinds are served");
    for mut obj in objects {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if store.get(&rt.store_resource().key("", &name)).is_ok() {
            continue;
        }
        crate::strategy::prepare_create(rt, &mut obj);
        match store.create(&rt.store_resource(), "", obj) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
