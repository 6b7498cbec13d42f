//! policy/v1: PodDisruptionBudgets (stored and served, for the manifests that ship them —
//! CoreDNS's and podnet's own; the lab has no eviction API that would consult them).

use serde_json::Value;

use super::{Errors, label_selector, object_meta};

pub fn pod_disruption_budget(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    if !spec["minAvailable"].is_null() && !spec["maxUnavailable"].is_null() {
        errs.invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        );
    }
    if !spec["selector"].is_null() {
        label_selector(&spec["selector"], "spec.selector", errs);
    }
}
