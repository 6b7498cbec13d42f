//! The proxy's view of the cluster: Services and EndpointSlices by name, with the set of
//! Services whose plan may have changed since the last sync (kube-proxy's change trackers:
//! a no-op update marks nothing).

use std::collections::{BTreeMap, BTreeSet};

use podnet_k8s_model::{EndpointSliceInfo, Service, ServiceName};

/// `namespace/name` of an EndpointSlice.
pub type SliceKey = (String, String);

/// Services and EndpointSlices, normalised, and what changed since [`ServiceState::take_dirty`].
#[derive(Debug, Default)]
pub struct ServiceState {
    services: BTreeMap<ServiceName, Service>,
    slices: BTreeMap<SliceKey, EndpointSliceInfo>,
    slices_by_service: BTreeMap<ServiceName, BTreeSet<SliceKey>>,
    dirty: BTreeSet<ServiceName>,
}

// === impl ServiceState ===

impl ServiceState {
    /// Adds or replaces a Service; returns whether anything changed.
    pub fn upsert_service(&mut self, svc: Service) -> bool {
        if self.services.get(&svc.name) == Some(&svc) {
            return false;
        }
        self.dirty.insert(svc.name.clone());
        self.services.insert(svc.name.clone(), svc);
        true
    }

    pub fn remove_service(&mut self, name: &ServiceName) -> bool {
        let removed = self.services.remove(name).is_some();
        if removed {
            self.dirty.insert(name.clone());
        }
        removed
    }

    /// Adds or replaces an EndpointSlice; returns whether anything changed.
    pub fn upsert_slice(&mut self, slice: EndpointSliceInfo) -> bool {
        let key = (slice.namespace.clone(), slice.name.clone());
        let old = self.slices.get(&key);
        if old == Some(&slice) {
            return false;
        }
        // A slice relabelled to another Service changes both.
        if let Some(old_svc) = old.and_then(|o| o.service.clone()) {
            self.unlink(&old_svc, &key);
        }
        if let Some(svc) = &slice.service {
            self.dirty.insert(svc.clone());
            self.slices_by_service
                .entry(svc.clone())
                .or_default()
                .insert(key.clone());
        }
        self.slices.insert(key, slice);
        true
    }

    pub fn remove_slice(&mut self, namespace: &str, name: &str) -> bool {
        let key = (namespace.to_owned(), name.to_owned());
        let Some(old) = self.slices.remove(&key) else {
            return false;
        };
        if let Some(svc) = old.service {
            self.unlink(&svc, &key);
        }
        true
    }

    /// Replaces everything (after a watch relist); the Services whose inputs differ become
    /// dirty, exactly as if each difference had arrived as an event.
    pub fn replace_all(&mut self, services: Vec<Service>, slices: Vec<EndpointSliceInfo>) {
        self.replace_services(services);
        self.replace_slices(slices);
    }

    /// Replaces every Service (a relist of the Service watch).
    pub fn replace_services(&mut self, services: Vec<Service>) {
        let keep: BTreeSet<ServiceName> = services.iter().map(|s| s.name.clone()).collect();
        let gone: Vec<ServiceName> = self
            .services
            .keys()
            .filter(|n| !keep.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            self.remove_service(&name);
        }
        for svc in services {
            self.upsert_service(svc);
        }
    }

    /// Replaces every EndpointSlice (a relist of the EndpointSlice watch).
    pub fn replace_slices(&mut self, slices: Vec<EndpointSliceInfo>) {
        let keep: BTreeSet<SliceKey> = slices
            .iter()
            .map(|s| (s.namespace.clone(), s.name.clone()))
            .collect();
        let gone: Vec<SliceKey> = self
            .slices
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.remove_slice(&ns, &name);
        }
        for slice in slices {
            self.upsert_slice(slice);
        }
    }

    /// The Services changed since the last call (including deleted ones).
    pub fn take_dirty(&mut self) -> BTreeSet<ServiceName> {
        std::mem::take(&mut self.dirty)
    }

    /// Marks every Service dirty (a full resync, or a change of the node itself).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.services.keys().cloned());
    }

    pub fn service(&self, name: &ServiceName) -> Option<&Service> {
        self.services.get(name)
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The EndpointSlices labelled for `name`.
    pub fn slices_of<'a>(
        &'a self,
        name: &ServiceName,
    ) -> impl Iterator<Item = &'a EndpointSliceInfo> + Clone + 'a {
        self.slices_by_service
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|k| self.slices.get(k))
    }

    fn unlink(&mut self, svc: &ServiceName, key: &SliceKey) {
        self.dirty.insert(svc.clone());
        if let Some(set) = self.slices_by_service.get_mut(svc) {
            set.remove(key);
            if set.is_empty() {
                self.slices_by_service.remove(svc);
            }
        }
    }
}
