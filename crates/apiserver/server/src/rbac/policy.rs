//! The RBAC authorizer over a snapshot of the roles and bindings: a request is allowed when
//! a binding naming the user grants a role with a rule covering it. Aggregated ClusterRoles
//! take the rules of every ClusterRole their selectors match, as upstream's aggregation
//! controller writes them. Pure, given the objects.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
use podnet_apiserver_store::{Resource, Store};
use serde::de::DeserializeOwned;

use super::rules::{Attributes, GROUP, rule_allows, subject_matches};
use crate::auth::UserInfo;

/// An answer, with upstream's reason when allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny,
}

#[derive(Default)]
pub struct Policy {
    pub cluster_roles: Vec<ClusterRole>,
    pub roles: Vec<Role>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
}

// === impl Policy ===

impl Policy {
    /// The roles and bindings stored now.
    pub fn load(store: &Store) -> Self {
        Policy {
            cluster_roles: all(store, "clusterroles"),
            roles: all(store, "roles"),
            cluster_role_bindings: all(store, "clusterrolebindings"),
            role_bindings: all(store, "rolebindings"),
        }
    }

    pub fn authorize(&self, attrs: &Attributes) -> Decision {
        let mut found = None;
        self.visit(&attrs.user, &attrs.namespace, |binding, rules| {
            if rules.iter().any(|r| rule_allows(attrs, r)) {
                found = Some(binding);
                return true;
            }
            false
        });
        match found {
            Some(Granted {
                binding,
                role_ref,
                subject,
                namespace,
            }) => {
                let (kind, name) = match namespace.is_empty() {
                    true => ("ClusterRoleBinding", binding),
                    false => ("RoleBinding", format!("{binding}/{namespace}")),
                };
                Decision::Allow(format!(
                    "RBAC: allowed by {kind} {name:?} of {} {:?} to {}",
                    role_ref.kind,
                    role_ref.name,
                    describe(&subject, &namespace)
                ))
            }
            None => Decision::Deny,
        }
    }

    /// Every rule granted to `user` cluster-wide and, when given, in `namespace`
    /// (SelfSubjectRulesReview).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        let mut out: Vec<PolicyRule> = Vec::new();
        self.visit(user, namespace, |_, rules| {
            for rule in rules {
                if !out.contains(&rule) {
                    out.push(rule);
                }
            }
            false
        });
        out
    }

    /// Calls `each` with every binding that names `user` (cluster-wide first, then those in
    /// `namespace`) and its role's rules, until it returns true.
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        mut each: impl FnMut(Granted, Vec<PolicyRule>) -> bool,
    ) {
        for b in &self.cluster_role_bindings {
            let Some(subject) = first_match(&b.subjects, user, "") else {
                continue;
            };
            if b.role_ref.kind != "ClusterRole" || b.role_ref.api_group.as_deref() != Some(GROUP) {
                continue;
            }
            let granted = Granted {
                binding: b.metadata.name.clone().unwrap_or_default(),
                role_ref: b.role_ref.clone(),
                subject: subject.clone(),
                namespace: String::new(),
            };
            if each(granted, self.cluster_role_rules(&b.role_ref.name)) {
                return;
            }
        }
        if namespace.is_empty() {
            return;
        }
        for b in &self.role_bindings {
            if b.metadata.namespace.as_deref() != Some(namespace) {
                continue;
            }
            let Some(subject) = first_match(&b.subjects, user, namespace) else {
                continue;
            };
            let rules = match b.role_ref.kind.as_str() {
                "ClusterRole" => self.cluster_role_rules(&b.role_ref.name),
                "Role" => self.role_rules(namespace, &b.role_ref.name),
                _ => continue,
            };
            let granted = Granted {
                binding: b.metadata.name.clone().unwrap_or_default(),
                role_ref: b.role_ref.clone(),
                subject: subject.clone(),
                namespace: namespace.into(),
            };
            if each(granted, rules) {
                return;
            }
        }
    }

    pub(super) fn cluster_role_rules(&self, name: &str) -> Vec<PolicyRule> {
        let Some(role) = self
            .cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
        else {
            return Vec::new();
        };
        let Some(aggregation) = &role.aggregation_rule else {
            return role.rules.clone().unwrap_or_default();
        };
        let selectors = aggregation.cluster_role_selectors.as_deref().unwrap_or(&[]);
        let mut rules: Vec<PolicyRule> = Vec::new();
        for other in &self.cluster_roles {
            if other.metadata.name.as_deref() == Some(name) || other.aggregation_rule.is_some() {
                continue;
            }
            let labels = serde_json::to_value(&other.metadata.labels).unwrap_or_default();
            let selected = selectors.iter().any(|s| {
                let selector = serde_json::to_value(s).unwrap_or_default();
                crate::validate::selector_matches(&selector, &labels)
            });
            for rule in other.rules.iter().flatten().filter(|_| selected) {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
        rules
    }

    fn role_rules(&self, namespace: &str, name: &str) -> Vec<PolicyRule> {
        self.roles
            .iter()
            .find(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.name.as_deref() == Some(name)
            })
            .and_then(|r| r.rules.clone())
            .unwrap_or_default()
    }
}

/// Which binding granted a request, for the reason.
struct Granted {
    binding: String,
    role_ref: RoleRef,
    subject: Subject,
    namespace: String,
}

fn first_match<'a>(
    subjects: &'a Option<Vec<Subject>>,
    user: &UserInfo,
    namespace: &str,
) -> Option<&'a Subject> {
    subjects
        .iter()
        .flatten()
        .find(|s| subject_matches(s, user, namespace))
}

/// `User "alice"`, `Group "system:masters"`, `ServiceAccount "default/team-a"`.
fn describe(subject: &Subject, binding_namespace: &str) -> String {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            format!("ServiceAccount \"{}/{ns}\"", subject.name)
        }
        kind => format!("{kind} {:?}", subject.name),
    }
}

fn all<T: DeserializeOwned>(store: &Store, plural: &str) -> Vec<T> {
    let list = store.list(&Resource::new(GROUP, plural), None, &Default::default());
    list.items
        .iter()
        .filter_map(|obj| serde_json::from_value((**obj).clone()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn from<T: DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            cluster_roles: vec![
                from(json!({"metadata": {"name": "view"}, "aggregationRule": {
                    "clusterRoleSelectors": [{"matchLabels": {"aggregate-to-view": "true"}}]}})),
                from(json!({"metadata": {"name": "read-services",
                    "labels": {"aggregate-to-view": "true"}},
                    "rules": [{"apiGroups": [""], "resources": ["services"],
                        "verbs": ["get", "list", "watch"]}]})),
                from(json!({"metadata": {"name": "nodes-reader"},
                    "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]})),
            ],
            roles: vec![from(
                json!({"metadata": {"name": "cm", "namespace": "team-a"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}),
            )],
            cluster_role_bindings: vec![from(json!({"metadata": {"name": "ops-nodes"},
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "nodes-reader"},
                "subjects": [{"kind": "Group", "name": "ops", "apiGroup": GROUP}]}))],
            role_bindings: vec![
                from(
                    json!({"metadata": {"name": "sa-view", "namespace": "team-a"},
                    "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
                    "subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
                ),
                from(json!({"metadata": {"name": "sa-cm", "namespace": "team-a"},
                    "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "cm"},
                    "subjects": [{"kind": "ServiceAccount", "name": "default",
                        "namespace": "team-a"}]})),
            ],
        }
    }

    fn ask(user: &UserInfo, verb: &str, ns: &str, resource: &str) -> Attributes {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            namespace: ns.into(),
            resource: resource.into(),
            ..Default::default()
        }
    }

    #[test]
    fn bindings_grant_their_roles_rules_only_where_they_are() {
        let p = policy();
        let sa = UserInfo::service_account("team-a", "default", "u");
        let other_sa = UserInfo::service_account("team-b", "default", "u");
        let ops = UserInfo::named("alice", &["ops"]);
        assert_eq!(
            p.authorize(&ask(&sa, "list", "team-a", "services")),
            Decision::Allow(
                "RBAC: allowed by RoleBinding \"sa-view/team-a\" of ClusterRole \"view\" to \
                 ServiceAccount \"default/team-a\""
                    .into()
            )
        );
        assert_eq!(
            p.authorize(&ask(&sa, "delete", "team-a", "services")),
            Decision::Deny
        );
        assert_eq!(
            p.authorize(&ask(&sa, "list", "team-b", "services")),
            Decision::Deny
        );
        assert_eq!(
            p.authorize(&ask(&sa, "list", "", "services")),
            Decision::Deny
        );
        assert!(matches!(
            p.authorize(&ask(&sa, "delete", "team-a", "configmaps")),
            Decision::Allow(_)
        ));
        assert_eq!(
            p.authorize(&ask(&other_sa, "list", "team-a", "services")),
            Decision::Deny
        );
        assert_eq!(
            p.authorize(&ask(&ops, "list", "", "nodes")),
            Decision::Allow(
                "RBAC: allowed by ClusterRoleBinding \"ops-nodes\" of ClusterRole \
                 \"nodes-reader\" to Group \"ops\""
                    .into()
            )
        );
        assert_eq!(p.authorize(&ask(&ops, "get", "", "nodes")), Decision::Deny);
    }

    #[test]
    fn rules_for_a_user_are_the_union_of_its_bindings() {
        let p = policy();
        let sa = UserInfo::service_account("team-a", "default", "u");
        let rules = p.rules_for(&sa, "team-a");
        let resources: Vec<String> = rules
            .iter()
            .flat_map(|r| r.resources.clone().unwrap())
            .collect();
        assert_eq!(resources, ["services", "configmaps"]);
        assert!(p.rules_for(&sa, "team-b").is_empty());
    }
}
