//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): the kinds they add to the API at
//! runtime and what the server does to their objects.
//!
//! - [`definition`]: a CRD's own validation and defaults (its RESOURCES row).
//! - [`reconcile`]: after every CRD write, the CRDs' status (NamesAccepted, Established) and
//!   the [`Registry`] of served kinds follow the stored CRDs; a deleted CRD's objects go.
//! - [`kinds`]: a CRD's served versions as [`ResourceType`]s with a [`CustomVersion`].
//! - [`schema`] (pruning, defaulting) and [`check`] (validation): the structural schema.
//! - [`columns`] (additionalPrinterColumns), [`scale`] (the scale subresource), [`path`].

pub mod check;
pub mod columns;
pub mod definition;
pub mod kinds;
pub mod path;
pub mod reconcile;
pub mod registry;
pub mod scale;
pub mod schema;

pub use definition::{defaults, validate};
pub use reconcile::reconcile;
pub use registry::Registry;

use serde_json::Value;

use crate::resources::ResourceType;
use crate::validate::Errors;

/// What one served version of a CRD brings beyond the row fields of a [`ResourceType`].
pub struct CustomVersion {
    /// `openAPIV3Schema`.
    pub schema: Value,
    /// additionalPrinterColumns (empty: the default Age column).
    pub columns: Vec<columns::PrinterColumn>,
    pub scale: Option<scale::ScalePaths>,
}

// === impl CustomVersion ===

impl CustomVersion {
    /// Drops undeclared fields and fills in defaults, as every write of a custom resource does.
    pub fn prune_and_default(&self, obj: &mut Value) {
        schema::prune(&self.schema, obj, true);
        schema::default(&self.schema, obj);
    }

    pub fn check(&self, obj: &Value, errs: &mut Errors) {
        check::check(&self.schema, obj, "", errs);
    }
}

/// A stored custom resource as the version `rt` serves it: conversion strategy None changes
/// only the apiVersion, and the version's defaults apply on read too (a default added to the
/// CRD shows on objects stored before), as upstream. Built-in objects are returned as stored.
pub fn served_as(rt: &ResourceType, obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(custom) = rt.custom {
        if out["apiVersion"] != rt.api_version().as_str() {
            out["apiVersion"] = rt.api_version().into();
        }
        schema::default(&custom.schema, &mut out);
    }
    out
}

/// Whether `rt` is the CustomResourceDefinition kind itself.
pub fn is_definition(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition"
}
