//! Label selectors as the API defines them: `matchLabels` and `matchExpressions` AND-ed, an
//! empty selector matching everything.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// A `matchExpressions` operator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A label selector; the default (empty) one selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

// === impl Requirement ===

impl Requirement {
    /// Parses the API's spelling; `None` for an operator the API does not define.
    pub fn parse(key: &str, operator: &str, values: Vec<String>) -> Option<Self> {
        let key = key.to_owned();
        Some(match operator {
            "In" => Requirement::In(key, values),
            "NotIn" => Requirement::NotIn(key, values),
            "Exists" => Requirement::Exists(key),
            "DoesNotExist" => Requirement::DoesNotExist(key),
            _ => return None,
        })
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            // A missing key is "not in" any list, as apimachinery's labels package reads it.
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

// === impl LabelSelector ===

impl LabelSelector {
    /// A selector of exactly these labels.
    pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Self {
        Self {
            match_labels: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    pub fn with(mut self, requirement: Requirement) -> Self {
        self.match_expressions.push(requirement);
        self
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_empty_selector_selects_everything() {
        assert!(LabelSelector::default().matches(&Labels::new()));
        assert!(LabelSelector::default().matches(&labels(&[("pod", "a")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = LabelSelector::labels([("pod", "a")])
            .with(Requirement::In("ns".into(), vec!["x".into(), "y".into()]));
        assert!(s.matches(&labels(&[("pod", "a"), ("ns", "y")])));
        assert!(!s.matches(&labels(&[("pod", "a"), ("ns", "z")])));
        assert!(!s.matches(&labels(&[("pod", "b"), ("ns", "x")])));
    }

    #[test]
    fn operators_read_missing_keys_as_upstream() {
        let none = Labels::new();
        let b = labels(&[("pod", "b")]);
        let not_in = Requirement::NotIn("pod".into(), vec!["a".into()]);
        assert!(not_in.matches(&none), "a missing key is not in the list");
        assert!(not_in.matches(&b));
        assert!(!Requirement::In("pod".into(), vec!["b".into()]).matches(&none));
        assert!(Requirement::Exists("pod".into()).matches(&b));
        assert!(!Requirement::Exists("pod".into()).matches(&none));
        assert!(Requirement::DoesNotExist("pod".into()).matches(&none));
        assert!(!Requirement::DoesNotExist("pod".into()).matches(&b));
        assert_eq!(Requirement::parse("k", "Gt", vec![]), None);
    }
}
