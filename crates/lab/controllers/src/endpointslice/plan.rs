//! The EndpointSlices of one Service, as upstream's reconciler: endpoints grouped by address
//! family and by the port set they resolve to, at most [`MAX_ENDPOINTS`] per slice; existing
//! slices kept and filled before new ones are made (so that endpoints do not move between
//! slices needlessly); a placeholder slice when there is nothing to publish.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

use super::endpoint::{address, endpoint, ports, should_include};
use crate::selector::{self, Labels};

/// Upstream's `--max-endpoints-per-slice` default.
pub const MAX_ENDPOINTS: usize = 100;
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// The writes that bring one Service's slices to what its pods say.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

// === impl Plan ===

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// `pods`: the pods of the Service's namespace (the selector is applied here); `existing`:
/// the slices this controller manages for the Service.
pub fn plan(svc: &Service, pods: &[Pod], existing: &[EndpointSlice]) -> Plan {
    let mut out = Plan::default();
    let types = address_types(svc);
    for s in existing {
        if !types.contains(&s.address_type) {
            out.delete.push(s.clone());
        }
    }
    for t in &types {
        let mine: Vec<&EndpointSlice> = existing.iter().filter(|s| &s.address_type == t).collect();
        plan_family(svc, t, &desired(svc, pods, t), &mine, &mut out);
    }
    out
}

/// The families the Service publishes: its `ipFamilies`, else that of its ClusterIP.
pub fn address_types(svc: &Service) -> Vec<String> {
    let spec = svc.spec.as_ref();
    let families: Vec<String> = spec.and_then(|s| s.ip_families.clone()).unwrap_or_default();
    if !families.is_empty() {
        return families;
    }
    let v6 = spec
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip.contains(':'));
    vec![if v6 { "IPv6" } else { "IPv4" }.to_string()]
}

/// One group: the endpoints that resolve the Service's ports to the same numbers.
struct Group {
    ports: Vec<EndpointPort>,
    endpoints: Vec<(String, Endpoint)>,
}

fn port_key(ports: &[EndpointPort]) -> String {
    serde_json::to_string(ports).expect("ports serialize")
}

fn endpoint_key(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_else(|| e.addresses.first().cloned().unwrap_or_default())
}

fn desired(svc: &Service, pods: &[Pod], address_type: &str) -> BTreeMap<String, Group> {
    let sel = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    let mut selected: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.namespace() == svc.namespace() && selector::map_matches(&sel, p.labels()))
        .filter(|p| should_include(p))
        .collect();
    selected.sort_by_key(|p| p.name_any());
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for p in selected {
        let Some(addr) = address(p, address_type) else {
            continue;
        };
        let ports = ports(svc, p);
        let ep = endpoint(svc, p, addr);
        let group = groups.entry(port_key(&ports)).or_insert_with(|| Group {
            ports,
            endpoints: Vec::new(),
        });
        group.endpoints.push((endpoint_key(&ep), ep));
    }
    groups
}

/// A slice being kept, and whether it must be written.
struct Kept {
    slice: EndpointSlice,
    changed: bool,
}

fn plan_family(
    svc: &Service,
    address_type: &str,
    desired: &BTreeMap<String, Group>,
    existing: &[&EndpointSlice],
    out: &mut Plan,
) {
    let labels = slice_labels(svc);
    let mut wanted: BTreeMap<&str, Vec<(String, Endpoint)>> = desired
        .iter()
        .map(|(k, g)| (k.as_str(), g.endpoints.clone()))
        .collect();
    let mut kept: Vec<(String, Kept)> = Vec::new();
    let mut dropped: Vec<EndpointSlice> = Vec::new();
    // Existing slices keep the endpoints they have that are still wanted, updated.
    for s in existing {
        let pk = port_key(s.ports.as_deref().unwrap_or_default());
        let have = s.endpoints.as_deref().unwrap_or_default();
        let Some(group) = wanted.get_mut(pk.as_str()) else {
            dropped.push((*s).clone());
            continue;
        };
        let eps: Vec<Endpoint> = have
            .iter()
            .filter_map(|e| {
                let key = endpoint_key(e);
                let i = group.iter().position(|(k, _)| *k == key)?;
                Some(group.remove(i).1)
            })
            .collect();
        if eps.is_empty() {
            dropped.push((*s).clone());
            continue;
        }
        let changed = eps != have || s.metadata.labels.as_ref() != Some(&labels);
        let mut slice = (*s).clone();
        slice.endpoints = Some(eps);
        slice.metadata.labels = Some(labels.clone());
        kept.push((pk, Kept { slice, changed }));
    }
    // New endpoints fill slices being written anyway, then untouched ones with room, then
    // new slices.
    for (pk, rest) in wanted.iter_mut() {
        let mut rest = std::mem::take(rest).into_iter().map(|(_, e)| e).peekable();
        for pass_changed in [true, false] {
            let room = kept
                .iter_mut()
                .filter(|(k, s)| k == pk && s.changed == pass_changed);
            for (_, kept) in room {
                let eps = kept.slice.endpoints.get_or_insert_with(Vec::new);
                while eps.len() < MAX_ENDPOINTS {
                    let Some(e) = rest.next() else { break };
                    eps.push(e);
                    kept.changed = true;
                }
            }
        }
        let ports = &desired[*pk].ports;
        let rest: Vec<Endpoint> = rest.collect();
        for chunk in rest.chunks(MAX_ENDPOINTS) {
            out.create.push(new_slice(
                svc,
                address_type,
                &labels,
                Some(ports.clone()),
                chunk.to_vec(),
            ));
        }
    }
    // Nothing to publish: one placeholder slice stays (or is made), as upstream.
    if kept.is_empty() && out.create.iter().all(|s| s.address_type != address_type) {
        match dropped
            .iter()
            .position(|s| s.endpoints.as_deref().unwrap_or_default().is_empty())
        {
            Some(i) => {
                let mut p = dropped.remove(i);
                if p.metadata.labels.as_ref() != Some(&labels) {
                    p.metadata.labels = Some(labels.clone());
                    out.update.push(p);
                }
            }
            None => out
                .create
                .push(new_slice(svc, address_type, &labels, None, vec![])),
        }
    }
    out.update.extend(
        kept.into_iter()
            .filter(|(_, k)| k.changed)
            .map(|(_, k)| k.slice),
    );
    out.delete.extend(dropped);
}

/// The Service's labels, then the ones that tie the slice to it.
pub fn slice_labels(svc: &Service) -> Labels {
    let mut labels: Labels = svc
        .labels()
        .iter()
        .filter(|(k, _)| {
            ![LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(LABEL_SERVICE_NAME.into(), svc.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    if headless {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels
}

fn new_slice(
    svc: &Service,
    address_type: &str,
    labels: &Labels,
    ports: Option<Vec<EndpointPort>>,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", svc.name_any())),
            namespace: svc.namespace(),
            labels: Some(labels.clone()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: svc.name_any(),
                uid: svc.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Some(endpoints),
        ports,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
