//! What an event is about: an ObjectReference, as client-go's `reference.GetReference`.

use k8s_openapi::api::core::v1::ObjectReference;

/// The object an event regards.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference(pub ObjectReference);

// === impl Reference ===

impl Reference {
    /// A reference to a typed object: apiVersion, kind, namespace, name, uid, resourceVersion.
    pub fn of<K: kube::Resource<DynamicType = ()>>(object: &K) -> Self {
        Reference(object.object_ref(&()))
    }

    /// The same reference to a part of the object (`spec.containers{web}`), as the kubelet
    /// names a container.
    pub fn field(mut self, field_path: impl Into<String>) -> Self {
        self.0.field_path = Some(field_path.into());
        self
    }

    /// A node as the kubelet refers to its own: the name doubles as uid, so that
    /// `kubectl describe node` (which selects on the node name as uid) finds its events.
    pub fn node(name: &str) -> Self {
        Reference(ObjectReference {
            kind: Some("Node".into()),
            name: Some(name.into()),
            uid: Some(name.into()),
            ..Default::default()
        })
    }

    /// `Pod ns1/web-1`, for logs.
    pub fn describe(&self) -> String {
        let r = &self.0;
        let kind = r.kind.as_deref().unwrap_or("");
        let name = r.name.as_deref().unwrap_or("");
        match r.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        }
    }
}
