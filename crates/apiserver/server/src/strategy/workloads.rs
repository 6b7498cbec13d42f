//! apps/v1 and batch/v1 defaults (upstream `SetDefaults_*` of pkg/apis/apps/v1 and batch/v1),
//! the pod template's included.

use serde_json::{Value, json};

use super::{default, pod_spec_defaults};

/// The kinds defaulted here.
pub const KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
];

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
        "Job" => {
            // Both unset: one pod, once. Completions unset alone: a work queue.
            if spec["completions"].is_null() && spec["parallelism"].is_null() {
                spec["completions"] = json!(1);
            }
            default(spec, "parallelism", json!(1));
            default(spec, "backoffLimit", json!(6));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            if spec["podFailurePolicy"].is_null() {
                default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            }
        }
        "CronJob" => {
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            // Upstream defaults the template's pod spec but not its JobSpec: a Job made
            // from it is defaulted when it is created.
            if let Some(pod) = spec.pointer_mut("/jobTemplate/spec/template/spec") {
                pod_spec_defaults(pod);
            }
            return;
        }
        _ => {}
    }
    pod_spec_defaults(&mut spec["template"]["spec"]);
}

/// A new Job's uid, and unless `manualSelector`, the selector generated from it with the
/// labels it selects on the pod template (upstream job strategy `generateSelector`).
pub fn job_identity(obj: &mut Value) {
    let uid = podnet_apiserver_store::store::new_uid();
    let name = obj["metadata"]["name"].clone();
    podnet_apiserver_store::meta::metadata_mut(obj).insert("uid".into(), uid.clone().into());
    if obj["spec"]["manualSelector"] == true || !obj["spec"].is_object() {
        return;
    }
    obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let template = &mut obj["spec"]["template"];
    if !template.is_object() {
        *template = json!({});
    }
    let meta = &mut template["metadata"];
    if !meta.is_object() {
        *meta = json!({});
    }
    let labels = &mut meta["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", json!(uid)),
        ("batch.kubernetes.io/job-name", name.clone()),
        ("controller-uid", json!(uid)),
        ("job-name", name),
    ] {
        labels[key] = value;
    }
}
