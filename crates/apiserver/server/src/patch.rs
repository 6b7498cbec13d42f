//! The patch formats a PATCH request may carry, chosen by its Content-Type.

pub mod apply;
mod duplicates;
mod json;
mod merge;
mod strategic;

pub use apply::apply;
pub use duplicates::duplicate_entries;
pub use json::json_patch;
pub use merge::merge_patch;
pub use strategic::{ListMerge, list_map_keys, list_merge, strategic_merge_patch};

/// A PATCH body's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

// === impl PatchType ===

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let media = ct.split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}
