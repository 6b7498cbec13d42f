//! Label selectors: matching, and the query string form for list/watch.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub type Labels = BTreeMap<String, String>;

/// A Service's `spec.selector` (equality only) against `labels`. An empty selector selects
/// nothing: a Service without a selector has no managed endpoints.
pub fn map_matches(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A full `LabelSelector` against `labels`: an empty selector selects everything.
pub fn matches(selector: &LabelSelector, labels: &Labels) -> bool {
    let equal = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    equal
        && selector.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// The `labelSelector=` form of a selector.
pub fn to_query(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// The `labelSelector=` form of an equality map.
pub fn map_to_query(selector: &Labels) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn service_selector_needs_every_pair_and_empty_selects_nothing() {
        let sel = labels(&[("app", "web")]);
        assert!(map_matches(&sel, &labels(&[("app", "web"), ("x", "y")])));
        assert!(!map_matches(&sel, &labels(&[("app", "db")])));
        assert!(!map_matches(&Labels::new(), &labels(&[("app", "web")])));
    }

    #[test]
    fn label_selector_expressions_match_like_the_api() {
        let req = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        };
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                req("tier", "In", &["a", "b"]),
                req("env", "NotIn", &["prod"]),
                req("team", "Exists", &[]),
                req("legacy", "DoesNotExist", &[]),
            ]),
        };
        let ok = labels(&[("app", "web"), ("tier", "a"), ("team", "x")]);
        assert!(matches(&sel, &ok));
        let mut prod = ok.clone();
        prod.insert("env".into(), "prod".into());
        assert!(!matches(&sel, &prod));
        let mut legacy = ok.clone();
        legacy.insert("legacy".into(), "1".into());
        assert!(!matches(&sel, &legacy));
        assert_eq!(
            to_query(&sel),
            "app=web,tier in (a,b),env notin (prod),team,!legacy"
        );
        assert!(matches(&LabelSelector::default(), &Labels::new()));
    }
}
