//! Who each of the lab's users and components is to the API server, and what RBAC lets it
//! do — as in a kubeadm/kind cluster, each with its own client certificate:
//!
//! | identity | user (CN) | group (O) | rights |
//! |---|---|---|---|
//! | the admin (kubeconfigs) | `kubernetes-admin` | `system:masters` | everything |
//! | the controllers, the node side of the daemon | `system:kube-controller-manager` | — | `podnet:lab-controller-manager` |
//! | a node's kubelet | `system:node:NAME` | `system:nodes` | the Node authorizer |
//! | a node's agent | `system:serviceaccount:kube-system:podnet-agent` | — | `podnet:agent` |
//! | the cluster DNS | `system:serviceaccount:kube-system:coredns` | — | `system:coredns` (its manifest) |
//!
//! The agent and DNS identities are named as ServiceAccounts so that RBAC subjects of kind
//! ServiceAccount (the DNS manifest's own binding) name them.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::PostParams;
use podnet_lab_controllers::CancellationToken;
use serde_json::{Value, json};

/// A user of the API: the certificate's CommonName and Organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub group: Option<&'static str>,
}

const RBAC: &str = "rbac.authorization.k8s.io";
const CONTROLLERS_USER: &str = "system:kube-controller-manager";
const CONTROLLERS_ROLE: &str = "podnet:lab-controller-manager";
const AGENT_ROLE: &str = "podnet:agent";
const AGENT_ACCOUNT: &str = "podnet-agent";
const DNS_ACCOUNT: &str = "coredns";
const SYSTEM_NAMESPACE: &str = "kube-system";

// === impl Identity ===

impl Identity {
    /// kind's admin user, a superuser.
    pub fn admin() -> Self {
        Identity {
            user: "kubernetes-admin".into(),
            group: Some("system:masters"),
        }
    }

    pub fn controller_manager() -> Self {
        Identity {
            user: CONTROLLERS_USER.into(),
            group: None,
        }
    }

    pub fn kubelet(node: &str) -> Self {
        Identity {
            user: format!("system:node:{node}"),
            group: Some("system:nodes"),
        }
    }

    pub fn agent() -> Self {
        Self::service_account(AGENT_ACCOUNT)
    }

    pub fn dns() -> Self {
        Self::service_account(DNS_ACCOUNT)
    }

    fn service_account(name: &str) -> Self {
        Identity {
            user: format!("system:serviceaccount:{SYSTEM_NAMESPACE}:{name}"),
            group: None,
        }
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// The lab's controllers do what kube-controller-manager's controllers do together
/// (the namespace and garbage collectors alone touch every kind): every verb on every
/// resource but the RBAC escalation verbs (`bind`, `escalate`, `impersonate`).
fn controllers_role() -> Value {
    let verbs = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    json!({"metadata": {"name": CONTROLLERS_ROLE},
        "rules": [rule(&["*"], &["*"], &verbs)]})
}

/// What `podnet agent` reads and writes: kube-proxy's `system:node-proxier` rules (Services,
/// EndpointSlices, Endpoints, Nodes, Events), and for the policy and load-balancer parts
/// NetworkPolicies and ClusterNetworkPolicies, the Pods and Namespaces they select, and
/// Leases.
fn agent_role() -> Value {
    const READ: &[&str] = &["get", "list", "watch"];
    json!({"metadata": {"name": AGENT_ROLE},
    "rules": [
        rule(&[""], &["endpoints", "services", "nodes", "pods", "namespaces"], READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(&["", "events.k8s.io"], &["events"], &["create", "patch", "update"]),
        rule(&["networking.k8s.io"], &["networkpolicies"], READ),
        rule(&["policy.networking.k8s.io"], &["clusternetworkpolicies"], READ),
        rule(&["coordination.k8s.io"], &["leases"],
            &["get", "list", "watch", "create", "update", "patch"]),
    ]})
}

fn binding(role: &str, subject: Value) -> Value {
    json!({"metadata": {"name": role},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [subject]})
}

/// The ClusterRoles and bindings of the lab's components.
fn objects() -> (Vec<Value>, Vec<Value>) {
    let roles = vec![controllers_role(), agent_role()];
    let bindings = vec![
        binding(
            CONTROLLERS_ROLE,
            json!({"kind": "User", "apiGroup": RBAC, "name": CONTROLLERS_USER}),
        ),
        binding(
            AGENT_ROLE,
            json!({"kind": "ServiceAccount", "name": AGENT_ACCOUNT,
                "namespace": SYSTEM_NAMESPACE}),
        ),
    ];
    (roles, bindings)
}

/// Creates the components' roles and bindings through `admin` (those that exist are left
/// as they are, so an admin's changes stay), retrying until the API answers or `stop`.
pub async fn grant(admin: kube::Client, stop: CancellationToken) {
    let (roles, bindings) = objects();
    let roles_api: kube::Api<ClusterRole> = kube::Api::all(admin.clone());
    let bindings_api: kube::Api<ClusterRoleBinding> = kube::Api::all(admin);
    for role in roles {
        let role: ClusterRole = serde_json::from_value(role).expect("a ClusterRole");
        create(&roles_api, &role, &stop).await;
    }
    for binding in bindings {
        let binding: ClusterRoleBinding = serde_json::from_value(binding).expect("a binding");
        create(&bindings_api, &binding, &stop).await;
    }
}

async fn create<K>(api: &kube::Api<K>, object: &K, stop: &CancellationToken)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    loop {
        match api.create(&PostParams::default(), object).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.code == 409 => return,
            Err(error) => tracing::debug!(%error, "granting the components' rights"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_and_bindings_are_valid_rbac_objects() {
        let (roles, bindings) = objects();
        for role in roles {
            serde_json::from_value::<ClusterRole>(role).unwrap();
        }
        for binding in bindings {
            let b: ClusterRoleBinding = serde_json::from_value(binding).unwrap();
            assert_eq!(b.role_ref.name, b.metadata.name.unwrap());
        }
    }

    #[test]
    fn kubelets_are_nodes_and_components_accounts() {
        assert_eq!(
            Identity::kubelet("kind-worker").user,
            "system:node:kind-worker"
        );
        assert_eq!(Identity::kubelet("kind-worker").group, Some("system:nodes"));
        assert_eq!(
            Identity::dns().user,
            "system:serviceaccount:kube-system:coredns"
        );
    }
}
