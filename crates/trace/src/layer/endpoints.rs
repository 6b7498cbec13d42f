//! Service → EndpointSlices: which port, which pods the selector matches (and which almost
//! do), which endpoints are ready and why the others are not.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podnet_k8s_model::{Endpoint, EndpointSliceInfo, ServicePortName, endpoints_for_port};

use crate::address::Protocol;
use crate::objects::{Objects, is_finished, key, labels};
use crate::report::{Layer, LayerName};
use crate::walk::{Dest, Via, Walk, phase};

/// How many endpoints (or pods) a line list shows before "and N more".
const SHOWN: usize = 8;

/// The Service port chosen and its endpoints.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub port: ServicePort,
    pub endpoints: Vec<Endpoint>,
}

/// The Service's first ClusterIP; `None` when headless.
pub fn cluster_ip(svc: &Service) -> Option<IpAddr> {
    cluster_ips(svc).into_iter().next()
}

pub fn cluster_ips(svc: &Service) -> Vec<IpAddr> {
    let spec = svc.spec.as_ref();
    let ips = spec
        .and_then(|s| s.cluster_ips.clone())
        .filter(|v| !v.is_empty())
        .or_else(|| spec.and_then(|s| s.cluster_ip.clone()).map(|ip| vec![ip]))
        .unwrap_or_default();
    ips.iter().filter_map(|ip| ip.parse().ok()).collect()
}

pub fn check(walk: &Walk<'_>, dest: &Dest<'_>, port: Option<u16>) -> (Layer, Option<Chosen>) {
    let Dest::Service { svc, via } = dest else {
        return (
            Layer::not_applicable(LayerName::Endpoints, "not a Service"),
            None,
        );
    };
    let name = key(&svc.metadata);
    let spec = svc.spec.clone().unwrap_or_default();
    if spec.type_.as_deref() == Some("ExternalName") {
        return (
            Layer::not_applicable(
                LayerName::Endpoints,
                format!(
                    "{name} is an ExternalName Service (→ {}): DNS answers a CNAME, nothing is proxied",
                    spec.external_name.unwrap_or_default()
                ),
            ),
            None,
        );
    }
    let port = match pick_port(svc, via, port, walk.protocol) {
        Ok(p) => p,
        Err(why) => return (Layer::broken(LayerName::Endpoints, vec![why]), None),
    };
    let mut evidence = vec![format!(
        "port {}/{} → targetPort {}",
        port.port,
        port.protocol.as_deref().unwrap_or("TCP"),
        target_port(&port)
    )];
    let selector = spec.selector.clone().unwrap_or_default();
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    if selector.is_empty() {
        evidence.push("no selector: its EndpointSlices are written by hand".to_owned());
    } else {
        let selected: Vec<&Pod> = walk
            .objects
            .pods
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && !is_finished(p))
            .filter(|p| matches(&selector, &labels(&p.metadata)))
            .collect();
        if selected.is_empty() {
            let mut lines = vec![format!(
                "selector {} matches no pod in namespace {ns}",
                show_labels(&selector)
            )];
            lines.extend(almost(walk.objects, ns, &selector));
            return (Layer::broken(LayerName::Endpoints, lines), None);
        }
        evidence.push(format!(
            "selector {} matches {} pod(s): {}",
            show_labels(&selector),
            selected.len(),
            list(
                selected
                    .iter()
                    .map(|p| p.metadata.name.clone().unwrap_or_default())
            )
        ));
        if let IntOrString::String(named) = port.target_port.clone().unwrap_or(IntOrString::Int(0))
        {
            for p in &selected {
                if !has_named_port(p, &named) {
                    evidence.push(format!(
                        "pod {} has no container port named {named:?}: it is no endpoint of this port",
                        p.metadata.name.as_deref().unwrap_or_default()
                    ));
                }
            }
        }
    }
    let endpoints = service_endpoints(walk.objects, svc, &port);
    if endpoints.is_empty() {
        evidence.insert(
            0,
            format!(
                "no EndpointSlice of {name} lists an endpoint for port {}",
                port.name.as_deref().unwrap_or(&port.port.to_string())
            ),
        );
        return (Layer::broken(LayerName::Endpoints, evidence), None);
    }
    let ready = endpoints.iter().filter(|e| e.ready).count();
    let lines: Vec<String> = endpoints
        .iter()
        .map(|e| describe_endpoint(walk.objects, e))
        .collect();
    let shown = lines.len().min(SHOWN);
    let more = lines.len() - shown;
    let mut lines: Vec<String> = lines.into_iter().take(shown).collect();
    if more > 0 {
        lines.push(format!("… and {more} more"));
    }
    let chosen = Chosen {
        port,
        endpoints: endpoints.clone(),
    };
    if ready == 0 {
        let mut out = vec![format!("{name} has no ready endpoint")];
        out.extend(lines);
        out.extend(evidence);
        return (Layer::broken(LayerName::Endpoints, out), Some(chosen));
    }
    evidence.push(format!("{ready} of {} endpoint(s) ready", endpoints.len()));
    evidence.extend(lines);
    (Layer::ok(LayerName::Endpoints, evidence), Some(chosen))
}

/// The Service port the packet is for: the one with `port` (its nodePort when sent to a
/// node), or the only one of the protocol.
fn pick_port(
    svc: &Service,
    via: &Via,
    port: Option<u16>,
    protocol: Protocol,
) -> Result<ServicePort, String> {
    let ports: Vec<ServicePort> = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let proto = |p: &ServicePort| p.protocol.as_deref().unwrap_or("TCP") == protocol.api_name();
    let all = || {
        ports
            .iter()
            .map(|p| {
                let np = p
                    .node_port
                    .map(|n| format!(", nodePort {n}"))
                    .unwrap_or_default();
                format!("{}/{}{np}", p.port, p.protocol.as_deref().unwrap_or("TCP"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let name = key(&svc.metadata);
    let found = match (port, via) {
        (Some(n), Via::NodePort { .. }) => ports
            .iter()
            .find(|p| proto(p) && p.node_port == Some(i32::from(n))),
        (Some(n), _) => ports.iter().find(|p| proto(p) && p.port == i32::from(n)),
        (None, _) => {
            let of_proto: Vec<&ServicePort> = ports.iter().filter(|p| proto(p)).collect();
            match of_proto.as_slice() {
                [one] => Some(*one),
                [] => None,
                _ => {
                    return Err(format!(
                        "{name} has several {protocol} ports ({}): say which, as DST:PORT",
                        all()
                    ));
                }
            }
        }
    };
    found.cloned().ok_or_else(|| match port {
        Some(n) => format!(
            "{name} has no {} {n}/{protocol} (ports: {})",
            if matches!(via, Via::NodePort { .. }) {
                "nodePort"
            } else {
                "port"
            },
            all()
        ),
        None => format!("{name} has no {protocol} port (ports: {})", all()),
    })
}

fn target_port(p: &ServicePort) -> String {
    match &p.target_port {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => format!("{s:?} (named: resolved on each pod)"),
        None => p.port.to_string(),
    }
}

/// The endpoints EndpointSlices give `port` (as the proxy reads them).
pub fn service_endpoints(objects: &Objects, svc: &Service, port: &ServicePort) -> Vec<Endpoint> {
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let slices: Vec<EndpointSliceInfo> = objects
        .slices_of(ns, name)
        .filter_map(|s| EndpointSliceInfo::from_slice(s).ok().flatten())
        .collect();
    let protocol = port
        .protocol
        .as_deref()
        .unwrap_or("TCP")
        .parse()
        .unwrap_or(podnet_k8s_model::Protocol::Tcp);
    let spn = ServicePortName::new(ns, name, port.name.as_deref().unwrap_or_default(), protocol);
    endpoints_for_port(&slices, &spn)
}

fn describe_endpoint(objects: &Objects, e: &Endpoint) -> String {
    let pod = objects.pod_by_ip(e.addr.ip());
    let whose = match (pod, &e.node_name) {
        (Some(p), Some(n)) => format!(" (pod {} on {n})", key(&p.metadata)),
        (Some(p), None) => format!(" (pod {})", key(&p.metadata)),
        (None, Some(n)) => format!(" (on {n})"),
        (None, None) => String::new(),
    };
    if e.ready {
        return format!("endpoint {}{whose} ready", e.addr);
    }
    let why = if e.terminating {
        format!("terminating (serving: {})", e.serving)
    } else {
        pod.map(not_ready_reason)
            .unwrap_or_else(|| "its EndpointSlice says so".to_owned())
    };
    format!("endpoint {}{whose} not ready: {why}", e.addr)
}

/// Why a pod is not ready, as `kubectl describe` would show it.
pub fn not_ready_reason(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "the pod is terminating".to_owned();
    }
    let status = pod.status.clone().unwrap_or_default();
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let mut reasons = Vec::new();
    for cs in status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready)
    {
        let state = cs.state.clone().unwrap_or_default();
        if let Some(w) = state.waiting {
            reasons.push(format!(
                "container {} waiting: {}",
                cs.name,
                w.reason.unwrap_or_default()
            ));
        } else if let Some(t) = state.terminated {
            reasons.push(format!(
                "container {} terminated: {}",
                cs.name,
                t.reason.unwrap_or_default()
            ));
        } else if let Some(probe) = containers
            .iter()
            .find(|c| c.name == cs.name)
            .and_then(|c| c.readiness_probe.as_ref())
        {
            reasons.push(format!(
                "readiness probe failing ({}) on container {}",
                describe_probe(probe),
                cs.name
            ));
        } else {
            reasons.push(format!("container {} not ready", cs.name));
        }
    }
    if reasons.is_empty() {
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready" && c.status != "True");
        reasons.push(match ready {
            Some(c) => format!(
                "condition Ready {}: {}",
                c.status,
                c.message.clone().or(c.reason.clone()).unwrap_or_default()
            ),
            None => format!("pod phase {}", phase(pod)),
        });
    }
    reasons.join("; ")
}

fn describe_probe(p: &k8s_openapi::api::core::v1::Probe) -> String {
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    if let Some(h) = &p.http_get {
        return format!(
            "httpGet :{}{}",
            port(&h.port),
            h.path.as_deref().unwrap_or("/")
        );
    }
    if let Some(t) = &p.tcp_socket {
        return format!("tcpSocket :{}", port(&t.port));
    }
    if let Some(e) = &p.exec {
        return format!("exec {}", e.command.clone().unwrap_or_default().join(" "));
    }
    if let Some(g) = &p.grpc {
        return format!("grpc :{}", g.port);
    }
    "a probe".to_owned()
}

fn has_named_port(pod: &Pod, name: &str) -> bool {
    pod.spec.iter().flat_map(|s| &s.containers).any(|c| {
        c.ports
            .iter()
            .flatten()
            .any(|p| p.name.as_deref() == Some(name))
    })
}

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn show_labels(l: &BTreeMap<String, String>) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn list(names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    let more = names.len().saturating_sub(SHOWN);
    let mut s = names.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// The pods of `ns` that miss the selector by one label: a value or key differing only in
/// case, or a different value of one key. What a typo looks like.
fn almost(objects: &Objects, ns: &str, selector: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for pod in objects
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && !is_finished(p))
    {
        let have = labels(&pod.metadata);
        let missed: Vec<(&String, &String)> = selector
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(v))
            .collect();
        let [(k, v)] = missed.as_slice() else {
            continue;
        };
        // A label one typo away: the key or value in another case, or a value within two
        // edits; with several keys, any other value of the one key that differs.
        let near = have
            .iter()
            .find(|(hk, hv)| hk.eq_ignore_ascii_case(k) && hv.eq_ignore_ascii_case(v))
            .or_else(|| {
                have.get_key_value(*k)
                    .filter(|(_, hv)| selector.len() > 1 || edits(hv, v) <= 2)
            });
        if near.is_none() && selector.len() == 1 {
            continue;
        }
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        out.push(match near {
            Some((hk, hv)) => format!("pod {name} has {hk}={hv} (almost)"),
            None => format!("pod {name} has no label {k} (almost: every other label matches)"),
        });
        if out.len() == SHOWN {
            break;
        }
    }
    if out.is_empty() {
        let with_keys: Vec<String> = objects
            .pods
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .filter_map(|p| {
                let l = labels(&p.metadata);
                let shown: Vec<String> = selector
                    .keys()
                    .filter_map(|k| l.get(k).map(|v| format!("{k}={v}")))
                    .collect();
                (!shown.is_empty()).then(|| shown.join(","))
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        out.push(if with_keys.is_empty() {
            format!("no pod in {ns} has any of the selector's labels")
        } else {
            format!("pods in {ns} have {}", list(with_keys.into_iter()))
        });
    }
    out
}

/// The Levenshtein distance between `a` and `b`, case-insensitive.
fn edits(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
