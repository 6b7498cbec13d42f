use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource type as the API names it: an API group ("" for core) and the plural
/// (`pods`, `deployments`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Resource {
    pub group: String,
    pub plural: String,
}

/// Where one object lives: its resource, namespace ("" for cluster-scoped kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub resource: Resource,
    pub namespace: String,
    pub name: String,
}

// === impl Resource ===

impl Resource {
    pub fn new(group: &str, plural: &str) -> Self {
        Resource {
            group: group.to_string(),
            plural: plural.to_string(),
        }
    }

    pub fn key(&self, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            resource: self.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// `pods`, `deployments.apps`: the form the API server's messages use.
impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.plural)
        } else {
            write!(f, "{}.{}", self.plural, self.group)
        }
    }
}

// === impl ObjectKey ===

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.resource, self.name)?;
        if !self.namespace.is_empty() {
            write!(f, " in namespace \"{}\"", self.namespace)?;
        }
        Ok(())
    }
}
