//! ClusterIP and NodePort allocation in the Service write path, as kube-apiserver's service
//! registry does it: values are taken before the store write (a taken or out-of-range request
//! is a 422 at once, not a controller's later complaint), given back if the write fails, and
//! freed when the Service leaves the store. The allocation itself is
//! `podnet-lab-controllers-alloc`'s; this module holds it under the lock that orders every
//! Service write, and turns its field errors into the API's Invalid status.

use std::sync::{MutexGuard, PoisonError};

use podnet_apiserver_store::{Filter, Resource, Store};
use podnet_lab_controllers_alloc::{Allocation, FieldError, NodePortAllocator, ServiceAllocator};
use serde_json::{Value, json};

use crate::App;
use crate::config::Config;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::validate::Errors;
use podnet_apiserver_store::meta;

/// The cluster's Service allocations.
pub struct Allocator {
    inner: ServiceAllocator,
    /// `IPv4` or `IPv6`: what a headless Service's `ipFamilies` defaults to.
    primary_family: &'static str,
}

/// One write that may add or remove Services, holding the allocator for its duration so that
/// writes admit one at a time. What [`ServiceWrite::admit`] took is given back on drop unless
/// [`ServiceWrite::commit`] is called once the store has the object.
pub struct ServiceWrite<'a> {
    /// None when the write is not about Services.
    alloc: Option<MutexGuard<'a, Allocator>>,
    pending: Option<Allocation>,
}

fn services() -> Resource {
    Resource::new("", "services")
}

// === impl Allocator ===

impl Allocator {
    pub fn new(config: &Config) -> Self {
        let primary_family = match config.service_cidrs.first() {
            Some(ipnet::IpNet::V6(_)) => "IPv6",
            _ => "IPv4",
        };
        Allocator {
            inner: ServiceAllocator::new(
                &config.service_cidrs,
                NodePortAllocator::new(config.node_ports.clone()),
            ),
            primary_family,
        }
    }

    /// The allocator with what the stored Services hold, so a restart keeps their values.
    pub fn rebuild(config: &Config, store: &Store) -> Self {
        let mut alloc = Allocator::new(config);
        let list = store.list(&services(), None, &Filter::default());
        for svc in &list.items {
            alloc.inner.observe(svc);
        }
        tracing::info!(services = list.items.len(), "service allocations rebuilt");
        alloc
    }
}

// === impl ServiceWrite ===

impl<'a> ServiceWrite<'a> {
    /// Starts a write of `rt`'s objects; only Services take the allocator's lock.
    pub fn begin(app: &'a App, rt: &ResourceType) -> Self {
        let alloc = (rt.group.is_empty() && rt.kind == "Service")
            .then(|| app.services.lock().unwrap_or_else(PoisonError::into_inner));
        ServiceWrite {
            alloc,
            pending: None,
        }
    }

    /// Allocates what `new` asks for or needs (`old`: the stored object on an update) and
    /// writes it into `new.spec`; a refusal is the 422 the real server sends.
    pub fn admit(
        &mut self,
        rt: &ResourceType,
        old: Option<&Value>,
        new: &mut Value,
    ) -> Result<(), ApiError> {
        let Some(alloc) = self.alloc.as_mut() else {
            return Ok(());
        };
        let name = meta::name(new).to_string();
        let invalid = |errs: Errors| ApiError::invalid(rt, &name, errs.0);
        if let Some(old) = old {
            follow_cluster_ip(old, new);
            let mut errs = Errors::default();
            primary_ip_unchanged(old, new, &mut errs);
            if !errs.is_empty() {
                return Err(invalid(errs));
            }
        }
        let taken = alloc.inner.admit(old, new).map_err(|fields| {
            let mut errs = Errors::default();
            for FieldError {
                path,
                value,
                detail,
            } in &fields
            {
                errs.invalid(path, value, detail);
            }
            invalid(errs)
        })?;
        if new["spec"]["clusterIP"] == "None"
            && new["spec"]["ipFamilies"]
                .as_array()
                .is_none_or(Vec::is_empty)
        {
            new["spec"]["ipFamilies"] = json!([alloc.primary_family]);
        }
        // A second admit in one write (never done) would leak the first's values.
        debug_assert!(self.pending.is_none());
        self.pending = Some(taken);
        Ok(())
    }

    /// The store has the admitted object: what it gave up is freed.
    pub fn commit(mut self) {
        if let (Some(alloc), Some(a)) = (self.alloc.as_mut(), self.pending.take()) {
            alloc.inner.commit(a);
        }
    }

    /// `svc` left the store: what it held is free again.
    pub fn release(&mut self, svc: &Value) {
        if let Some(alloc) = self.alloc.as_mut() {
            alloc.inner.release(svc);
        }
    }
}

impl Drop for ServiceWrite<'_> {
    fn drop(&mut self) {
        if let (Some(alloc), Some(a)) = (self.alloc.as_mut(), self.pending.take()) {
            alloc.inner.rollback(a);
        }
    }
}

/// A write that changed `spec.clusterIP` but left `spec.clusterIPs` as stored (a merge patch of
/// `clusterIP` alone) means the new one, as upstream's normalization does.
fn follow_cluster_ip(old: &Value, new: &mut Value) {
    let (o, n) = (&old["spec"], &new["spec"]);
    if n["clusterIP"] == o["clusterIP"] || n["clusterIPs"] != o["clusterIPs"] {
        return;
    }
    match n["clusterIP"].as_str().filter(|ip| !ip.is_empty()) {
        Some(ip) => {
            let ip = json!(ip);
            match new["spec"]["clusterIPs"].as_array_mut() {
                Some(list) if !list.is_empty() => list[0] = ip,
                _ => new["spec"]["clusterIPs"] = json!([ip]),
            }
        }
        None => {
            if let Some(spec) = new["spec"].as_object_mut() {
                spec.remove("clusterIPs");
            }
        }
    }
}

/// The primary ClusterIP is immutable, except across a change to or from ExternalName.
fn primary_ip_unchanged(old: &Value, new: &Value, errs: &mut Errors) {
    let (o, n) = (&old["spec"], &new["spec"]);
    if o["type"] == "ExternalName" || n["type"] == "ExternalName" {
        return;
    }
    let first = |spec: &Value| {
        spec["clusterIPs"][0]
            .as_str()
            .or(spec["clusterIP"].as_str())
            .filter(|ip| !ip.is_empty())
            .map(str::to_string)
    };
    if let (Some(was), Some(now)) = (first(o), first(n))
        && was != now
    {
        let sent = if n["clusterIPs"].is_array() {
            n["clusterIPs"].clone()
        } else {
            json!([now])
        };
        errs.invalid("spec.clusterIPs[0]", &sent, "may not change once set");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_of_cluster_ip_alone_moves_the_primary_and_is_refused() {
        let old = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"]}});
        let mut new = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.10"]}});
        follow_cluster_ip(&old, &mut new);
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.20"]));
        let mut errs = Errors::default();
        primary_ip_unchanged(&old, &new, &mut errs);
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].field, "spec.clusterIPs[0]");
        assert_eq!(
            errs.0[0].message,
            r#"Invalid value: []string{"10.96.0.20"}: may not change once set"#
        );
    }

    #[test]
    fn an_omitted_or_unchanged_ip_and_a_change_to_external_name_are_allowed() {
        let old = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"]}});
        for new in [
            json!({"spec": {"type": "ClusterIP"}}),
            json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10"}}),
            json!({"spec": {"type": "ExternalName", "clusterIP": "10.96.0.20"}}),
        ] {
            let mut errs = Errors::default();
            primary_ip_unchanged(&old, &new, &mut errs);
            assert!(errs.is_empty(), "{new}: {errs:?}");
        }
    }

    #[test]
    fn clearing_cluster_ip_clears_the_unchanged_list() {
        let old = json!({"spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}});
        let mut new = json!({"spec": {"clusterIP": "", "clusterIPs": ["10.96.0.10"]}});
        follow_cluster_ip(&old, &mut new);
        assert!(new["spec"].get("clusterIPs").is_none());
    }
}
