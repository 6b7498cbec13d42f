//! The message table's shape: what the codec needs to know about each Kubernetes message.

/// One protobuf message, named by its k8s-pb module path (`api.apps.v1.Deployment`).
pub struct Message {
    pub name: &'static str,
    /// In tag order, as Kubernetes' generated marshallers write them.
    pub fields: &'static [Field],
}

pub struct Field {
    /// The field's name in Kubernetes JSON.
    pub json: &'static str,
    pub tag: u32,
    pub repeated: bool,
    /// A Go struct embedded with `json:",inline"` (Probe's handler, Volume's volumeSource):
    /// its own message on the wire, its fields flattened into the parent's in JSON.
    pub inline: bool,
    pub ty: Type,
}

#[derive(Clone, Copy)]
pub enum Type {
    Scalar(Scalar),
    Message(&'static str),
    /// A map with string keys (the only kind Kubernetes uses).
    Map(&'static Type),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
}

/// The message called `name`, if Kubernetes defines one.
pub fn message(name: &str) -> Option<&'static Message> {
    let all = crate::generated::MESSAGES;
    all.binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| &all[i])
}
