//! Events: core/v1 and events.k8s.io/v1, one stored resource (core/v1 `events`) seen through
//! two API versions as kube-apiserver serves them.
//!
//! - [`convert`]: the two forms of an Event, both ways, and the field-selector labels.
//! - [`validate`]: the legacy rules of every Event and the strict ones of events.k8s.io/v1.
//! - [`print`]: `kubectl get events`' columns.
//!
//! Expiry (kube-apiserver's `--event-ttl`) is the store's per-object expiry, configured in
//! [`crate::Config::event_ttl`].

pub mod convert;
pub mod print;
pub mod validate;

pub use validate::{validate_core, validate_v1};

use podnet_apiserver_store::Resource;

use crate::resources::View;

/// The field-selector labels of core/v1 Events (kube-apiserver's selectable fields).
pub const CORE_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// The field-selector labels of events.k8s.io/v1 Events.
pub const V1_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];

/// events.k8s.io/v1 Events are stored as core/v1 Events.
pub static EVENTS_V1: View = View {
    stored: ("", "events"),
    to_stored: convert::to_core,
    from_stored: convert::to_events_v1,
    stored_label: convert::core_label,
};

/// The stored resource's JSON path behind a field-selector label: core Events' `source`
/// selects on the reporting component (`source.component`); other labels are paths.
pub fn computed_field(resource: Resource, label: &str) -> &str {
    if resource == Resource::new("", "events") && label == "source" {
        "source.component"
    } else {
        label
    }
}
