//! The kubelet's events, with upstream's reasons and wording (pkg/kubelet/events), about a
//! pod's containers (`fieldPath: spec.containers{NAME}`) or the node.

use k8s_openapi::api::core::v1::{Container, Pod};
use podnet_k8s_events::{EventType, Recorder, Reference};

use crate::probe::ProbeKind;

fn container(pod: &Pod, name: &str) -> Reference {
    Reference::of(pod).field(format!("spec.containers{{{name}}}"))
}

/// The lab has no images: every image is, honestly, already present.
pub(crate) fn pulled(recorder: &Recorder, pod: &Pod, c: &Container) {
    let image = c.image.as_deref().unwrap_or("");
    recorder.event(
        &container(pod, &c.name),
        EventType::Normal,
        "Pulled",
        format!("Container image \"{image}\" already present on machine"),
    );
}

pub(crate) fn created(recorder: &Recorder, pod: &Pod, name: &str) {
    recorder.event(
        &container(pod, name),
        EventType::Normal,
        "Created",
        format!("Created container: {name}"),
    );
}

pub(crate) fn started(recorder: &Recorder, pod: &Pod, name: &str) {
    recorder.event(
        &container(pod, name),
        EventType::Normal,
        "Started",
        format!("Started container {name}"),
    );
}

pub(crate) fn failed(recorder: &Recorder, pod: &Pod, name: &str, error: &str) {
    recorder.event(
        &container(pod, name),
        EventType::Warning,
        "Failed",
        format!("Error: {error}"),
    );
}

/// A volume could not be set up: the pod's containers wait for it.
pub(crate) fn failed_mount(recorder: &Recorder, pod: &Pod, message: &str) {
    recorder.event(
        &Reference::of(pod),
        EventType::Warning,
        "FailedMount",
        message.to_owned(),
    );
}

pub(crate) fn stopping(recorder: &Recorder, pod: &Pod, name: &str) {
    recorder.event(
        &container(pod, name),
        EventType::Normal,
        "Killing",
        format!("Stopping container {name}"),
    );
}

/// A failed liveness or startup probe restarts the container.
pub(crate) fn probe_kill(recorder: &Recorder, pod: &Pod, name: &str, kind: ProbeKind) {
    recorder.event(
        &container(pod, name),
        EventType::Normal,
        "Killing",
        format!(
            "Container {name} failed {} probe, will be restarted",
            kind.name().to_lowercase()
        ),
    );
}

/// Every failed probe attempt, as the kubelet's prober records it.
pub(crate) fn unhealthy(recorder: &Recorder, pod: &Pod, name: &str, kind: ProbeKind, output: &str) {
    recorder.event(
        &container(pod, name),
        EventType::Warning,
        "Unhealthy",
        format!("{} probe failed: {output}", kind.name()),
    );
}

/// `pod` as the kubelet's messages name it: `name_namespace(uid)`.
pub(crate) fn back_off(recorder: &Recorder, pod: &Pod, name: &str) {
    let m = &pod.metadata;
    recorder.event(
        &container(pod, name),
        EventType::Warning,
        "BackOff",
        format!(
            "Back-off restarting failed container {name} in pod {}_{}({})",
            m.name.as_deref().unwrap_or(""),
            m.namespace.as_deref().unwrap_or(""),
            m.uid.as_deref().unwrap_or("")
        ),
    );
}

/// `Starting kubelet.`, once per kubelet start.
pub(crate) fn starting(recorder: &Recorder, node: &str) {
    recorder.event(
        &Reference::node(node),
        EventType::Normal,
        "Starting",
        "Starting kubelet.",
    );
}

/// A node condition that changed, as `NodeHasSufficientMemory`, `NodeReady`, …
pub(crate) fn node_status(recorder: &Recorder, node: &str, reason: &str) {
    recorder.event(
        &Reference::node(node),
        EventType::Normal,
        reason,
        format!("Node {node} status is now: {reason}"),
    );
}
