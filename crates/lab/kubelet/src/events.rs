//! The kubelet's events, with upstream's reasons and wording (pkg/kubelet/events), about a
//! pod's containers (`fieldPath: spec.containers{NAME}`) or the node.

use k8s_openapi::api::core::v1::{Container, Pod};
use podnet_k8s_events::{EventType, Recorder, Reference};

use crate::probe::ProbeKind;

fn container(pod: &Pod, name: &str) -> Reference {
    Reference::of(pod).field(format!("spec.containers{{{name}}}"))
}

/// The lab pulls no image: an image is "present" as its emulation (`emulated`: what runs)
/// or as the machine's own programs.
pub(crate) fn pulled(recorder: &Recorder, pod: &Pod, c: &Container, emulated: Option<&str>) {
    let image = c.image.as_deref().unwrap_or("");
    let how = emulated
        .map(|runs| format!(" (image emulated: {runs})"))
        .unwrap_or_default();
    recorder.event(
        &container(pod, &c.name),
        EventType::Normal,
        "Pulled",
        format!("Container image \"{image}\" already present on machine{how}"),
    );
}

/// An image that cannot be had: the kubelet's Pulling, Failed and `Error: ErrImagePull`.
pub(crate) fn pull_failed(recorder: &Recorder, pod: &Pod, c: &Container, reason: &str) {
    let image = c.image.as_deref().unwrap_or("");
    let at = container(pod, &c.name);
    recorder.event(
        &at,
        EventType::Normal,
        "Pulling",
        format!("Pulling image \"{image}\""),
    );
    recorder.event(
        &at,
        EventType::Warning,
        "Failed",
        format!("Failed to pull image \"{image}\": {reason}"),
    );
    recorder.event(&at, EventType::Warning, "Failed", "Error: ErrImagePull");
}

/// Waiting before the next pull attempt: BackOff and `Error: ImagePullBackOff`.
pub(crate) fn pull_back_off(recorder: &Recorder, pod: &Pod, c: &Container) {
    let image = c.image.as_deref().unwrap_or("");
    let at = container(pod, &c.name);
    recorder.event(
        &at,
        EventType::Normal,
        "BackOff",
        format!("Back-off pulling image \"{image}\""),
    );
    recorder.event(&at, EventType::Warning, "Failed", "Error: ImagePullBackOff");
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
