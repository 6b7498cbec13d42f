//! Keeps the served kinds in step with the stored CRDs, as upstream's naming, establishing
//! and finalizing controllers do — but synchronously after each CRD write, so a CRD is in
//! discovery the moment its create returns (kubectl applies a CRD and its objects in one go).

use podnet_apiserver_store::{DeleteOptions, Filter, Resource, Store, StoreError, meta};
use serde_json::{Value, json};

use super::definition::CLEANUP_FINALIZER;
use super::kinds;
use crate::App;
use crate::resources::{RESOURCES, ResourceType};

fn definitions() -> &'static ResourceType {
    ResourceType::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("CRDs are served")
}

/// Brings every CRD's status, its objects (once it is deleted) and the registry up to date.
pub fn reconcile(app: &App) {
    let crds = definitions().store_resource();
    let list = app.store.list(&crds, None, &Filter::default());
    let mut established = Vec::new();
    for (i, crd) in list.items.iter().enumerate() {
        let name = meta::name(crd).to_string();
        let key = crds.key("", &name);
        if meta::is_terminating(crd) {
            if let Err(error) = finalize(&app.store, crd, &key) {
                tracing::warn!(crd = %name, %error, "removing a deleted CRD's objects");
            }
            continue;
        }
        // Names already accepted stay with their CRD; among new ones, the first listed wins.
        let rivals: Vec<&Value> = list
            .items
            .iter()
            .enumerate()
            .filter(|(j, other)| {
                *j != i
                    && (names_accepted(other)
                        || (*j < i && !names_accepted(crd) && !meta::is_terminating(other)))
            })
            .map(|(_, other)| other.as_ref())
            .collect();
        let status = desired_status(crd, &rivals);
        let accepted = status["conditions"][1]["status"] == "True";
        if status != crd["status"] {
            let mut next = (**crd).clone();
            next["status"] = status;
            if let Err(error) = app.store.update(&key, next) {
                tracing::warn!(crd = %name, %error, "writing a CRD's status");
            }
        }
        if accepted {
            established.extend(kinds::served(crd));
        }
    }
    app.registry.replace(established);
}

fn names_accepted(crd: &Value) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True")
}

/// NamesAccepted and Established as upstream words them; a plural (or kind) already served
/// in the group — by a built-in or one of `rivals` — is a NameConflict.
fn desired_status(crd: &Value, rivals: &[&Value]) -> Value {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or("");
    let names = &spec["names"];
    let conflict = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| (r.plural, r.kind))
        .chain(
            rivals
                .iter()
                .filter(|o| o["spec"]["group"] == group)
                .map(|o| {
                    let n = &o["spec"]["names"];
                    (
                        n["plural"].as_str().unwrap_or(""),
                        n["kind"].as_str().unwrap_or(""),
                    )
                }),
        )
        .find_map(|(plural, kind)| {
            if names["plural"] == plural {
                Some(format!("\"{plural}\" is already in use"))
            } else if names["kind"] == kind {
                Some(format!("\"{kind}\" is already in use"))
            } else {
                None
            }
        });
    let old = &crd["status"]["conditions"];
    let condition = |kind: &str, ok: bool, reason: &str, message: &str| {
        let status = if ok { "True" } else { "False" };
        let since = old
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind && c["status"] == status)
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or_else(|| meta::timestamp(meta::now()).into());
        json!({"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since})
    };
    let (names_accepted, established, accepted_names) = match &conflict {
        None => (
            condition("NamesAccepted", true, "NoConflicts", "no conflicts found"),
            condition(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
            ),
            names.clone(),
        ),
        Some(message) => (
            condition("NamesAccepted", false, "NameConflict", message),
            condition(
                "Established",
                false,
                "NotAccepted",
                "not all names are accepted",
            ),
            json!({"plural": "", "kind": ""}),
        ),
    };
    let mut stored: Vec<Value> = crd["status"]["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["storage"] == true && !stored.contains(&v["name"]) {
            stored.push(v["name"].clone());
        }
    }
    json!({"conditions": [names_accepted, established], "acceptedNames": accepted_names,
        "storedVersions": stored})
}

/// A deleted CRD: its objects are removed (in every namespace), then its cleanup finalizer,
/// which removes the CRD.
fn finalize(
    store: &Store,
    crd: &Value,
    key: &podnet_apiserver_store::ObjectKey,
) -> Result<(), StoreError> {
    let spec = &crd["spec"];
    let objects = Resource::new(
        spec["group"].as_str().unwrap_or(""),
        spec["names"]["plural"].as_str().unwrap_or(""),
    );
    let all = store.list(&objects, None, &Filter::default());
    tracing::info!(
        crd = meta::name(crd),
        objects = all.items.len(),
        "deleting a CRD's objects"
    );
    for obj in all.items {
        let ns = meta::str_field(&obj, "namespace").unwrap_or("");
        let without_finalizers = {
            let mut o = (*obj).clone();
            meta::metadata_mut(&mut o).remove("finalizers");
            o
        };
        let k = objects.key(ns, meta::name(&obj));
        if meta::finalizers(&obj) > 0 {
            // Upstream waits for other controllers to drop their finalizers; this runs once,
            // inside the CRD's delete, so it drops them itself rather than leave the CRD
            // Terminating with nothing left to retry it.
            store.update(&k, without_finalizers)?;
        }
        match store.delete(&k, &DeleteOptions::default()) {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let mut next = crd.clone();
    if let Some(list) = meta::metadata_mut(&mut next)
        .get_mut("finalizers")
        .and_then(Value::as_array_mut)
    {
        list.retain(|f| f != CLEANUP_FINALIZER);
    }
    match store.update(key, next) {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
