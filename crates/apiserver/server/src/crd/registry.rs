//! The served kinds at this moment: the built-in table plus what Established
//! CustomResourceDefinitions add. Handlers keep taking `&'static ResourceType`: a custom kind
//! is interned (leaked once per distinct definition, so re-registering an unchanged CRD, as
//! every restart and status write does, costs nothing).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

use crate::resources::{RESOURCES, ResourceType, group_versions};

/// The dynamic part of the API's resource set.
#[derive(Default)]
pub struct Registry {
    custom: RwLock<Vec<&'static ResourceType>>,
    interned: Mutex<HashMap<String, &'static ResourceType>>,
    /// A hash of the custom kinds' definitions: changes whenever the set does (the OpenAPI
    /// documents' `?hash=` and their cache key), and is the same for the same set after a
    /// restart, so clients' caches stay valid.
    fingerprint: AtomicU64,
    /// Documents derived from the served kinds (OpenAPI), by name, with the fingerprint they
    /// were built at.
    documents: Mutex<HashMap<String, (u64, Arc<Value>)>>,
}

// === impl Registry ===

impl Registry {
    /// Every served kind: built-ins first, then custom kinds in CRD order.
    pub fn all(&self) -> Vec<&'static ResourceType> {
        let custom = self.custom.read().expect("registry lock");
        RESOURCES.iter().chain(custom.iter().copied()).collect()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
        ResourceType::find(group, version, plural).or_else(|| {
            let custom = self.custom.read().expect("registry lock");
            custom
                .iter()
                .copied()
                .find(|r| r.group == group && r.version == version && r.plural == plural)
        })
    }

    /// The (group, version) pairs served, core first; within a group, preferred first.
    pub fn group_versions(&self) -> Vec<(&'static str, &'static str)> {
        group_versions(self.all())
    }

    /// The versions of one group, preferred first.
    pub fn versions_of(&self, group: &str) -> Vec<&'static str> {
        self.group_versions()
            .into_iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, v)| v)
            .collect()
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint.load(Ordering::Acquire)
    }

    /// The document `name` as `build` makes it from the kinds served now, built once per
    /// change of the served kinds.
    pub fn document(
        &self,
        name: &str,
        build: impl FnOnce() -> Option<Value>,
    ) -> Option<Arc<Value>> {
        let fingerprint = self.fingerprint();
        let mut documents = self.documents.lock().expect("registry lock");
        if let Some((at, doc)) = documents.get(name)
            && *at == fingerprint
        {
            return Some(doc.clone());
        }
        let doc = Arc::new(build()?);
        documents.insert(name.to_string(), (fingerprint, doc.clone()));
        Some(doc)
    }

    /// Replaces the custom kinds with `desired`, each given with the key that identifies its
    /// definition and how to build it (equal keys reuse the interned type, unbuilt).
    pub fn replace<F: FnOnce() -> ResourceType>(&self, desired: Vec<(String, F)>) {
        let mut interned = self.interned.lock().expect("registry lock");
        let mut hasher = DefaultHasher::new();
        let next: Vec<&'static ResourceType> = desired
            .into_iter()
            .map(|(key, build)| {
                key.hash(&mut hasher);
                *interned
                    .entry(key)
                    .or_insert_with(|| Box::leak(Box::new(build())))
            })
            .collect();
        let mut custom = self.custom.write().expect("registry lock");
        let changed = custom.len() != next.len()
            || custom.iter().zip(&next).any(|(a, b)| !std::ptr::eq(*a, *b));
        if changed {
            tracing::info!(kinds = next.len(), "custom resources changed");
            *custom = next;
            self.fingerprint.store(hasher.finish(), Ordering::Release);
        }
    }
}
