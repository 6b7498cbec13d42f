//! The admission step of a Service create or update: ClusterIPs and NodePorts allocated (or a
//! request refused) before the object is stored, as kube-apiserver's service registry does.
//!
//! The caller holds the [`ServiceAllocator`] behind a lock around its store write:
//! ```text
//! let a = alloc.admit(old, &mut svc)?;      // 422 with the FieldErrors on Err
//! match store.write(svc) {
//!     Ok(_) => alloc.commit(a),             // frees what the update gave up
//!     Err(e) => alloc.rollback(a),          // frees what this request took
//! }
//! ```
//! and calls [`ServiceAllocator::release`] when a Service is removed from the store.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Value, json};

use crate::error::{AllocError, FieldError};
use crate::ip::ClusterIpAllocator;
use crate::port::NodePortAllocator;

/// The allocators of one cluster: one per service CIDR (one per IP family), and the node
/// port range.
#[derive(Debug, Clone)]
pub struct ServiceAllocator {
    ips: Vec<ClusterIpAllocator>,
    ports: NodePortAllocator,
}

/// What one admitted write took, and what it gives up once it is stored.
#[derive(Debug, Default, Clone, PartialEq)]
#[must_use = "commit or roll back the allocation"]
pub struct Allocation {
    pub taken_ips: Vec<IpAddr>,
    pub taken_ports: Vec<u16>,
    pub freed_ips: Vec<IpAddr>,
    pub freed_ports: Vec<u16>,
}

/// The values a stored Service holds.
#[derive(Default)]
struct Held {
    ips: BTreeSet<IpAddr>,
    ports: BTreeSet<u16>,
}

// === impl ServiceAllocator ===

impl ServiceAllocator {
    /// `service_cidrs`: the primary family first (kind's `serviceSubnet`, comma-separated
    /// for dual-stack).
    pub fn new(service_cidrs: &[IpNet], node_ports: NodePortAllocator) -> Self {
        ServiceAllocator {
            ips: service_cidrs
                .iter()
                .map(|c| ClusterIpAllocator::new(*c))
                .collect(),
            ports: node_ports,
        }
    }

    pub fn ip_allocators(&self) -> &[ClusterIpAllocator] {
        &self.ips
    }

    pub fn node_ports(&self) -> &NodePortAllocator {
        &self.ports
    }

    /// Marks what an already stored Service holds (rebuilding after a restart).
    pub fn observe(&mut self, svc: &Value) {
        let held = held(svc);
        for ip in held.ips {
            if let Some(a) = self.family_mut(ip.is_ipv6()) {
                let _ = a.allocate(ip);
            }
        }
        for p in held.ports {
            let _ = self.ports.allocate(p);
        }
    }

    /// Frees what a Service that left the store held.
    pub fn release(&mut self, svc: &Value) {
        let held = held(svc);
        self.free(
            &held.ips.into_iter().collect::<Vec<_>>(),
            &held.ports.into_iter().collect::<Vec<_>>(),
        );
    }

    pub fn commit(&mut self, a: Allocation) {
        self.free(&a.freed_ips, &a.freed_ports);
    }

    pub fn rollback(&mut self, a: Allocation) {
        self.free(&a.taken_ips, &a.taken_ports);
    }

    /// Allocates what `new` needs (`old` is the stored object on an update), writing the
    /// result into `new.spec`. On error nothing stays taken.
    pub fn admit(
        &mut self,
        old: Option<&Value>,
        new: &mut Value,
    ) -> Result<Allocation, Vec<FieldError>> {
        if let Some(old) = old {
            keep_allocated_values(old, new);
        }
        let before = old.map(held).unwrap_or_default();
        let mut a = Allocation::default();
        let mut errors = Vec::new();
        if let Err(e) = self.admit_ips(&before, new, &mut a) {
            errors.push(e);
        }
        errors.extend(self.admit_node_ports(&before, new, &mut a));
        if !errors.is_empty() {
            self.rollback(a);
            return Err(errors);
        }
        let after = held(new);
        a.freed_ips = before.ips.difference(&after.ips).copied().collect();
        a.freed_ports = before.ports.difference(&after.ports).copied().collect();
        Ok(a)
    }

    fn admit_ips(
        &mut self,
        before: &Held,
        svc: &mut Value,
        a: &mut Allocation,
    ) -> Result<(), FieldError> {
        let spec = &svc["spec"];
        if spec["type"] == "ExternalName" {
            return Ok(());
        }
        let requested = requested_ips(spec);
        if requested.first().map(String::as_str) == Some("None") {
            svc["spec"]["clusterIP"] = json!("None");
            svc["spec"]["clusterIPs"] = json!(["None"]);
            return Ok(());
        }
        let sent = spec
            .get("clusterIPs")
            .cloned()
            .unwrap_or_else(|| json!(requested));
        let families = self.families(spec, &requested)?;
        let mut ips = Vec::new();
        for (i, v6) in families.iter().enumerate() {
            let allocator = self.family_mut(*v6).ok_or_else(|| {
                FieldError::invalid(
                    format!("spec.ipFamilies[{i}]"),
                    json!(family_name(*v6)),
                    "not configured on this cluster",
                )
            })?;
            let ip = match requested.get(i) {
                Some(s) => {
                    let ip: IpAddr = s.parse().map_err(|_| {
                        FieldError::invalid(
                            "spec.clusterIPs",
                            sent.clone(),
                            format!("failed to allocate IP {s}: must be a valid IP address"),
                        )
                    })?;
                    if !before.ips.contains(&ip) {
                        allocator
                            .allocate(ip)
                            .map_err(|e| ip_error(&sent, &ip.to_string(), e))?;
                        a.taken_ips.push(ip);
                    }
                    ip
                }
                None => {
                    let ip = allocator.allocate_next().map_err(|e| {
                        FieldError::invalid(
                            "spec.clusterIPs",
                            sent.clone(),
                            format!("failed to allocate a serviceIP: {e}"),
                        )
                    })?;
                    a.taken_ips.push(ip);
                    ip
                }
            };
            ips.push(ip);
        }
        let spec = &mut svc["spec"];
        spec["clusterIP"] = json!(ips[0].to_string());
        spec["clusterIPs"] = json!(ips.iter().map(IpAddr::to_string).collect::<Vec<_>>());
        spec["ipFamilies"] = json!(
            families
                .iter()
                .map(|v6| family_name(*v6))
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    /// The families to allocate in, primary first: the request's `ipFamilies`, else the
    /// families of the requested IPs, else what `ipFamilyPolicy` asks of the cluster's.
    fn families(&self, spec: &Value, requested: &[String]) -> Result<Vec<bool>, FieldError> {
        if let Some(list) = spec["ipFamilies"].as_array().filter(|l| !l.is_empty()) {
            return Ok(list.iter().map(|f| f == "IPv6").collect());
        }
        let mut families: Vec<bool> = requested.iter().map(|s| s.contains(':')).collect();
        let policy = spec["ipFamilyPolicy"].as_str().unwrap_or("SingleStack");
        let cluster: Vec<bool> = self.ips.iter().map(ClusterIpAllocator::is_ipv6).collect();
        let wanted = if policy == "SingleStack" {
            1
        } else {
            cluster.len().max(1)
        };
        if policy == "RequireDualStack" && cluster.len() < 2 {
            return Err(FieldError::invalid(
                "spec.ipFamilyPolicy",
                json!(policy),
                "this cluster is not configured for dual-stack services",
            ));
        }
        for v6 in cluster {
            if families.len() >= wanted {
                break;
            }
            if !families.contains(&v6) {
                families.push(v6);
            }
        }
        Ok(families)
    }

    fn admit_node_ports(
        &mut self,
        before: &Held,
        svc: &mut Value,
        a: &mut Allocation,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !needs_node_ports(&svc["spec"]) {
            return errors;
        }
        // Ports with the same number (TCP and UDP 53, say) share one node port, as upstream.
        let mut by_service_port: Vec<(i64, u16)> = Vec::new();
        let count = svc["spec"]["ports"].as_array().map_or(0, Vec::len);
        for i in 0..count {
            let port = &mut svc["spec"]["ports"][i];
            let number = port["port"].as_i64().unwrap_or(0);
            let asked = port["nodePort"].as_i64().unwrap_or(0);
            let shared = by_service_port
                .iter()
                .find(|(n, _)| *n == number)
                .map(|(_, p)| *p);
            let result = match (asked, shared) {
                (0, Some(p)) => Ok(p),
                (0, None) => self
                    .ports
                    .allocate_next()
                    .inspect(|p| a.taken_ports.push(*p)),
                (p, _) => self.take_port(before, p, shared, a),
            };
            match result {
                Ok(p) => {
                    port["nodePort"] = json!(p);
                    by_service_port.push((number, p));
                }
                Err(e) => errors.push(FieldError::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    json!(asked),
                    e.to_string(),
                )),
            }
        }
        let spec = &mut svc["spec"];
        if spec["type"] == "LoadBalancer" && spec["externalTrafficPolicy"] == "Local" {
            let asked = spec["healthCheckNodePort"].as_i64().unwrap_or(0);
            let result = match asked {
                0 => self
                    .ports
                    .allocate_next()
                    .inspect(|p| a.taken_ports.push(*p)),
                p => self.take_port(before, p, None, a),
            };
            match result {
                Ok(p) => spec["healthCheckNodePort"] = json!(p),
                Err(e) => errors.push(FieldError::invalid(
                    "spec.healthCheckNodePort",
                    json!(asked),
                    e.to_string(),
                )),
            }
        }
        errors
    }

    fn take_port(
        &mut self,
        before: &Held,
        asked: i64,
        shared: Option<u16>,
        a: &mut Allocation,
    ) -> Result<u16, AllocError> {
        let range = self.ports.range();
        let p = u16::try_from(asked).map_err(|_| AllocError::PortNotInRange {
            range: format!("{}-{}", range.start(), range.end()),
        })?;
        if before.ports.contains(&p) || shared == Some(p) || a.taken_ports.contains(&p) {
            return Ok(p);
        }
        self.ports.allocate(p)?;
        a.taken_ports.push(p);
        Ok(p)
    }

    fn family_mut(&mut self, v6: bool) -> Option<&mut ClusterIpAllocator> {
        self.ips.iter_mut().find(|a| a.is_ipv6() == v6)
    }

    fn free(&mut self, ips: &[IpAddr], ports: &[u16]) {
        for ip in ips {
            if let Some(a) = self.family_mut(ip.is_ipv6()) {
                a.release(*ip);
            }
        }
        for p in ports {
            self.ports.release(*p);
        }
    }
}

fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

fn ip_error(sent: &Value, ip: &str, e: AllocError) -> FieldError {
    FieldError::invalid(
        "spec.clusterIPs",
        sent.clone(),
        format!("failed to allocate IP {ip}: {e}"),
    )
}

/// `spec.clusterIPs`, else `[spec.clusterIP]`, without empty strings.
fn requested_ips(spec: &Value) -> Vec<String> {
    let list: Vec<String> = spec["clusterIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !list.is_empty() {
        return list;
    }
    spec["clusterIP"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .into_iter()
        .collect()
}

fn needs_node_ports(spec: &Value) -> bool {
    match spec["type"].as_str() {
        Some("NodePort") => true,
        Some("LoadBalancer") => spec["allocateLoadBalancerNodePorts"] != false,
        _ => false,
    }
}

/// The IPs and node ports a stored Service holds.
fn held(svc: &Value) -> Held {
    let spec = &svc["spec"];
    let mut h = Held::default();
    if spec["type"] != "ExternalName" {
        h.ips = requested_ips(spec)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
    }
    if needs_node_ports(spec) {
        let ports = spec["ports"].as_array().into_iter().flatten();
        h.ports = ports
            .filter_map(|p| p["nodePort"].as_u64())
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .collect();
        if let Some(p) = spec["healthCheckNodePort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
        {
            h.ports.insert(p);
        }
    }
    h
}

/// An update that omits allocated values keeps them (`kubectl apply` of a manifest without
/// `clusterIP` or `nodePort`), as upstream's `patchAllocatedValues`: IPs when both need them,
/// node ports by port name when not used by another port.
fn keep_allocated_values(old: &Value, new: &mut Value) {
    let (o, n) = (&old["spec"], &new["spec"]);
    if o["type"] != "ExternalName" && n["type"] != "ExternalName" && requested_ips(n).is_empty() {
        for key in ["clusterIP", "clusterIPs"] {
            if let Some(v) = o.get(key) {
                new["spec"][key] = v.clone();
            }
        }
        if new["spec"]["ipFamilies"]
            .as_array()
            .is_none_or(Vec::is_empty)
            && let Some(f) = o.get("ipFamilies")
        {
            new["spec"]["ipFamilies"] = f.clone();
        }
    }
    if !(needs_node_ports(o) && needs_node_ports(&new["spec"])) {
        return;
    }
    if new["spec"]["healthCheckNodePort"].as_u64().unwrap_or(0) == 0
        && new["spec"]["externalTrafficPolicy"] == "Local"
        && let Some(p) = o["healthCheckNodePort"].as_u64()
    {
        new["spec"]["healthCheckNodePort"] = json!(p);
    }
    let used: BTreeSet<u64> = new["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_u64())
        .collect();
    let by_name: Vec<(String, u64)> = o["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["name"].as_str().unwrap_or("").to_string(),
                p["nodePort"].as_u64()?,
            ))
        })
        .collect();
    for p in new["spec"]["ports"].as_array_mut().into_iter().flatten() {
        if p["nodePort"].as_u64().unwrap_or(0) != 0 {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("");
        if let Some((_, np)) = by_name
            .iter()
            .find(|(n, np)| n == name && !used.contains(np))
        {
            p["nodePort"] = json!(np);
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
