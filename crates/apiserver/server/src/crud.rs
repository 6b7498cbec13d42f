//! get, list, create, update, patch, delete and deletecollection.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use podnet_apiserver_store::{
    DeleteOptions, Deleted, FieldSelector, Filter, LabelSelector, ObjectKey, meta,
};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Reply, Req, Target};
use crate::patch::{self, PatchType};
use crate::resources::ResourceType;
use crate::services::ServiceWrite;
use crate::table::{self, IncludeObject};
use crate::validate::{Cause, Errors};
use crate::{App, crd, namespaces, pagination, strategy};

/// A stored object as the request's resource shows it: through the resource's view of
/// another storage (events.k8s.io Events), or as the served version of a custom kind.
fn shown(rt: &ResourceType, stored: &Arc<Value>) -> Value {
    crd::served_as(rt, &rt.present(stored))
}

fn key(t: &Target) -> ObjectKey {
    t.rt.store_resource().key(
        t.namespace.as_deref().unwrap_or(""),
        t.name.as_deref().unwrap_or(""),
    )
}

/// The request's selectors; a field the kind does not index is refused, as upstream.
pub fn filter(rt: &ResourceType, req: &Req) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Some(bad) = fields.fields().find(|f| !rt.supports_field(f)) {
        return Err(ApiError::BadRequest(format!(
            "field label not supported: {bad}"
        )));
    }
    let fields = fields.map_fields(|label| rt.field_path(label));
    Ok(Filter { labels, fields })
}

pub(crate) fn is_dry_run(req: &Req) -> bool {
    req.param("dryRun") == Some("All")
}

pub fn get(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let obj = app.store.get(&key(t))?;
    if t.subresource.as_deref() == Some("scale") {
        return Ok(Reply::ok(scale_view(t.rt, &obj)));
    }
    if table::wants_table(req.accept()) {
        let include = IncludeObject::parse(req.param("includeObject"));
        return Ok(Reply::ok(table::table(t.rt, &[&obj], None, include)));
    }
    Ok(Reply::ok(shown(t.rt, &obj)))
}

pub fn list(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let filter = filter(t.rt, req)?;
    let selective = !req.param("labelSelector").unwrap_or("").is_empty()
        || !req.param("fieldSelector").unwrap_or("").is_empty();
    let list = app
        .store
        .list(&t.rt.store_resource(), t.namespace.as_deref(), &filter);
    let page = pagination::page(
        list.items,
        list.resource_version,
        req.param("limit"),
        req.param("continue"),
        selective,
    )?;
    let shown_items: Vec<Value> = page.items.iter().map(|o| shown(t.rt, o)).collect();
    let items: Vec<&Value> = shown_items.iter().collect();
    let mut body = if table::wants_table(req.accept()) {
        let include = IncludeObject::parse(req.param("includeObject"));
        table::table(t.rt, &items, Some(page.resource_version), include)
    } else {
        json!({
            "kind": format!("{}List", t.rt.kind),
            "apiVersion": t.rt.api_version(),
            "metadata": {"resourceVersion": page.resource_version.to_string()},
            "items": items,
        })
    };
    if let Some(token) = page.continue_token {
        body["metadata"]["continue"] = token.into();
    }
    if let Some(remaining) = page.remaining {
        body["metadata"]["remainingItemCount"] = remaining.into();
    }
    Ok(Reply::ok(body))
}

/// Decodes into the typed form (400 when the shape is wrong) and finds unknown fields:
/// refused under `fieldValidation=Strict`, warned about otherwise (`Ignore`: silent).
fn check_shape(rt: &ResourceType, obj: &Value, req: &Req) -> Result<Vec<String>, ApiError> {
    let mut typed = (rt.decode)(obj).map_err(|e| {
        ApiError::BadRequest(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {e}",
            kind = rt.kind,
            v = rt.version
        ))
    })?;
    if let Some(custom) = rt.custom {
        crd::schema::prune(&custom.schema, &mut typed, true);
    }
    let mut unknown = Vec::new();
    unknown_fields(obj, &typed, "", &mut unknown);
    let messages: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match req.param("fieldValidation") {
        Some("Strict") if !messages.is_empty() => Err(ApiError::BadRequest(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
        Some("Ignore") => Ok(Vec::new()),
        _ => Ok(messages),
    }
}

fn unknown_fields(given: &Value, typed: &Value, at: &str, out: &mut Vec<String>) {
    match (given, typed) {
        (Value::Object(g), Value::Object(t)) => {
            for (k, v) in g {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match t.get(k) {
                    Some(tv) => unknown_fields(v, tv, &path, out),
                    None if v.is_null() => {}
                    None => out.push(path),
                }
            }
        }
        (Value::Array(g), Value::Array(t)) => {
            for (i, (gv, tv)) in g.iter().zip(t).enumerate() {
                unknown_fields(gv, tv, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn validate(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let mut errs = Errors::default();
    (rt.validate)(obj, &mut errs);
    if let Some(custom) = rt.custom {
        custom.check(obj, &mut errs);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt, meta::name(obj), errs.0))
    }
}

/// What an update may not change, for the kinds that freeze fields.
fn validate_update(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let mut errs = Errors::default();
    match (rt.group, rt.kind) {
        ("", "Secret") => crate::validate::secret_update(old, new, &mut errs),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            crate::validate::binding_update(old, new, &mut errs);
        }
        _ => {}
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt, meta::name(new), errs.0))
    }
}

/// The type fields of a body must name the kind of the path (or be absent).
fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if let Some(v) = obj["apiVersion"].as_str()
        && v != rt.api_version()
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    if let Some(k) = obj["kind"].as_str()
        && k != rt.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    Ok(())
}

/// The body's namespace must agree with the path's; creating into a missing or terminating
/// namespace is refused (the NamespaceLifecycle admission of the real server).
fn check_namespace(app: &App, t: &Target, obj: &mut Value, creating: bool) -> Result<(), ApiError> {
    let Some(ns) = &t.namespace else {
        return Ok(());
    };
    match obj["metadata"]["namespace"].as_str() {
        Some(given) if !given.is_empty() && given != ns => {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on \
                 the request"
                    .into(),
            ));
        }
        _ => {
            meta::metadata_mut(obj).insert("namespace".into(), ns.clone().into());
        }
    }
    if creating {
        let namespaces = namespace_type();
        let found = app
            .store
            .get(&namespaces.store_resource().key("", ns))
            .map_err(|_| ApiError::NotFound {
                qualified: "namespaces".into(),
                name: ns.clone(),
            })?;
        if meta::is_terminating(&found) {
            return Err(ApiError::Forbidden(format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} \
                 because it is being terminated",
                t.rt.qualified(),
                meta::name(obj)
            )));
        }
    }
    Ok(())
}

fn namespace_type() -> &'static ResourceType {
    ResourceType::find("", "v1", "namespaces").expect("namespaces are served")
}

pub fn create(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let mut obj = req.object()?;
    check_type(t.rt, &obj)?;
    check_namespace(app, t, &mut obj, true)?;
    let warnings = check_shape(t.rt, &obj, req)?;
    strategy::prepare_create(t.rt, &mut obj);
    validate(t.rt, &obj)?;
    let created = store_create(app, t, obj, is_dry_run(req))?;
    Ok(Reply {
        warnings,
        ..Reply::with(StatusCode::CREATED, created)
    })
}

/// Stores a new, validated object, a Service's ClusterIP and NodePorts allocated first (a dry
/// run only checks that they can be).
fn store_create(app: &App, t: &Target, mut obj: Value, dry: bool) -> Result<Value, ApiError> {
    let ns = t.namespace.as_deref().unwrap_or("");
    crate::admission::on_create(app, t.rt, ns, &mut obj)?;
    let mut write = ServiceWrite::begin(app, t.rt);
    write.admit(t.rt, None, &mut obj)?;
    if dry {
        return Ok(obj);
    }
    let created = app
        .store
        .create(&t.rt.store_resource(), ns, t.rt.to_stored(obj))?;
    write.commit();
    after_write(app, t.rt);
    Ok(shown(t.rt, &created))
}

/// Replaces the stored object with what `make` turns it into, validated (and, for a Service,
/// with its allocations adjusted); a dry run returns what would be stored.
pub(crate) fn store_update(
    app: &App,
    t: &Target,
    dry: bool,
    make: impl FnOnce(&Arc<Value>) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let k = key(t);
    let mut write = ServiceWrite::begin(app, t.rt);
    let mut preview = None;
    let stored = app.store.update_with(&k, |old| {
        let next = make(&t.rt.present(old))?;
        validate(t.rt, &next)?;
        validate_update(t.rt, &t.rt.present(old), &next)?;
        let mut next = t.rt.to_stored(next);
        write.admit(t.rt, Some(old), &mut next)?;
        if dry {
            preview = Some(next);
            return Ok::<_, ApiError>((**old).clone());
        }
        Ok(next)
    })?;
    if let Some(preview) = preview {
        return Ok((*t.rt.present(&Arc::new(preview))).clone());
    }
    // An update that drops a terminating object's last finalizer removes it.
    if meta::is_terminating(&stored) && app.store.get(&k).is_err() {
        write.release(&stored);
    }
    write.commit();
    after_write(app, t.rt);
    Ok(shown(t.rt, &stored))
}

/// Turns the old object and the client's new one into what is stored, per subresource.
fn prepare_write(t: &Target, old: &Value, mut new: Value) -> Result<Value, ApiError> {
    match t.subresource.as_deref() {
        Some("status") => Ok(strategy::prepare_status_update(old, &new)),
        Some("ephemeralcontainers") => crate::ephemeral::prepare_update(old, &new),
        Some("scale") => {
            let replicas = new["spec"]["replicas"].clone();
            let mut out = old.clone();
            match t.rt.custom.and_then(|c| c.scale.as_ref()) {
                Some(paths) => paths.set_replicas(&mut out, replicas),
                None => out["spec"]["replicas"] = replicas,
            }
            match new["metadata"]["resourceVersion"].as_str() {
                Some(rv) => out["metadata"]["resourceVersion"] = rv.into(),
                None => {
                    out["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("resourceVersion"));
                }
            }
            Ok(out)
        }
        _ => {
            if meta::name(&new) != meta::name(old) {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({}) does not match the name on the URL ({})",
                    meta::name(&new),
                    meta::name(old)
                )));
            }
            strategy::prepare_update(t.rt, old, &mut new);
            Ok(new)
        }
    }
}

fn write_reply(t: &Target, obj: &Value) -> Value {
    if t.subresource.as_deref() == Some("scale") {
        scale_view(t.rt, obj)
    } else {
        crd::served_as(t.rt, obj)
    }
}

pub fn update(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let mut new = req.object()?;
    let mut warnings = Vec::new();
    if t.subresource.as_deref() != Some("scale") {
        check_type(t.rt, &new)?;
        check_namespace(app, t, &mut new, false)?;
        warnings = check_shape(t.rt, &new, req)?;
    }
    let out = store_update(app, t, is_dry_run(req), |old| prepare_write(t, old, new))?;
    Ok(Reply {
        warnings,
        ..Reply::ok(write_reply(t, &out))
    })
}

pub fn patch(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let ct = req.header(header::CONTENT_TYPE);
    let kind = PatchType::from_content_type(ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
        ))
    })?;
    if kind == PatchType::Apply {
        return apply(app, t, req);
    }
    if kind == PatchType::Strategic && t.rt.custom.is_some() {
        // Custom resources have no patch strategies to merge by, as upstream.
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml (got {ct:?})"
        )));
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::BadRequest(format!("couldn't decode the patch: {e}")))?;
    let mut warnings = Vec::new();
    let out = store_update(app, t, is_dry_run(req), |old| {
        let mut view = if t.subresource.as_deref() == Some("scale") {
            scale_view(t.rt, old)
        } else {
            (**old).clone()
        };
        match kind {
            PatchType::Merge => patch::merge_patch(&mut view, &body),
            PatchType::Strategic => {
                patch::strategic_merge_patch(&mut view, &body).map_err(ApiError::BadRequest)?
            }
            PatchType::Json => patch::json_patch(&mut view, &body).map_err(ApiError::BadRequest)?,
            PatchType::Apply => unreachable!("handled above"),
        }
        if t.subresource.as_deref() != Some("scale") {
            check_type(t.rt, &view)?;
            warnings = check_shape(t.rt, &view, req)?;
        }
        prepare_write(t, old, view)
    })?;
    Ok(Reply {
        warnings,
        ..Reply::ok(write_reply(t, &out))
    })
}

/// Server-side apply: creates the object when it is missing.
fn apply(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let config: Value = serde_yaml_ng::from_slice(&req.body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    let manager = req
        .param("fieldManager")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("PATCH /apply requests require a fieldManager".into())
        })?;
    let force = req.flag("force");
    check_type(t.rt, &config)?;
    if let Some(name) = config["metadata"]["name"].as_str()
        && Some(name) != t.name.as_deref()
    {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            t.name.as_deref().unwrap_or("")
        )));
    }
    let warnings = check_shape(t.rt, &config, req)?;
    if let Some(duplicate) = patch::duplicate_entries(&config) {
        return Err(ApiError::BadRequest(format!(
            "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {duplicate}",
            t.namespace.as_deref().unwrap_or(""),
            t.name.as_deref().unwrap_or(""),
            t.rt.group,
            t.rt.version,
            t.rt.kind
        )));
    }
    let api_version = t.rt.api_version();
    let conflict = |conflicts: Vec<patch::apply::Conflict>| {
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|c| Cause {
                reason: "FieldManagerConflict",
                message: format!("conflict with {:?}", c.manager),
                field: c.field.clone(),
            })
            .collect();
        ApiError::Conflict {
            qualified: t.rt.qualified(),
            name: t.name.clone().unwrap_or_default(),
            message: format!(
                "Apply failed with {} conflict(s): {}",
                causes.len(),
                causes
                    .iter()
                    .map(|c| format!("{}: {}", c.message, c.field))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    };
    match app.store.get(&key(t)) {
        Err(podnet_apiserver_store::StoreError::NotFound { .. }) => {
            let mut obj =
                patch::apply(None, &config, manager, force, &api_version).map_err(conflict)?;
            meta::metadata_mut(&mut obj).insert("name".into(), t.name.clone().into());
            check_namespace(app, t, &mut obj, true)?;
            strategy::prepare_create(t.rt, &mut obj);
            validate(t.rt, &obj)?;
            let created = store_create(app, t, obj, is_dry_run(req))?;
            Ok(Reply {
                warnings,
                ..Reply::with(StatusCode::CREATED, created)
            })
        }
        Err(e) => Err(e.into()),
        Ok(_) => {
            let out = store_update(app, t, is_dry_run(req), |old| {
                let merged = patch::apply(Some(old), &config, manager, force, &api_version)
                    .map_err(conflict)?;
                prepare_write(t, old, merged)
            })?;
            Ok(Reply {
                warnings,
                ..Reply::ok(out)
            })
        }
    }
}

fn delete_options(req: &Req) -> Result<(Option<i64>, DeleteOptions), ApiError> {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        // JSON, or protobuf from client-go's typed clients.
        req.object()?
    };
    let grace = req
        .param("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or_else(|| body["gracePeriodSeconds"].as_i64());
    let pre = &body["preconditions"];
    let options = DeleteOptions {
        uid: pre["uid"].as_str().map(str::to_string),
        resource_version: pre["resourceVersion"].as_str().map(str::to_string),
        ..DeleteOptions::default()
    };
    Ok((grace, options))
}

pub fn delete(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let (grace, mut options) = delete_options(req)?;
    let k = key(t);
    let current = app.store.get(&k)?;
    if t.rt.kind == "Namespace" {
        namespaces::check_delete(&current)?;
        options.mark = Some(namespaces::mark_terminating);
    }
    options.grace_period_seconds = strategy::deletion_grace(t.rt, &current, grace);
    if is_dry_run(req) {
        return Ok(Reply::ok((*current).clone()));
    }
    let mut write = ServiceWrite::begin(app, t.rt);
    let obj = match app.store.delete(&k, &options)? {
        Deleted::Removed(o) => {
            write.release(&o);
            o
        }
        Deleted::Terminating(o) => o,
    };
    after_write(app, t.rt);
    Ok(Reply::ok(shown(t.rt, &obj)))
}

pub fn delete_collection(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    if !t.rt.verbs().contains(&"deletecollection") {
        return Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource: {}",
            req.method
        )));
    }
    let filter = filter(t.rt, req)?;
    let (grace, _) = delete_options(req)?;
    let list = app
        .store
        .list(&t.rt.store_resource(), t.namespace.as_deref(), &filter);
    let mut deleted = Vec::new();
    let mut write = ServiceWrite::begin(app, t.rt);
    for obj in list.items {
        let ns = meta::str_field(&obj, "namespace").unwrap_or("");
        let k = t.rt.store_resource().key(ns, meta::name(&obj));
        let options = DeleteOptions {
            grace_period_seconds: strategy::deletion_grace(t.rt, &obj, grace),
            ..Default::default()
        };
        if is_dry_run(req) {
            deleted.push((*t.rt.present(&obj)).clone());
            continue;
        }
        match app.store.delete(&k, &options) {
            Ok(Deleted::Removed(o)) => {
                write.release(&o);
                deleted.push((*t.rt.present(&o)).clone());
            }
            Ok(Deleted::Terminating(o)) => deleted.push((*t.rt.present(&o)).clone()),
            Err(podnet_apiserver_store::StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    after_write(app, t.rt);
    Ok(Reply::ok(json!({
        "kind": format!("{}List", t.rt.kind),
        "apiVersion": t.rt.api_version(),
        "metadata": {"resourceVersion": app.store.resource_version().to_string()},
        "items": deleted,
    })))
}

/// Re-reads the served kinds after a CustomResourceDefinition changed.
fn after_write(app: &App, rt: &ResourceType) {
    if crd::is_definition(rt) {
        crd::reconcile(app);
    }
}

/// The autoscaling/v1 Scale view of an object: over its CRD's paths for a custom resource.
fn scale_view(rt: &ResourceType, obj: &Value) -> Value {
    match rt.custom.and_then(|c| c.scale.as_ref()) {
        Some(paths) => paths.view(obj),
        None => scale_of(obj),
    }
}

/// The autoscaling/v1 Scale view of a Deployment.
fn scale_of(obj: &Value) -> Value {
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let m = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}
