//! Namespace deletion as upstream: a DELETE marks the namespace (`deletionTimestamp`,
//! `status.phase: Terminating`) and it stays, refusing new content, while `spec.finalizers`
//! holds it. The namespace controller empties it and then removes its `kubernetes` finalizer
//! through `PUT namespaces/NAME/finalize`; once `spec.finalizers` and `metadata.finalizers`
//! are both empty the store removes it.

use podnet_apiserver_store::{ObjectKey, Resource, meta};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Reply, Req, Target};
use crate::validate::Errors;
use crate::{App, crud};

/// The namespaces a cluster cannot work without.
const UNDELETABLE: &[&str] = &["default", "kube-system", "kube-public"];

/// Upstream's word for deleting a namespace that is already being emptied.
const BEING_EMPTIED: &str = "The system is ensuring all content is removed from this namespace.  \
     Upon completion, this namespace will automatically be purged by the system.";

fn spec_finalizers(ns: &Value) -> &[Value] {
    ns["spec"]["finalizers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The store's `held` hook: a namespace stays while its `spec.finalizers` are not empty.
pub fn held(key: &ObjectKey, obj: &Value) -> bool {
    key.resource == Resource::new("", "namespaces") && !spec_finalizers(obj).is_empty()
}

/// Refuses deleting a system namespace (403) or deleting again one that is being emptied
/// (409, as upstream).
pub fn check_delete(ns: &Value) -> Result<(), ApiError> {
    let name = meta::name(ns);
    if UNDELETABLE.contains(&name) {
        return Err(ApiError::Forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )));
    }
    if meta::is_terminating(ns) && !spec_finalizers(ns).is_empty() {
        return Err(ApiError::Conflict {
            qualified: "namespaces".into(),
            name: name.into(),
            message: BEING_EMPTIED.into(),
        });
    }
    Ok(())
}

/// Applied with the `deletionTimestamp`, in the same write.
pub fn mark_terminating(ns: &mut Value) {
    if !ns["status"].is_object() {
        ns["status"] = json!({});
    }
    ns["status"]["phase"] = json!("Terminating");
}

/// `PUT namespaces/NAME/finalize`: only `spec.finalizers` changes (the body's
/// `resourceVersion` is a precondition). Emptying them removes a terminating namespace.
pub fn finalize(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let body = req.object()?;
    let name = t.name.as_deref().unwrap_or("");
    if meta::name(&body) != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta::name(&body)
        )));
    }
    let finalizers = body["spec"]["finalizers"].clone();
    let mut errs = Errors::default();
    check_finalizers(&finalizers, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::invalid(t.rt, name, errs.0));
    }
    let stored = crud::store_update(app, t, crud::is_dry_run(req), |old| {
        let mut next = (**old).clone();
        next["spec"]["finalizers"] = match &finalizers {
            Value::Null => json!([]),
            list => list.clone(),
        };
        match body["metadata"].get("resourceVersion") {
            Some(rv) => next["metadata"]["resourceVersion"] = rv.clone(),
            None => {
                meta::metadata_mut(&mut next).remove("resourceVersion");
            }
        }
        Ok(next)
    })?;
    Ok(Reply::ok(stored))
}

/// Each finalizer is the standard `kubernetes` or a domain-qualified name.
fn check_finalizers(finalizers: &Value, errs: &mut Errors) {
    let list = match finalizers {
        Value::Null => return,
        Value::Array(list) => list,
        other => {
            errs.invalid(
                "spec.finalizers",
                other,
                "must be a list of finalizer names",
            );
            return;
        }
    };
    for (i, f) in list.iter().enumerate() {
        let ok = f
            .as_str()
            .is_some_and(|s| s == "kubernetes" || s.split_once('/').is_some_and(qualified));
        if !ok {
            errs.invalid(
                &format!("spec.finalizers[{i}]"),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
    }
}

fn qualified((prefix, name): (&str, &str)) -> bool {
    crate::validate::is_dns1123_subdomain(prefix) && !name.is_empty() && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> Resource {
        Resource::new("", "namespaces")
    }

    #[test]
    fn a_namespace_is_held_by_its_spec_finalizers_only() {
        let key = namespaces().key("", "team-a");
        assert!(held(&key, &json!({"spec": {"finalizers": ["kubernetes"]}})));
        assert!(!held(&key, &json!({"spec": {"finalizers": []}})));
        assert!(!held(&key, &json!({"spec": {}})));
        let pod = Resource::new("", "pods").key("team-a", "p");
        assert!(!held(
            &pod,
            &json!({"spec": {"finalizers": ["kubernetes"]}})
        ));
    }

    #[test]
    fn deleting_a_system_or_an_emptying_namespace_is_refused() {
        let system = json!({"metadata": {"name": "kube-system"}});
        assert!(matches!(check_delete(&system), Err(ApiError::Forbidden(_))));
        let emptying = json!({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}});
        let err = check_delete(&emptying).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Operation cannot be fulfilled on namespaces \"x\": The system is ensuring all \
             content is removed from this namespace.  Upon completion, this namespace will \
             automatically be purged by the system."
        );
        assert!(check_delete(&json!({"metadata": {"name": "x"}})).is_ok());
    }

    #[test]
    fn finalizer_names_are_standard_or_qualified() {
        let mut errs = Errors::default();
        check_finalizers(&json!(["kubernetes", "example.com/cleanup"]), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        check_finalizers(&json!(["cleanup", 3]), &mut errs);
        let fields: Vec<&str> = errs.0.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["spec.finalizers[0]", "spec.finalizers[1]"]);
    }
}
