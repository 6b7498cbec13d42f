//! The write side: the objects as last seen, what each one contributes at which name, and
//! the shards of the index, updated incrementally. [`Catalog::publish`] re-encodes only the
//! names that changed and copies only the shards that hold them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use podnet_k8s_model::{DnsEndpointSlice, DnsPod, DnsService};

use crate::config::ZoneConfig;
use crate::records::{self, Piece, Pieces};
use crate::snapshot::{Node, SHARDS, Shard, Snapshot, ZoneInfo, new_shard, shard_of, soa_tail};
use crate::wire::Name;

/// Who put a record at a name; a name's records are the union over its owners.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Owner {
    Zone,
    Namespace(String),
    Service(String, String),
    Pod(String, String),
}

type Key = (String, String);

pub struct Catalog {
    config: Arc<ZoneConfig>,
    services: HashMap<Key, DnsService>,
    slices: HashMap<Key, DnsEndpointSlice>,
    /// (namespace, service) → names of its slices.
    by_service: HashMap<Key, BTreeSet<String>>,
    namespaces: BTreeSet<String>,
    pods: HashMap<Key, DnsPod>,
    owned: HashMap<Owner, Vec<Name>>,
    names: HashMap<Name, BTreeMap<Owner, Piece>>,
    shards: Vec<Arc<Shard>>,
    dirty: HashSet<Name>,
    serial: u32,
}

impl Catalog {
    pub fn new(config: ZoneConfig) -> Self {
        let mut c = Catalog {
            config: Arc::new(config),
            services: HashMap::new(),
            slices: HashMap::new(),
            by_service: HashMap::new(),
            namespaces: BTreeSet::new(),
            pods: HashMap::new(),
            owned: HashMap::new(),
            names: HashMap::new(),
            shards: (0..SHARDS).map(|_| Arc::new(new_shard())).collect(),
            dirty: HashSet::new(),
            serial: 0,
        };
        c.bump_serial();
        c
    }

    pub fn config(&self) -> &ZoneConfig {
        &self.config
    }

    /// A new zone configuration: every name is derived again.
    pub fn set_config(&mut self, config: ZoneConfig) {
        if *self.config == config {
            return;
        }
        self.config = Arc::new(config);
        self.dirty.extend(self.names.keys().cloned());
        self.names.clear();
        self.owned.clear();
        self.set_owner(Owner::Zone, records::zone_pieces(&self.config, self.serial));
        for ns in self.namespaces.clone() {
            self.refresh_namespace(&ns);
        }
        for key in self.services.keys().cloned().collect::<Vec<_>>() {
            self.refresh_service(&key);
        }
        for key in self.pods.keys().cloned().collect::<Vec<_>>() {
            self.refresh_pod(&key);
        }
    }

    pub fn upsert_service(&mut self, svc: DnsService) {
        let key = (svc.namespace.clone(), svc.name.clone());
        if self.services.get(&key) == Some(&svc) {
            return;
        }
        self.services.insert(key.clone(), svc);
        self.refresh_service(&key);
    }

    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        if self.services.remove(&key).is_some() {
            self.refresh_service(&key);
        }
    }

    pub fn upsert_slice(&mut self, slice: DnsEndpointSlice) {
        let key = (slice.namespace.clone(), slice.name.clone());
        if self.slices.get(&key) == Some(&slice) {
            return;
        }
        let new_owner = slice.service.clone();
        let old = self.slices.insert(key.clone(), slice);
        let old_owner = old.and_then(|o| o.service);
        if old_owner != new_owner
            && let Some(svc) = old_owner
        {
            self.unlink_slice(&key, &svc);
        }
        if let Some(svc) = new_owner {
            let skey = (key.0.clone(), svc);
            self.by_service
                .entry(skey.clone())
                .or_default()
                .insert(key.1.clone());
            self.refresh_service(&skey);
        }
    }

    pub fn delete_slice(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(svc) = self.slices.remove(&key).and_then(|s| s.service) {
            self.unlink_slice(&key, &svc);
        }
    }

    pub fn upsert_namespace(&mut self, name: &str) {
        if self.namespaces.insert(name.to_owned()) {
            self.refresh_namespace(name);
        }
    }

    pub fn delete_namespace(&mut self, name: &str) {
        if self.namespaces.remove(name) {
            self.refresh_namespace(name);
        }
    }

    pub fn upsert_pod(&mut self, pod: DnsPod) {
        let key = (pod.namespace.clone(), pod.name.clone());
        if self.pods.get(&key) == Some(&pod) {
            return;
        }
        self.pods.insert(key.clone(), pod);
        self.refresh_pod(&key);
    }

    pub fn delete_pod(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        if self.pods.remove(&key).is_some() {
            self.refresh_pod(&key);
        }
    }

    /// (namespace, name) of every Service, EndpointSlice and Pod held, and every Namespace:
    /// after a watcher re-lists, what it did not list again is deleted.
    pub fn service_keys(&self) -> Vec<Key> {
        self.services.keys().cloned().collect()
    }

    pub fn slice_keys(&self) -> Vec<Key> {
        self.slices.keys().cloned().collect()
    }

    pub fn pod_keys(&self) -> Vec<Key> {
        self.pods.keys().cloned().collect()
    }

    pub fn namespace_names(&self) -> Vec<String> {
        self.namespaces.iter().cloned().collect()
    }

    /// Whether anything changed since the last [`Catalog::publish`].
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Encodes the changed names into the shards and returns the new snapshot; unchanged
    /// shards are shared with the previous one.
    pub fn publish(&mut self) -> Arc<Snapshot> {
        if !self.dirty.is_empty() {
            self.bump_serial();
        }
        let ttl = self.config.ttl;
        for name in std::mem::take(&mut self.dirty) {
            let shard = Arc::make_mut(&mut self.shards[shard_of(name.wire())]);
            match self.names.get(&name) {
                Some(pieces) => {
                    shard.insert(name, Arc::new(Node::encode(pieces.values(), ttl)));
                }
                None => {
                    shard.remove(&name);
                }
            }
        }
        let config = &self.config;
        let zones = config
            .zones
            .iter()
            .map(|z| (z, false))
            .chain(config.reverse.iter().map(|z| (z, true)))
            .map(|(z, reverse)| ZoneInfo {
                apex: z.clone(),
                reverse,
                fallthrough: config.falls_through(z),
                soa_tail: soa_tail(z, self.serial, ttl),
            })
            .collect();
        Arc::new(Snapshot {
            shards: self.shards.clone(),
            zones,
            config: self.config.clone(),
            serial: self.serial,
        })
    }

    // --- internals ---

    fn bump_serial(&mut self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        self.serial = now.max(self.serial.wrapping_add(1));
        self.set_owner(Owner::Zone, records::zone_pieces(&self.config, self.serial));
    }

    fn unlink_slice(&mut self, key: &Key, svc: &str) {
        let skey = (key.0.clone(), svc.to_owned());
        if let Some(set) = self.by_service.get_mut(&skey) {
            set.remove(&key.1);
            if set.is_empty() {
                self.by_service.remove(&skey);
            }
        }
        self.refresh_service(&skey);
    }

    fn refresh_service(&mut self, key: &Key) {
        let pieces = match self.services.get(key) {
            Some(svc) => {
                let slices: Vec<&DnsEndpointSlice> = self
                    .by_service
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| self.slices.get(&(key.0.clone(), s.clone())))
                    .collect();
                records::service_pieces(&self.config, svc, &slices)
            }
            None => Pieces::new(),
        };
        self.set_owner(Owner::Service(key.0.clone(), key.1.clone()), pieces);
    }

    fn refresh_namespace(&mut self, name: &str) {
        let pieces = if self.namespaces.contains(name) {
            records::namespace_pieces(&self.config, name)
        } else {
            Pieces::new()
        };
        self.set_owner(Owner::Namespace(name.to_owned()), pieces);
    }

    fn refresh_pod(&mut self, key: &Key) {
        let pieces = match self.pods.get(key) {
            Some(pod) => records::pod_pieces(&self.config, pod),
            None => Pieces::new(),
        };
        self.set_owner(Owner::Pod(key.0.clone(), key.1.clone()), pieces);
    }

    /// Replaces what `owner` contributes; names whose records change are marked dirty.
    fn set_owner(&mut self, owner: Owner, pieces: Pieces) {
        let mut merged: BTreeMap<Name, Piece> = BTreeMap::new();
        for (name, piece) in pieces {
            let slot = merged.entry(name).or_default();
            slot.rrs.extend(piece.rrs);
            slot.extra.extend(piece.extra);
        }
        for old in self.owned.remove(&owner).unwrap_or_default() {
            if merged.contains_key(&old) {
                continue;
            }
            if let Some(by_owner) = self.names.get_mut(&old) {
                by_owner.remove(&owner);
                if by_owner.is_empty() {
                    self.names.remove(&old);
                }
            }
            self.dirty.insert(old);
        }
        let names: Vec<Name> = merged.keys().cloned().collect();
        for (name, piece) in merged {
            let by_owner = self.names.entry(name.clone()).or_default();
            if by_owner.get(&owner) != Some(&piece) {
                by_owner.insert(owner.clone(), piece);
                self.dirty.insert(name);
            }
        }
        if !names.is_empty() {
            self.owned.insert(owner, names);
        }
    }
}
