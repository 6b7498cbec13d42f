//! Admission on create, as kube-apiserver's built-in plugins that the lab needs (after
//! NamespaceLifecycle, which `crud` applies):
//!
//! - [`service_account`]: the ServiceAccount plugin — a pod runs as an existing
//!   ServiceAccount (`default` unless named) and, unless automounting is off, gets the
//!   `kube-api-access-*` projected volume mounted in every container.

pub mod service_account;

use serde_json::Value;

use crate::App;
use crate::error::ApiError;
use crate::resources::ResourceType;

/// Admits (and possibly mutates) `obj`, about to be created in `namespace`.
pub fn on_create(
    app: &App,
    rt: &ResourceType,
    namespace: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if app.service_account_admission && rt.group.is_empty() && rt.plural == "pods" {
        service_account::admit(app, namespace, obj)?;
    }
    Ok(())
}
