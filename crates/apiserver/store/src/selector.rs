//! Label and field selectors, parsed as the API server parses `?labelSelector=` and
//! `?fieldSelector=`.

mod field;
mod label;

pub use field::FieldSelector;
pub use label::{LabelSelector, is_label_value};

use serde_json::Value;

/// What a list or watch is restricted to.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

// === impl Filter ===

impl Filter {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_everything() && self.fields.is_everything()
    }
}
