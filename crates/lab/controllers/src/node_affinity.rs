//! A pod's required node affinity (`requiredDuringSchedulingIgnoredDuringExecution`) and
//! nodeSelector against a node, as upstream's `nodeaffinity.GetRequiredNodeAffinity`: the
//! terms are OR'd, a term's expressions AND'd; `matchFields` knows `metadata.name` only.

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec};
use kube::ResourceExt;

/// The node satisfies the pod's nodeSelector and required node affinity.
pub fn matches(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.labels();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|ns| ns.node_selector_terms.as_slice());
    selector_ok && terms.is_none_or(|terms| terms.iter().any(|t| term_matches(t, node)))
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        // An empty term matches nothing.
        return false;
    }
    let labels = node.labels();
    exprs
        .iter()
        .all(|r| requirement(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value =
                (r.key == "metadata.name").then(|| node.metadata.name.as_deref().unwrap_or(""));
            r.key == "metadata.name" && requirement(r, value)
        })
}

fn requirement(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|b| number(b)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// The node a pod is pinned to by a `matchFields` `metadata.name In [node]` term (how the
/// DaemonSet controller places its pods before the scheduler binds them).
pub fn pinned_node(spec: &PodSpec) -> Option<&str> {
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn spec(terms: Vec<NodeSelectorTerm>) -> PodSpec {
        PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn terms_are_ored_and_expressions_anded() {
        let a = node("a", &[("zone", "z1"), ("cpus", "8")]);
        let b = node("b", &[("zone", "z2"), ("cpus", "2")]);
        let term = |reqs| NodeSelectorTerm {
            match_expressions: Some(reqs),
            match_fields: None,
        };
        let s = spec(vec![
            term(vec![req("zone", "In", &["z1"]), req("cpus", "Gt", &["4"])]),
            term(vec![
                req("zone", "NotIn", &["z1", "z3"]),
                req("gpu", "DoesNotExist", &[]),
            ]),
        ]);
        assert!(matches(&s, &a));
        assert!(matches(&s, &b));
        let s = spec(vec![term(vec![
            req("cpus", "Lt", &["4"]),
            req("zone", "Exists", &[]),
        ])]);
        assert!(!matches(&s, &a));
        assert!(matches(&s, &b));
    }

    #[test]
    fn match_fields_pin_a_node_by_name_and_node_selector_still_applies() {
        let pinned = spec(vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["b"])]),
        }]);
        assert_eq!(pinned_node(&pinned), Some("b"));
        assert!(matches(&pinned, &node("b", &[])));
        assert!(!matches(&pinned, &node("a", &[])));
        let mut both = pinned.clone();
        both.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
        assert!(!matches(&both, &node("b", &[])));
        assert!(matches(&both, &node("b", &[("disk", "ssd")])));
        assert!(!matches(
            &spec(vec![NodeSelectorTerm::default()]),
            &node("a", &[])
        ));
    }
}
