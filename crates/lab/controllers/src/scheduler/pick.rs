//! Choosing a node for a pod: kube-scheduler's filters that matter in the lab (node
//! unschedulable, taints and tolerations, nodeSelector and required node affinity, free host
//! ports) and a spreading score (fewest pods of the same owner, then fewest pods).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use kube::ResourceExt;

/// Why no node fits, in kube-scheduler's words:
/// `0/3 nodes are available: 1 node(s) had untolerated taint {…}, 2 node(s) didn't match
/// Pod's node affinity/selector.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable(pub String);

/// The pods already on each node (bound or assumed), as (node, pod) pairs.
pub struct Placed<'a> {
    pub node: &'a str,
    pub pod: &'a Pod,
}

pub fn pick(pod: &Pod, nodes: &[Node], placed: &[Placed<'_>]) -> Result<String, Unschedulable> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut fits = Vec::new();
    for node in nodes {
        let name = node.name_any();
        let here = placed.iter().filter(|p| p.node == name).map(|p| p.pod);
        match filter(pod, node).and_then(|()| super::host_ports::fits(pod, here)) {
            Ok(()) => fits.push(node),
            Err(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    let owner = controller_uid(pod);
    let best = fits.into_iter().min_by_key(|n| {
        let name = n.name_any();
        let here: Vec<&Pod> = placed
            .iter()
            .filter(|p| p.node == name)
            .map(|p| p.pod)
            .collect();
        let same = here
            .iter()
            .filter(|p| owner.is_some() && controller_uid(p) == owner)
            .count();
        (same, here.len(), name)
    });
    match best {
        Some(n) => Ok(n.name_any()),
        None => {
            let mut detail: Vec<String> = reasons
                .iter()
                .map(|(r, n)| format!("{n} node(s) {r}"))
                .collect();
            // kube-scheduler sorts the whole "N node(s) …" strings (FitError.Error).
            detail.sort();
            Err(Unschedulable(format!(
                "0/{} nodes are available: {}.",
                nodes.len(),
                detail.join(", ")
            )))
        }
    }
}

fn controller_uid(p: &Pod) -> Option<String> {
    p.owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
}

fn filter(pod: &Pod, node: &Node) -> Result<(), String> {
    let spec = pod.spec.as_ref();
    let tolerations = spec
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let node_spec = node.spec.as_ref();
    if node_spec.and_then(|s| s.unschedulable) == Some(true) {
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            return Err("were unschedulable".into());
        }
    }
    for taint in node_spec
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
    {
        let blocking = matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute");
        if blocking && !tolerations.iter().any(|t| tolerates(t, taint)) {
            let value = taint.value.as_deref().unwrap_or("");
            return Err(format!("had untolerated taint {{{}: {value}}}", taint.key));
        }
    }
    if spec.is_some_and(|s| !crate::node_affinity::matches(s, node)) {
        return Err("didn't match Pod's node affinity/selector".into());
    }
    Ok(())
}

/// Upstream `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        // An empty key with Exists tolerates everything.
        "Exists" => true,
        "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;
    use crate::fixture::node;

    fn control_plane(n: &mut Node) {
        n.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "node-role.kubernetes.io/control-plane".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        }]);
    }

    fn pod(name: &str, owner: Option<&str>, f: impl FnOnce(&mut PodSpec)) -> Pod {
        let mut spec = PodSpec::default();
        f(&mut spec);
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                owner_references: owner.map(|uid| {
                    vec![OwnerReference {
                        uid: uid.into(),
                        controller: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        }
    }

    fn cluster() -> Vec<Node> {
        vec![
            node("cp", control_plane),
            node("w1", |_| {}),
            node("w2", |_| {}),
        ]
    }

    #[test]
    fn control_plane_taint_keeps_ordinary_pods_off_and_a_toleration_lets_them_on() {
        let nodes = vec![node("cp", control_plane)];
        let err = pick(&pod("p", None, |_| {}), &nodes, &[]).unwrap_err();
        assert_eq!(
            err.0,
            "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
        );
        let tolerant = pod("p", None, |s| {
            s.tolerations = Some(vec![Toleration {
                key: Some("node-role.kubernetes.io/control-plane".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }])
        });
        assert_eq!(pick(&tolerant, &nodes, &[]).unwrap(), "cp");
    }

    #[test]
    fn pods_of_one_owner_spread_over_the_workers() {
        let nodes = cluster();
        let existing: Vec<Pod> = (0..2)
            .map(|i| pod(&format!("e{i}"), Some("d1"), |_| {}))
            .collect();
        let placed = [Placed {
            node: "w1",
            pod: &existing[0],
        }];
        assert_eq!(
            pick(&pod("p", Some("d1"), |_| {}), &nodes, &placed).unwrap(),
            "w2"
        );
        let placed = [
            Placed {
                node: "w1",
                pod: &existing[0],
            },
            Placed {
                node: "w2",
                pod: &existing[1],
            },
        ];
        assert_eq!(
            pick(&pod("p", Some("d1"), |_| {}), &nodes, &placed).unwrap(),
            "w1"
        );
    }

    #[test]
    fn spreading_prefers_the_node_without_the_owners_pods_over_the_emptier_one() {
        let nodes = cluster();
        let others: Vec<Pod> = (0..3)
            .map(|i| pod(&format!("o{i}"), Some("other"), |_| {}))
            .collect();
        let mine = pod("m", Some("d1"), |_| {});
        let mut placed: Vec<Placed> = others
            .iter()
            .map(|p| Placed { node: "w2", pod: p })
            .collect();
        placed.push(Placed {
            node: "w1",
            pod: &mine,
        });
        assert_eq!(
            pick(&pod("p", Some("d1"), |_| {}), &nodes, &placed).unwrap(),
            "w2"
        );
    }

    #[test]
    fn node_selector_and_unschedulable_nodes_filter() {
        let nodes = vec![
            node("w1", |n| {
                n.spec.as_mut().unwrap().unschedulable = Some(true)
            }),
            node("w2", |_| {}),
            node("w3", |n| {
                n.metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert("disk".into(), "ssd".into());
            }),
        ];
        let p = pod("p", None, |s| {
            s.node_selector = Some([("disk".to_string(), "ssd".to_string())].into())
        });
        assert_eq!(pick(&p, &nodes, &[]).unwrap(), "w3");
        let none = pod("p", None, |s| {
            s.node_selector = Some([("disk".to_string(), "nvme".to_string())].into())
        });
        assert_eq!(
            pick(&none, &nodes, &[]).unwrap_err().0,
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector."
        );
    }

    #[test]
    fn toleration_matching_follows_operator_key_and_effect() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let t = |key: Option<&str>, op: Option<&str>, value: Option<&str>, effect: Option<&str>| {
            Toleration {
                key: key.map(Into::into),
                operator: op.map(Into::into),
                value: value.map(Into::into),
                effect: effect.map(Into::into),
                ..Default::default()
            }
        };
        assert!(tolerates(&t(None, Some("Exists"), None, None), &taint));
        assert!(tolerates(&t(Some("k"), None, Some("v"), None), &taint));
        assert!(!tolerates(&t(Some("k"), None, Some("w"), None), &taint));
        assert!(!tolerates(
            &t(Some("k"), Some("Exists"), None, Some("NoExecute")),
            &taint
        ));
        assert!(!tolerates(
            &t(Some("j"), Some("Exists"), None, None),
            &taint
        ));
    }
}
