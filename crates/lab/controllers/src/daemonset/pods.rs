//! Which nodes run a DaemonSet's pod (upstream `NodeShouldRunDaemonPod`), and the pod
//! itself: the template with the tolerations the controller adds and pinned to its node.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};
use kube::ResourceExt;

use crate::node_affinity;
use crate::pods::{controller_ref, from_template};
use crate::scheduler::pick::tolerates;

pub use crate::revisions::REVISION_HASH;
/// The deprecated label upstream still puts on daemon pods.
pub const TEMPLATE_GENERATION: &str = "pod-template-generation";

/// Where a DaemonSet's pod belongs on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// A pod should be running here (and is created if missing).
    pub should_run: bool,
    /// A pod already here may stay (untolerated NoSchedule taints keep new pods off only).
    pub may_continue: bool,
}

/// The tolerations every daemon pod gets (upstream `util.AddOrUpdateDaemonPodTolerations`):
/// node conditions do not evict or keep off a node's own daemons.
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let exists = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut out = vec![
        exists("node.kubernetes.io/not-ready", "NoExecute"),
        exists("node.kubernetes.io/unreachable", "NoExecute"),
        exists("node.kubernetes.io/disk-pressure", "NoSchedule"),
        exists("node.kubernetes.io/memory-pressure", "NoSchedule"),
        exists("node.kubernetes.io/pid-pressure", "NoSchedule"),
        exists("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        out.push(exists(
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
        ));
    }
    out
}

/// The template's pod spec as the controller creates it: its tolerations plus the daemon
/// ones (an identical one is not repeated).
pub fn with_daemon_tolerations(spec: &PodSpec) -> PodSpec {
    let added = daemon_tolerations(spec);
    let mut spec = spec.clone();
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for t in added {
        if !tolerations.contains(&t) {
            tolerations.push(t);
        }
    }
    spec
}

/// `spec`: the pod spec with the daemon tolerations.
pub fn placement(spec: &PodSpec, node: &Node) -> Placement {
    let never = Placement {
        should_run: false,
        may_continue: false,
    };
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node.name_any())
        || !node_affinity::matches(spec, node)
    {
        return never;
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated = |t: &&Taint| !tolerations.iter().any(|x| tolerates(x, t));
    let taints: Vec<&Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(untolerated)
        .collect();
    if taints.iter().any(|t| t.effect == "NoExecute") {
        return never;
    }
    let kept_off = taints.iter().any(|t| t.effect == "NoSchedule");
    Placement {
        should_run: !kept_off,
        may_continue: true,
    }
}

/// The node a daemon pod is on: bound, or pinned by its affinity until the scheduler binds it.
pub fn node_of(p: &Pod) -> Option<&str> {
    let spec = p.spec.as_ref()?;
    spec.node_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or_else(|| node_affinity::pinned_node(spec))
}

/// A pod of `ds` for `node`, pinned there by a `matchFields` term (upstream
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`) for the scheduler to bind.
pub fn daemon_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let mut template = ds.spec.template.clone();
    let labels = template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    labels.insert(REVISION_HASH.into(), hash.into());
    labels.insert(
        TEMPLATE_GENERATION.into(),
        ds.metadata.generation.unwrap_or(1).to_string(),
    );
    let mut pod_spec = with_daemon_tolerations(&template.spec.clone().unwrap_or_default());
    pin(&mut pod_spec, node);
    template.spec = Some(pod_spec);
    from_template(
        &template,
        ds.namespace(),
        format!("{}-", ds.name_any()),
        controller_ref(ds),
    )
}

fn pin(spec: &mut PodSpec, node: &str) {
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.into()]),
    };
    let required = spec
        .affinity
        .get_or_insert_with(Affinity::default)
        .node_affinity
        .get_or_insert_with(NodeAffinity::default)
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if required.node_selector_terms.is_empty() {
        required
            .node_selector_terms
            .push(NodeSelectorTerm::default());
    }
    for term in &mut required.node_selector_terms {
        term.match_fields = Some(vec![field.clone()]);
    }
}
