//! Per kind: a rich object → our protobuf → k8s-pb's prost type (the oracle) → prost's bytes →
//! our decoder → the same JSON.

mod support;

use k8s_pb::api::{apps, authentication, authorization, batch, core, events, networking, rbac};
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{Value, json};
use support::roundtrip;

fn metadata(name: &str) -> Value {
    json!({
        "name": name, "namespace": "default", "uid": "0b6c4a5e-1f0e-4f43-9a4b-3c2f6a7e8d90",
        "resourceVersion": "42", "generation": 3,
        "creationTimestamp": "2026-01-02T03:04:05Z",
        "labels": {"app": "web", "tier": ""},
        "annotations": {"note": "x"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
            "uid": "u-1", "controller": true, "blockOwnerDeletion": true}],
        "finalizers": ["example.com/f"],
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
            "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}}]
    })
}

fn pod_template() -> Value {
    json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx", "command": ["nginx"], "args": ["-g", "daemon off;"],
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "env": [{"name": "A", "value": ""}, {"name": "B", "valueFrom": {"fieldRef":
                    {"fieldPath": "status.podIP", "apiVersion": "v1"}}}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "1"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 0},
                "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5},
                "imagePullPolicy": "IfNotPresent"
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "hostNetwork": false,
            "volumes": [{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule",
                "tolerationSeconds": -1}]
        }
    })
}

#[test]
fn pod() {
    let object = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata("p"),
        "spec": pod_template()["spec"],
        "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "hostIP": "192.168.0.2", "startTime": "2026-01-02T03:04:05Z",
            "conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": "2026-01-02T03:04:06Z"}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0,
                "image": "nginx", "imageID": "", "started": true,
                "state": {"running": {"startedAt": "2026-01-02T03:04:05Z"}}}]}
    });
    let pod: core::v1::Pod = roundtrip(&object);
    let spec = pod.spec.unwrap();
    assert_eq!(spec.containers[0].ports[0].container_port, Some(80));
    assert_eq!(spec.host_network, Some(false));
    let probe = spec.containers[0].readiness_probe.clone().unwrap();
    let port = probe.handler.unwrap().http_get.unwrap().port.unwrap();
    assert_eq!(
        (port.r#type, port.str_val.as_deref()),
        (Some(1), Some("http"))
    );
    let limits = &spec.containers[0].resources.as_ref().unwrap().limits;
    assert_eq!(limits["cpu"].string.as_deref(), Some("500m"));
    let meta = pod.metadata.unwrap();
    assert_eq!(
        meta.creation_timestamp.unwrap().seconds,
        Some(1_767_323_045)
    );
    assert_eq!(meta.labels["tier"], "");
    let fields = meta.managed_fields[0]
        .fields_v1
        .clone()
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&fields).unwrap(),
        json!({"f:metadata": {"f:labels": {"f:app": {}}}})
    );
}

#[test]
fn service_and_endpoints() {
    let svc: core::v1::Service = roundtrip(&json!({
        "apiVersion": "v1", "kind": "Service", "metadata": metadata("s"),
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP",
                "nodePort": 30080}, {"port": 53, "targetPort": "dns", "protocol": "UDP"}],
            "sessionAffinity": "None", "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {}}
    }));
    let ports = svc.spec.unwrap().ports;
    assert_eq!(ports[0].target_port.clone().unwrap().int_val, Some(8080));
    assert_eq!(
        ports[1].target_port.clone().unwrap().str_val.as_deref(),
        Some("dns")
    );
    roundtrip::<k8s_pb::api::discovery::v1::EndpointSlice>(&json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": metadata("s-1"),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true,
            "terminating": false}, "nodeName": "n1",
            "targetRef": {"kind": "Pod", "name": "p", "namespace": "default"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }));
}

#[test]
fn config_and_secret_data() {
    roundtrip::<core::v1::ConfigMap>(&json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("c"),
        "data": {"a": "b", "empty": ""}, "binaryData": {"bin": "AAEC/w=="}, "immutable": false
    }));
    let secret: core::v1::Secret = roundtrip(&json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": metadata("s"), "type": "Opaque",
        "data": {"password": "aHVudGVyMg==", "empty": ""}
    }));
    assert_eq!(secret.data["password"], b"hunter2");
    assert_eq!(secret.data["empty"], b"");
}

#[test]
fn namespace_node_and_lease() {
    roundtrip::<core::v1::Namespace>(&json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
    }));
    roundtrip::<core::v1::Node>(&json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
            "taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "2", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.37.0", "architecture": "amd64"}}
    }));
    roundtrip::<k8s_pb::api::coordination::v1::Lease>(&json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata("l"),
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
            "renewTime": "2026-01-02T03:04:05.123456Z", "leaseTransitions": 0}
    }));
}

#[test]
fn workloads() {
    let dep: apps::v1::Deployment = roundtrip(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata("web"),
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            "template": pod_template(),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                "maxSurge": 1}}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {"observedGeneration": 3, "replicas": 2, "conditions": [{"type": "Available",
            "status": "True", "lastUpdateTime": "2026-01-02T03:04:05Z",
            "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "MinimumReplicasAvailable"}]}
    }));
    assert_eq!(dep.spec.unwrap().replicas, Some(0));
    roundtrip::<apps::v1::ReplicaSet>(&json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata("web-1"),
        "spec": {"replicas": 2, "minReadySeconds": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": pod_template()},
        "status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1,
            "fullyLabeledReplicas": 2}
    }));
    roundtrip::<apps::v1::DaemonSet>(&json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata("ds"),
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": pod_template(),
            "updateStrategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
        "status": {"currentNumberScheduled": 1, "numberMisscheduled": 0,
            "desiredNumberScheduled": 1, "numberReady": 1}
    }));
    roundtrip::<apps::v1::StatefulSet>(&json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata("db"),
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": pod_template(), "podManagementPolicy": "OrderedReady",
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                "resources": {"requests": {"storage": "1Gi"}}}}],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain"},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}},
        "status": {"replicas": 3, "currentRevision": "db-1", "collisionCount": 0}
    }));
    let rev: apps::v1::ControllerRevision = roundtrip(&json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata("db-1"),
        "data": {"spec": {"template": {"spec": {"containers": [{"name": "db"}]}}}},
        "revision": 1
    }));
    let data = rev.data.unwrap().raw.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&data).unwrap()["spec"]["template"]["spec"]["containers"]
            [0]["name"],
        "db"
    );
}

#[test]
fn batch() {
    let job = json!({
        "metadata": {"labels": {"job": "j"}},
        "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6,
            "activeDeadlineSeconds": 100, "ttlSecondsAfterFinished": 0,
            "completionMode": "NonIndexed", "suspend": false, "template": pod_template()}
    });
    roundtrip::<batch::v1::Job>(&json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata("j"),
        "spec": job["spec"],
        "status": {"active": 1, "succeeded": 0, "startTime": "2026-01-02T03:04:05Z",
            "uncountedTerminatedPods": {}, "ready": 1}
    }));
    roundtrip::<batch::v1::CronJob>(&json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata("cj"),
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3,
            "jobTemplate": job},
        "status": {"lastScheduleTime": "2026-01-02T03:05:00Z",
            "active": [{"kind": "Job", "name": "cj-1", "namespace": "default"}]}
    }));
}

#[test]
fn networking() {
    let ing: networking::v1::Ingress = roundtrip(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata("i"),
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "foo.com", "http": {"paths": [{
            "path": "/bar", "pathType": "Exact",
            "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}],
            "tls": [{"hosts": ["foo.com"], "secretName": "tls"}]},
        "status": {"loadBalancer": {}}
    }));
    assert_eq!(ing.spec.unwrap().rules[0].host.as_deref(), Some("foo.com"));
    roundtrip::<networking::v1::NetworkPolicy>(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata("np"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                {"namespaceSelector": {"matchLabels": {"a": "b"}}}],
                "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}]}],
            "egress": [{}]}
    }));
    roundtrip::<networking::v1::IngressClass>(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
        "spec": {"controller": "k8s.io/ingress-nginx"}
    }));
}

#[test]
fn identity() {
    roundtrip::<core::v1::ServiceAccount>(&json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata("sa"),
        "secrets": [{"name": "sa-token"}], "imagePullSecrets": [{"name": "reg"}],
        "automountServiceAccountToken": false
    }));
    roundtrip::<authentication::v1::TokenRequest>(&json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": metadata("sa"),
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u"}},
        "status": {"token": "eyJ", "expirationTimestamp": "2026-01-02T04:04:05Z"}
    }));
    let rules = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]);
    roundtrip::<rbac::v1::Role>(&json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata("r"),
        "rules": rules
    }));
    roundtrip::<rbac::v1::ClusterRole>(&json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "cr"}, "rules": rules,
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}
    }));
    let binding = |kind: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"},
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"}
        })
    };
    roundtrip::<rbac::v1::RoleBinding>(&binding("RoleBinding"));
    roundtrip::<rbac::v1::ClusterRoleBinding>(&binding("ClusterRoleBinding"));
    roundtrip::<authorization::v1::SelfSubjectAccessReview>(&json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods",
            "group": ""}},
        "status": {"allowed": true, "reason": "RBAC: allowed"}
    }));
    roundtrip::<authorization::v1::SubjectAccessReview>(&json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
        "spec": {"user": "alice", "groups": ["system:authenticated"],
            "extra": {"scopes": ["a", "b"]}, "nonResourceAttributes": {"path": "/x", "verb": "get"}},
        "status": {"allowed": false, "denied": true}
    }));
}

#[test]
fn events_both_groups() {
    roundtrip::<core::v1::Event>(&json!({
        "apiVersion": "v1", "kind": "Event", "metadata": metadata("p.1"),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u",
            "apiVersion": "v1", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled", "message": "ok", "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:09Z",
        "count": 2, "type": "Normal", "eventTime": "2026-01-02T03:04:05.000001Z",
        "reportingComponent": "kubelet", "reportingInstance": "n1"
    }));
    let ev: events::v1::Event = roundtrip(&json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": metadata("p.2"),
        "eventTime": "2026-01-02T03:04:05.250000Z", "reportingController": "default-scheduler",
        "reportingInstance": "s", "action": "Binding", "reason": "Scheduled",
        "regarding": {"kind": "Pod", "name": "p"}, "note": "assigned", "type": "Normal",
        "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:06.000000Z"}
    }));
    assert_eq!(ev.event_time.unwrap().nanos, Some(250_000_000));
}

#[test]
fn custom_resource_definition() {
    let crd: apiextensions::CustomResourceDefinition = roundtrip(&json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                "shortNames": ["wd"], "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                    "jsonPath": ".spec.size"}],
                "schema": {"openAPIV3Schema": {"type": "object", "description": "a widget",
                    "required": ["spec"],
                    "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {"size": {"type": "integer", "minimum": 1.0,
                                "maximum": 10.5, "default": 3, "enum": [1, 2, 3]},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "tuple": {"type": "array", "items": [{"type": "string"}]},
                            "deps": {"type": "object", "additionalProperties": false,
                                "dependencies": {"a": ["b"], "c": {"type": "object"}}},
                            "any": {"type": "object", "additionalProperties": {"type": "string"}},
                            "ref": {"$ref": "#/x", "x-kubernetes-int-or-string": true}}},
                        "status": {"type": "object", "x-kubernetes-validations": [
                            {"rule": "self.size > 0", "message": "positive"}]}}}}}],
            "conversion": {"strategy": "None"}},
        "status": {"acceptedNames": {"plural": "widgets", "kind": "Widget"}, "storedVersions": ["v1"],
            "conditions": [{"type": "Established", "status": "True",
                "lastTransitionTime": "2026-01-02T03:04:05Z"}]}
    }));
    let version = &crd.spec.unwrap().versions[0];
    let schema = version.schema.clone().unwrap().open_apiv3_schema.unwrap();
    let spec = &schema.properties["spec"];
    assert_eq!(spec.x_kubernetes_preserve_unknown_fields, Some(true));
    let size = &spec.properties["size"];
    assert_eq!(size.default.clone().unwrap().raw.unwrap(), b"3");
    assert_eq!(spec.properties["ref"].r#ref.as_deref(), Some("#/x"));
}

#[test]
fn meta_kinds() {
    let status: meta::Status = roundtrip(&json!({
        "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
        "message": "pods \"p\" not found", "reason": "NotFound", "code": 404,
        "details": {"name": "p", "group": "", "kind": "pods",
            "causes": [{"reason": "FieldValueRequired", "message": "m", "field": "spec"}]}
    }));
    assert_eq!(status.code, Some(404));
    roundtrip::<k8s_pb::api::autoscaling::v1::Scale>(&json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": metadata("web"),
        "spec": {"replicas": 0}, "status": {"replicas": 2, "selector": "app=web"}
    }));
    roundtrip::<core::v1::Binding>(&json!({
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
        "target": {"kind": "Node", "name": "n1", "apiVersion": "v1"}
    }));
    roundtrip::<meta::DeleteOptions>(&json!({
        "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground", "dryRun": ["All"],
        "preconditions": {"uid": "u", "resourceVersion": "1"}
    }));
    let list: apps::v1::DeploymentList = roundtrip(&json!({
        "apiVersion": "apps/v1", "kind": "DeploymentList",
        "metadata": {"resourceVersion": "7", "continue": ""},
        "items": [{"metadata": {"name": "a"}, "spec": {"replicas": 1}},
            {"metadata": {"name": "b"}, "spec": {}}]
    }));
    assert_eq!(list.items.len(), 2);
}
