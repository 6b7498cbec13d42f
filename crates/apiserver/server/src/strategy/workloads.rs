//! apps/v1 and batch/v1 defaults (upstream `SetDefaults_*` of pkg/apis/apps/v1 and batch/v1),
//! the pod template's included.

use serde_json::{Value, json};

use super::{default, pod_spec_defaults};

/// The kinds defaulted here.
pub const KINDS: &[&str] = &["Deployment", "ReplicaSet", "DaemonSet"];

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
        _ => {}
    }
    pod_spec_defaults(&mut spec["template"]["spec"]);
}
