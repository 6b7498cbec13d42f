//! apps/v1 and batch/v1 defaults (upstream `SetDefaults_*` of pkg/apis/apps/v1 and batch/v1),
//! the pod template's included.

use serde_json::{Value, json};

use super::{default, pod_spec_defaults};

/// The kinds defaulted here.
pub const KINDS: &[&str] = &["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"];

pub fn defaults(kind: &str, obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        return;
    }
    match kind {
        "Deployment" => {
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = &mut spec["strategy"];
            if !strategy.is_object() {
                *strategy = json!({});
            }
            default(strategy, "type", json!("RollingUpdate"));
            if spec["strategy"]["type"] == "RollingUpdate" {
                let ru = &mut spec["strategy"]["rollingUpdate"];
                if !ru.is_object() {
                    *ru = json!({});
                }
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
        }
        "ReplicaSet" => default(spec, "replicas", json!(1)),
        "DaemonSet" => {
            default(spec, "revisionHistoryLimit", json!(10));
            let strategy = &mut spec["updateStrategy"];
            if !strategy.is_object() {
                *strategy = json!({});
            }
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                let ru = &mut strategy["rollingUpdate"];
                if !ru.is_object() {
                    *ru = json!({});
                }
                default(ru, "maxUnavailable", json!(1));
                default(ru, "maxSurge", json!(0));
            }
        }
        "StatefulSet" => {
            default(spec, "replicas", json!(1));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(spec, "revisionHistoryLimit", json!(10));
            default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            let strategy = &mut spec["updateStrategy"];
            if !strategy.is_object() {
                *strategy = json!({});
            }
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                let ru = &mut strategy["rollingUpdate"];
                if !ru.is_object() {
                    *ru = json!({});
                }
                default(ru, "partition", json!(0));
            }
            // The lab has no storage: claim templates are stored (defaulted as upstream)
            // but no claims are made.
            for claim in spec["volumeClaimTemplates"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                default(&mut claim["spec"], "volumeMode", json!("Filesystem"));
                default(claim, "status", json!({"phase": "Pending"}));
            }
        }
        _ => {}
    }
    pod_spec_defaults(&mut spec["template"]["spec"]);
}
