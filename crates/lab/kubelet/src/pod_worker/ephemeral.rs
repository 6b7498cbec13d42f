//! Ephemeral containers (`kubectl debug`): started once in the pod's namespaces when they
//! appear in its spec, never restarted, without probes, and reported apart in
//! `status.ephemeralContainerStatuses`. Pods here have no PID namespace of their own, so a
//! `targetContainerName` already sees the target's processes.

use k8s_openapi::api::core::v1::{Container, Pod};

/// The pod's ephemeral containers as containers (the fields they share are the ones a
/// container runs with).
pub(crate) fn containers(pod: &Pod) -> Vec<Container> {
    pod.spec
        .iter()
        .flat_map(|s| s.ephemeral_containers.iter().flatten())
        .filter_map(|e| {
            let mut value = serde_json::to_value(e).ok()?;
            if let Some(fields) = value.as_object_mut() {
                fields.remove("targetContainerName");
            }
            serde_json::from_value(value).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EphemeralContainer, PodSpec};

    #[test]
    fn ephemeral_containers_run_as_containers() {
        let pod = Pod {
            spec: Some(PodSpec {
                ephemeral_containers: Some(vec![EphemeralContainer {
                    name: "debugger-abc".into(),
                    image: Some("busybox".into()),
                    stdin: Some(true),
                    tty: Some(true),
                    target_container_name: Some("app".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cs = containers(&pod);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].name, "debugger-abc");
        assert_eq!((cs[0].stdin, cs[0].tty), (Some(true), Some(true)));
    }
}
