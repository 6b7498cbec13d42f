//! The resource types the server speaks, as one table: discovery, routing, validation,
//! printing and strategy all read it.

use std::sync::Arc;

use k8s_openapi::schemars::{Schema, SchemaGenerator};
use podnet_apiserver_store::Resource;
use serde_json::Value;

use crate::crd::CustomVersion;
use crate::validate::{self, Errors};

/// One REST resource of the API.
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a `/status` subresource: the main resource ignores status, `/status` only it.
    pub status: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale over `spec.replicas`).
    pub scale: bool,
    /// Field selector labels beyond metadata.name / metadata.namespace.
    pub fields: &'static [&'static str],
    /// Decodes into the typed form (the shape check behind 400 BadRequest) and returns the
    /// typed value re-encoded, from which unknown fields are found.
    pub decode: fn(&Value) -> Result<Value, String>,
    pub validate: fn(&Value, &mut Errors),
    /// Set on the kinds a CustomResourceDefinition serves: their schema, columns, scale.
    pub custom: Option<&'static CustomVersion>,
    /// A built-in kind's OpenAPI schema (k8s-openapi's), registered in the generator.
    pub openapi: Option<fn(&mut SchemaGenerator) -> Schema>,
    /// Set when this resource is another API version's view of objects stored as another
    /// resource (events.k8s.io/v1 Events are core/v1 Events): every read and write converts.
    pub view: Option<&'static View>,
}

/// How a view's objects map onto the resource they are stored as.
pub struct View {
    /// The (group, plural) the objects are stored under.
    pub stored: (&'static str, &'static str),
    /// The view's form of an object → the stored form.
    pub to_stored: fn(Value) -> Value,
    /// The stored form → the view's form.
    pub from_stored: fn(&Value) -> Value,
    /// A field-selector label of the view → the label of the stored resource it means.
    pub stored_label: fn(&str) -> &str,
}

/// A subresource: its path segment, the kind its requests and replies speak, its verbs.
pub struct Subresource {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];

pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

const VERBS_BUT_DELETECOLLECTION: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

fn decode<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    Ok(serde_json::to_value(typed).expect("typed objects serialize"))
}

macro_rules! resource {
    ($ty:ty, $group:expr, $plural:expr, $singular:expr, namespaced: $ns:expr,
     short: $short:expr, categories: $cat:expr, status: $status:expr, scale: $scale:expr,
     fields: $fields:expr, validate: $validate:expr) => {
        ResourceType {
            group: $group,
            version: <$ty as k8s_openapi::Resource>::VERSION,
            kind: <$ty as k8s_openapi::Resource>::KIND,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            status: $status,
            scale: $scale,
            fields: $fields,
            decode: decode::<$ty>,
            validate: $validate,
            custom: None,
            openapi: Some(|generator| generator.subschema_for::<$ty>()),
            view: None,
        }
    };
}

use k8s_openapi::api::{apps, batch, coordination, core, discovery, events, networking};
use k8s_openapi::api::{authentication, authorization, policy, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;

pub static RESOURCES: &[ResourceType] = &[
    resource!(core::v1::Namespace, "", "namespaces", "namespace", namespaced: false,
        short: &["ns"], categories: &[], status: true, scale: false,
        fields: &["status.phase"], validate: validate::namespace),
    resource!(core::v1::Node, "", "nodes", "node", namespaced: false,
        short: &["no"], categories: &[], status: true, scale: false,
        fields: &["spec.unschedulable"], validate: validate::node),
    resource!(core::v1::Pod, "", "pods", "pod", namespaced: true,
        short: &["po"], categories: &["all"], status: true, scale: false,
        fields: &["spec.nodeName", "status.phase", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.podIP",
            "status.nominatedNodeName"],
        validate: validate::pod),
    resource!(core::v1::Service, "", "services", "service", namespaced: true,
        short: &["svc"], categories: &["all"], status: true, scale: false,
        fields: &["spec.clusterIP", "spec.type"], validate: validate::service),
    resource!(core::v1::ConfigMap, "", "configmaps", "configmap", namespaced: true,
        short: &["cm"], categories: &[], status: false, scale: false,
        fields: &[], validate: validate::config_map),
    resource!(discovery::v1::EndpointSlice, "discovery.k8s.io", "endpointslices",
        "endpointslice", namespaced: true, short: &[], categories: &[], status: false,
        scale: false, fields: &["addressType"], validate: validate::endpoint_slice),
    resource!(apps::v1::Deployment, "apps", "deployments", "deployment", namespaced: true,
        short: &["deploy"], categories: &["all"], status: true, scale: true,
        fields: &[], validate: validate::deployment),
    resource!(apps::v1::ReplicaSet, "apps", "replicasets", "replicaset", namespaced: true,
        short: &["rs"], categories: &["all"], status: true, scale: true,
        fields: &[], validate: validate::replica_set),
    resource!(apps::v1::DaemonSet, "apps", "daemonsets", "daemonset", namespaced: true,
        short: &["ds"], categories: &["all"], status: true, scale: false,
        fields: &[], validate: validate::daemon_set),
    resource!(apps::v1::StatefulSet, "apps", "statefulsets", "statefulset", namespaced: true,
        short: &["sts"], categories: &["all"], status: true, scale: true,
        fields: &[], validate: validate::stateful_set),
    resource!(apps::v1::ControllerRevision, "apps", "controllerrevisions", "controllerrevision",
        namespaced: true, short: &[], categories: &[], status: false, scale: false,
        fields: &[], validate: validate::controller_revision),
    resource!(batch::v1::Job, "batch", "jobs", "job", namespaced: true,
        short: &[], categories: &["all"], status: true, scale: false,
        fields: &["status.successful"], validate: validate::job),
    resource!(batch::v1::CronJob, "batch", "cronjobs", "cronjob", namespaced: true,
        short: &["cj"], categories: &["all"], status: true, scale: false,
        fields: &[], validate: validate::cron_job),
    resource!(networking::v1::NetworkPolicy, "networking.k8s.io", "networkpolicies",
        "networkpolicy", namespaced: true, short: &["netpol"], categories: &[], status: false,
        scale: false, fields: &[], validate: validate::network_policy),
    resource!(networking::v1::Ingress, "networking.k8s.io", "ingresses", "ingress",
        namespaced: true, short: &["ing"], categories: &[], status: true, scale: false,
        fields: &[], validate: validate::ingress),
    resource!(networking::v1::IngressClass, "networking.k8s.io", "ingressclasses",
        "ingressclass", namespaced: false, short: &[], categories: &[], status: false,
        scale: false, fields: &[], validate: validate::ingress_class),
    resource!(policy::v1::PodDisruptionBudget, "policy", "poddisruptionbudgets",
        "poddisruptionbudget", namespaced: true, short: &["pdb"], categories: &[],
        status: true, scale: false, fields: &[], validate: validate::pod_disruption_budget),
    resource!(coordination::v1::Lease, "coordination.k8s.io", "leases", "lease",
        namespaced: true, short: &[], categories: &[], status: false, scale: false,
        fields: &[], validate: validate::lease),
    resource!(apiextensions::v1::CustomResourceDefinition, "apiextensions.k8s.io",
        "customresourcedefinitions", "customresourcedefinition", namespaced: false,
        short: &["crd", "crds"], categories: &["api-extensions"], status: true, scale: false,
        fields: &[], validate: crate::crd::validate),
    resource!(core::v1::Secret, "", "secrets", "secret", namespaced: true,
        short: &[], categories: &[], status: false, scale: false,
        fields: &["type"], validate: validate::secret),
    resource!(core::v1::ServiceAccount, "", "serviceaccounts", "serviceaccount",
        namespaced: true, short: &["sa"], categories: &[], status: false, scale: false,
        fields: &[], validate: validate::service_account),
    resource!(rbac::v1::Role, "rbac.authorization.k8s.io", "roles", "role",
        namespaced: true, short: &[], categories: &[], status: false, scale: false,
        fields: &[], validate: validate::role),
    resource!(rbac::v1::ClusterRole, "rbac.authorization.k8s.io", "clusterroles",
        "clusterrole", namespaced: false, short: &[], categories: &[], status: false,
        scale: false, fields: &[], validate: validate::cluster_role),
    resource!(rbac::v1::RoleBinding, "rbac.authorization.k8s.io", "rolebindings",
        "rolebinding", namespaced: true, short: &[], categories: &[], status: false,
        scale: false, fields: &[], validate: validate::role_binding),
    resource!(rbac::v1::ClusterRoleBinding, "rbac.authorization.k8s.io",
        "clusterrolebindings", "clusterrolebinding", namespaced: false, short: &[],
        categories: &[], status: false, scale: false, fields: &[],
        validate: validate::cluster_role_binding),
    resource!(authentication::v1::SelfSubjectReview, "authentication.k8s.io",
        "selfsubjectreviews", "selfsubjectreview", namespaced: false, short: &[],
        categories: &[], status: false, scale: false, fields: &[], validate: validate::review),
    resource!(authorization::v1::SelfSubjectAccessReview, "authorization.k8s.io",
        "selfsubjectaccessreviews", "selfsubjectaccessreview", namespaced: false, short: &[],
        categories: &[], status: false, scale: false, fields: &[], validate: validate::review),
    resource!(authorization::v1::SelfSubjectRulesReview, "authorization.k8s.io",
        "selfsubjectrulesreviews", "selfsubjectrulesreview", namespaced: false, short: &[],
        categories: &[], status: false, scale: false, fields: &[], validate: validate::review),
    resource!(authorization::v1::SubjectAccessReview, "authorization.k8s.io",
        "subjectaccessreviews", "subjectaccessreview", namespaced: false, short: &[],
        categories: &[], status: false, scale: false, fields: &[], validate: validate::review),
    resource!(authorization::v1::LocalSubjectAccessReview, "authorization.k8s.io",
        "localsubjectaccessreviews", "localsubjectaccessreview", namespaced: true, short: &[],
        categories: &[], status: false, scale: false, fields: &[], validate: validate::review),
    resource!(core::v1::Event, "", "events", "event", namespaced: true, short: &["ev"],
        categories: &[], status: false, scale: false, fields: crate::events::CORE_FIELDS,
        validate: crate::events::validate_core),
    ResourceType {
        view: Some(&crate::events::EVENTS_V1),
        ..resource!(events::v1::Event, "events.k8s.io", "events", "event", namespaced: true,
            short: &["ev"], categories: &[], status: false, scale: false,
            fields: crate::events::V1_FIELDS, validate: crate::events::validate_v1)
    },
];

// === impl ResourceType ===

impl ResourceType {
    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
        RESOURCES
            .iter()
            .find(|r| r.api_version() == api_version && r.kind == kind)
    }

    pub fn store_resource(&self) -> Resource {
        match self.view {
            Some(View {
                stored: (group, plural),
                ..
            }) => Resource::new(group, plural),
            None => Resource::new(self.group, self.plural),
        }
    }

    /// A stored object as this resource's clients see it (a view's form).
    pub fn present(&self, stored: &Arc<Value>) -> Arc<Value> {
        match self.view {
            Some(view) => Arc::new((view.from_stored)(stored)),
            None => stored.clone(),
        }
    }

    /// What is stored for an object written in this resource's form.
    pub fn to_stored(&self, obj: Value) -> Value {
        match self.view {
            Some(view) => (view.to_stored)(obj),
            None => obj,
        }
    }

    /// The path in the stored object that a field-selector label reads.
    pub fn field_path(&self, label: &str) -> String {
        let label = self.view.map_or(label, |view| (view.stored_label)(label));
        crate::events::computed_field(self.store_resource(), label).to_string()
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, as messages name the resource.
    pub fn qualified(&self) -> String {
        Resource::new(self.group, self.plural).to_string()
    }

    pub fn supports_field(&self, field: &str) -> bool {
        matches!(field, "metadata.name" | "metadata.namespace")
            && (self.namespaced || field == "metadata.name")
            || self.fields.contains(&field)
    }

    /// The `/api/v1` or `/apis/G/V` prefix of this resource's paths.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The verbs of the main resource: all of [`VERBS`] but namespaces' deletecollection
    /// (upstream serves none: each namespace is finalized on its own).
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.group.is_empty() && self.kind == "Namespace" {
            &VERBS_BUT_DELETECOLLECTION
        } else if crate::rbac::reviews::is_review(self) {
            &["create"]
        } else {
            VERBS
        }
    }

    /// `status` and `scale` where flagged; a namespace's `finalize` and a pod's `binding`.
    pub fn subresources(&self) -> impl Iterator<Item = Subresource> {
        let own = |name, verbs| Subresource {
            name,
            group: self.group,
            version: self.version,
            kind: self.kind,
            verbs,
        };
        let core = self.group.is_empty();
        [
            self.status.then(|| own("status", GET_PATCH_UPDATE)),
            self.scale.then_some(Subresource {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: GET_PATCH_UPDATE,
            }),
            (core && self.kind == "Namespace").then(|| own("finalize", &["update"])),
            (core && self.kind == "ServiceAccount").then_some(Subresource {
                name: "token",
                group: "authentication.k8s.io",
                version: "v1",
                kind: "TokenRequest",
                verbs: &["create"],
            }),
            (core && self.kind == "Pod").then_some(Subresource {
                name: "binding",
                group: "",
                version: "v1",
                kind: "Binding",
                verbs: &["create"],
            }),
            (core && self.kind == "Pod").then(|| own("ephemeralcontainers", GET_PATCH_UPDATE)),
            // The streaming subresources (served by `connect`, carried to the kubelet).
            (core && self.kind == "Pod").then(|| own("log", &["get"])),
            (core && self.kind == "Pod").then_some(Subresource {
                name: "exec",
                group: "",
                version: "v1",
                kind: "PodExecOptions",
                verbs: &["create", "get"],
            }),
            (core && self.kind == "Pod").then_some(Subresource {
                name: "attach",
                group: "",
                version: "v1",
                kind: "PodAttachOptions",
                verbs: &["create", "get"],
            }),
            (core && self.kind == "Pod").then_some(Subresource {
                name: "portforward",
                group: "",
                version: "v1",
                kind: "PodPortForwardOptions",
                verbs: &["create", "get"],
            }),
        ]
        .into_iter()
        .flatten()
    }

    pub fn subresource(&self, name: &str) -> Option<Subresource> {
        self.subresources().find(|s| s.name == name)
    }
}

/// The distinct (group, version) pairs of `types`, in their order (core first).
pub fn group_versions<'a>(
    types: impl IntoIterator<Item = &'a ResourceType>,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in types {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}
