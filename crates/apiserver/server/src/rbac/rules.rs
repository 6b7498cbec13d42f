//! Upstream's RBAC matching (`pkg/apis/rbac/v1/evaluation_helpers.go`): which request a
//! rule covers and which user a binding's subject names. Pure.

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::auth::UserInfo;

pub const ALL: &str = "*";
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// What is asked: upstream's `authorizer.Attributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    /// Resource requests: where, which group, resource, subresource and name.
    pub resource_request: bool,
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Non-resource requests: the path.
    pub path: String,
}

// === impl Attributes ===

impl Attributes {
    /// `pods` or `pods/log`, as rules name it.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    if !has(&rule.verbs, &attrs.verb) {
        return false;
    }
    if attrs.resource_request {
        has_opt(&rule.api_groups, &attrs.api_group)
            && resource_matches(rule, &attrs.combined_resource(), &attrs.subresource)
            && resource_name_matches(rule, &attrs.name)
    } else {
        non_resource_url_matches(rule, &attrs.path)
    }
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|v| v == ALL || v == wanted)
}

fn has_opt(list: &Option<Vec<String>>, wanted: &str) -> bool {
    list.as_deref().is_some_and(|l| has(l, wanted))
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty()
                && r.strip_prefix("*/").is_some_and(|sub| sub == subresource))
    })
}

/// No names: every name; else the request must name one of them (so a list never matches).
fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().flatten().any(|url| {
        url == ALL
            || url == path
            || url
                .strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

/// Whether `subject` names `user`; a ServiceAccount subject without a namespace is in the
/// binding's.
pub fn subject_matches(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.username,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            user.username == crate::auth::token::subject(ns, &subject.name)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PolicyRule {
            verbs: own(verbs),
            api_groups: Some(own(groups)),
            resources: Some(own(resources)),
            resource_names: Some(own(names)),
            non_resource_urls: None,
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn ask(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            namespace: "default".into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn get_path(path: &str) -> Attributes {
        Attributes {
            verb: "get".into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn resource_rules_match_as_upstream() {
        let pods_read = rule(&["get", "list"], &[""], &["pods"], &[]);
        let star = rule(&["*"], &["*"], &["*"], &[]);
        let logs = rule(&["get"], &[""], &["pods/log"], &[]);
        let any_status = rule(&["get"], &[""], &["*/status"], &[]);
        let named = rule(&["get", "list"], &[""], &["configmaps"], &["app-config"]);
        let apps = rule(&["list"], &["apps"], &["deployments"], &[]);
        let table: &[(&PolicyRule, Attributes, bool)] = &[
            (&pods_read, ask("list", "", "pods", "", ""), true),
            (&pods_read, ask("get", "", "pods", "", "web"), true),
            (&pods_read, ask("delete", "", "pods", "", "web"), false),
            (&pods_read, ask("list", "", "services", "", ""), false),
            (&pods_read, ask("list", "apps", "pods", "", ""), false),
            (&pods_read, ask("get", "", "pods", "log", "web"), false),
            (
                &star,
                ask("deletecollection", "apps", "deployments", "scale", ""),
                true,
            ),
            (&logs, ask("get", "", "pods", "log", "web"), true),
            (&logs, ask("get", "", "pods", "", "web"), false),
            (&any_status, ask("get", "", "services", "status", "x"), true),
            (&any_status, ask("get", "", "services", "", "x"), false),
            (&named, ask("get", "", "configmaps", "", "app-config"), true),
            (&named, ask("get", "", "configmaps", "", "other"), false),
            (&named, ask("list", "", "configmaps", "", ""), false),
            (&apps, ask("list", "apps", "deployments", "", ""), true),
            (&apps, ask("list", "", "deployments", "", ""), false),
            (&pods_read, get_path("/api"), false),
        ];
        for (rule, attrs, want) in table {
            assert_eq!(
                rule_allows(attrs, rule),
                *want,
                "{attrs:?} against {rule:?}"
            );
        }
    }

    #[test]
    fn non_resource_rules_match_exact_paths_and_star_suffixes() {
        let discovery = url_rule(&["get"], &["/api", "/api/*", "/version"]);
        assert!(rule_allows(&get_path("/api"), &discovery));
        assert!(rule_allows(&get_path("/api/v1"), &discovery));
        assert!(rule_allows(&get_path("/version"), &discovery));
        assert!(!rule_allows(&get_path("/apis"), &discovery));
        assert!(!rule_allows(&get_path("/version/x"), &discovery));
        let post = Attributes {
            verb: "post".into(),
            ..get_path("/api")
        };
        assert!(!rule_allows(&post, &discovery));
        assert!(rule_allows(
            &get_path("/metrics"),
            &url_rule(&["*"], &["*"])
        ));
        assert!(!rule_allows(&ask("get", "", "pods", "", ""), &discovery));
    }

    #[test]
    fn subjects_name_users_groups_and_service_accounts() {
        let sa = UserInfo::service_account("team-a", "builder", "uid");
        let subject = |kind: &str, name: &str, ns: Option<&str>| Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(str::to_string),
            api_group: None,
        };
        assert!(subject_matches(
            &subject("ServiceAccount", "builder", None),
            &sa,
            "team-a"
        ));
        assert!(!subject_matches(
            &subject("ServiceAccount", "builder", None),
            &sa,
            "team-b"
        ));
        assert!(subject_matches(
            &subject("ServiceAccount", "builder", Some("team-a")),
            &sa,
            "team-b"
        ));
        assert!(subject_matches(
            &subject("Group", "system:serviceaccounts:team-a", None),
            &sa,
            ""
        ));
        assert!(subject_matches(
            &subject("Group", "system:authenticated", None),
            &sa,
            ""
        ));
        assert!(subject_matches(
            &subject("User", "system:serviceaccount:team-a:builder", None),
            &sa,
            ""
        ));
        assert!(!subject_matches(&subject("User", "builder", None), &sa, ""));
    }
}
