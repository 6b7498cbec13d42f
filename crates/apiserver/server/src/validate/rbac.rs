//! rbac.authorization.k8s.io/v1 kinds, with kube-apiserver's `ValidateRole`,
//! `ValidateRoleBinding` wording.

use serde_json::Value;

use super::{Errors, object_meta};

const GROUP: &str = "rbac.authorization.k8s.io";

pub fn role(obj: &Value, errs: &mut Errors) {
    rbac_meta(obj, true, errs);
    rules(obj, true, errs);
}

pub fn cluster_role(obj: &Value, errs: &mut Errors) {
    rbac_meta(obj, false, errs);
    rules(obj, false, errs);
}

pub fn role_binding(obj: &Value, errs: &mut Errors) {
    rbac_meta(obj, true, errs);
    binding(obj, &["Role", "ClusterRole"], true, errs);
}

pub fn cluster_role_binding(obj: &Value, errs: &mut Errors) {
    rbac_meta(obj, false, errs);
    binding(obj, &["ClusterRole"], false, errs);
}

/// RBAC names are path segments, not DNS names (upstream's `ValidateRBACName`), so that
/// `system:coredns` is a valid ClusterRole; the rest of the metadata as every object's.
fn rbac_meta(obj: &Value, namespaced: bool, errs: &mut Errors) {
    let mut meta = Errors::default();
    object_meta(obj, namespaced, false, &mut meta);
    meta.0
        .retain(|c| !(c.field == "metadata.name" && c.reason == "FieldValueInvalid"));
    errs.0.extend(meta.0);
    let name = &obj["metadata"]["name"];
    let text = name.as_str().unwrap_or_default();
    let problem = match text {
        "." => Some("may not be '.'"),
        ".." => Some("may not be '..'"),
        _ if text.contains('/') => Some("may not contain '/'"),
        _ if text.contains('%') => Some("may not contain '%'"),
        _ => None,
    };
    if let Some(problem) = problem {
        errs.invalid("metadata.name", name, problem);
    }
}

/// The review kinds are answered, never stored: nothing to validate.
pub fn review(_obj: &Value, _errs: &mut Errors) {}

/// A binding's role cannot change (upstream: delete and recreate it).
pub fn binding_update(old: &Value, new: &Value, errs: &mut Errors) {
    if old["roleRef"] != new["roleRef"] {
        errs.invalid("roleRef", &new["roleRef"], "cannot change roleRef");
    }
}

fn rules(obj: &Value, namespaced: bool, errs: &mut Errors) {
    for (i, rule) in obj["rules"].as_array().into_iter().flatten().enumerate() {
        let at = |f: &str| format!("rules[{i}].{f}");
        let len = |f: &str| rule[f].as_array().map_or(0, Vec::len);
        if len("verbs") == 0 {
            errs.required_with(&at("verbs"), "verbs must contain at least one value");
        }
        if len("nonResourceURLs") > 0 {
            if namespaced {
                errs.invalid(
                    &at("nonResourceURLs"),
                    &rule["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                );
            }
            if len("apiGroups") > 0 || len("resources") > 0 || len("resourceNames") > 0 {
                errs.invalid(
                    &at("nonResourceURLs"),
                    &rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                );
            }
            continue;
        }
        if len("apiGroups") == 0 {
            errs.required_with(
                &at("apiGroups"),
                "resource rules must supply at least one api group",
            );
        }
        if len("resources") == 0 {
            errs.required_with(
                &at("resources"),
                "resource rules must supply at least one resource",
            );
        }
    }
}

fn binding(obj: &Value, kinds: &[&str], namespaced: bool, errs: &mut Errors) {
    let role_ref = &obj["roleRef"];
    if role_ref["apiGroup"] != GROUP {
        errs.not_supported("roleRef.apiGroup", &role_ref["apiGroup"], &[GROUP]);
    }
    match role_ref["kind"].as_str() {
        Some(k) if kinds.contains(&k) => {}
        _ => errs.not_supported("roleRef.kind", &role_ref["kind"], kinds),
    }
    if role_ref["name"].as_str().is_none_or(str::is_empty) {
        errs.required("roleRef.name");
    }
    for (i, s) in obj["subjects"].as_array().into_iter().flatten().enumerate() {
        let at = |f: &str| format!("subjects[{i}].{f}");
        if s["name"].as_str().is_none_or(str::is_empty) {
            errs.required(&at("name"));
        }
        match s["kind"].as_str() {
            Some("ServiceAccount") => {
                if s["apiGroup"].as_str().is_some_and(|g| !g.is_empty()) {
                    errs.not_supported(&at("apiGroup"), &s["apiGroup"], &[""]);
                }
                if !namespaced && s["namespace"].as_str().is_none_or(str::is_empty) {
                    errs.required(&at("namespace"));
                }
            }
            Some("User" | "Group") => {
                if s["apiGroup"] != GROUP {
                    errs.not_supported(&at("apiGroup"), &s["apiGroup"], &[GROUP]);
                }
            }
            _ => errs.not_supported(
                &at("kind"),
                &s["kind"],
                &["ServiceAccount", "User", "Group"],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(f: fn(&Value, &mut Errors), obj: Value) -> Vec<String> {
        let mut errs = Errors::default();
        f(&obj, &mut errs);
        errs.0
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn rules_need_verbs_groups_and_resources_or_urls_alone() {
        let got = fields(
            role,
            json!({"metadata": {"name": "r", "namespace": "d"}, "rules": [
                {"resources": ["pods"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}),
        );
        assert_eq!(
            got,
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
            ]
        );
        let ok = json!({"metadata": {"name": "system:coredns"}, "rules": [
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        assert!(fields(cluster_role, ok).is_empty());
        let slash = json!({"metadata": {"name": "a/b"}});
        assert_eq!(
            fields(cluster_role, slash),
            ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
        );
    }

    #[test]
    fn bindings_name_a_role_of_an_allowed_kind_and_known_subjects() {
        let got = fields(
            cluster_role_binding,
            json!({"metadata": {"name": "b"},
                "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
        );
        assert_eq!(
            got,
            [
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "subjects[0].namespace: Required value",
            ]
        );
        let ok = json!({"metadata": {"name": "b", "namespace": "d"},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"},
                {"kind": "Group", "name": "devs", "apiGroup": GROUP}]});
        assert!(fields(role_binding, ok).is_empty());
    }
}
