use serde_json::Value;

use crate::{StoreError, meta};

/// A parsed field selector: `metadata.name=x,spec.nodeName!=,status.phase==Running`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<(String, bool, String)>,
}

// === impl FieldSelector ===

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(StoreError::Selector(format!(
                    "{part:?}: field selectors need '=', '==' or '!='"
                )));
            };
            requirements.push((field.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { requirements })
    }

    /// The field paths this selector uses, so the server can refuse ones the kind does not
    /// support (as the API server does with "field label not supported").
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(|(f, _, _)| f.as_str())
    }

    /// The same requirements read from other field paths: where the stored object keeps
    /// what a label names (an API view's labels onto its storage's fields).
    pub fn map_fields(self, path: impl Fn(&str) -> String) -> Self {
        let requirements = self
            .requirements
            .into_iter()
            .map(|(field, equal, want)| (path(&field), equal, want))
            .collect();
        FieldSelector { requirements }
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements
            .iter()
            .all(|(field, equal, want)| (meta::field_string(obj, field) == *want) == *equal)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn node_name_and_phase_select_pods() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns1"},
            "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let unscheduled = json!({"metadata": {"name": "q", "namespace": "ns1"}, "spec": {}});
        let cases = [
            ("spec.nodeName=node-1", true, false),
            ("spec.nodeName==node-1", true, false),
            ("spec.nodeName!=node-1", false, true),
            ("spec.nodeName=", false, true),
            ("status.phase=Running,metadata.namespace=ns1", true, false),
            ("metadata.name=q", false, true),
            ("metadata.namespace!=ns1", false, false),
        ];
        for (sel, want_pod, want_unscheduled) in cases {
            let s = FieldSelector::parse(sel).unwrap();
            assert_eq!(s.matches(&pod), want_pod, "{sel} on pod");
            assert_eq!(
                s.matches(&unscheduled),
                want_unscheduled,
                "{sel} on unscheduled"
            );
        }
    }

    #[test]
    fn a_requirement_without_an_operator_is_refused() {
        assert!(FieldSelector::parse("spec.nodeName").is_err());
    }
}
