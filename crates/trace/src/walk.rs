//! The walk: SRC and DST looked up in the objects, then each layer in the order a packet
//! meets them, stopping at the first broken one.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Pod, Service};
use podnet_agent_routing::Mode;

use crate::address::{Destination, Protocol, Spec};
use crate::error::{Error, Result};
use crate::layer;
use crate::objects::{Objects, is_finished, pod_ip};
use crate::report::{Layer, LayerName, Report, Verdict};

/// What the objects do not say.
#[derive(Clone, Debug)]
pub struct Options {
    /// The cluster domain (the kubelet's `--cluster-domain`).
    pub cluster_domain: String,
    /// How pod traffic crosses nodes (the agent's `--routing-mode`).
    pub routing_mode: Mode,
    /// The agent's `--cluster-cidr`; `None`: the supernet of the nodes' pod CIDRs.
    pub cluster_cidr: Option<IpNet>,
    /// The MTU of the nodes' uplinks (the VXLAN device's is 50 less).
    pub underlay_mtu: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cluster_domain: "cluster.local".to_owned(),
            routing_mode: Mode::Vxlan,
            cluster_cidr: None,
            underlay_mtu: 1500,
        }
    }
}

/// Where the packet starts.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    pub label: String,
    pub ip: IpAddr,
    /// The node it leaves from (`None`: outside the cluster).
    pub node: Option<String>,
    /// A pod in the pod network (not host-network).
    pub pod: Option<&'a Pod>,
}

/// Where the packet is sent, after DNS.
#[derive(Clone, Debug)]
pub enum Dest<'a> {
    Service { svc: &'a Service, via: Via },
    Pod { pod: &'a Pod, ip: IpAddr },
    Node { name: String, ip: IpAddr },
    External { ip: IpAddr },
}

/// Which of a Service's addresses the packet is sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    ClusterIp(IpAddr),
    /// A headless Service's name: its endpoints' own addresses.
    Headless,
    NodePort {
        node: String,
        ip: IpAddr,
    },
    LoadBalancer(IpAddr),
    ExternalIp(IpAddr),
}

/// The state a walk carries from layer to layer.
pub(crate) struct Walk<'a> {
    pub objects: &'a Objects,
    pub options: &'a Options,
    pub source: Source<'a>,
    pub protocol: Protocol,
    pub layers: Vec<Layer>,
}

/// Traces `src` → `dst` through every layer the objects determine.
pub fn trace(
    objects: &Objects,
    src: &Spec,
    dst: &Destination,
    options: &Options,
) -> Result<Report> {
    let source = resolve_source(objects, src)?;
    let mut walk = Walk {
        objects,
        options,
        source,
        protocol: dst.protocol,
        layers: Vec::new(),
    };
    let report = |w: Walk<'_>| Report {
        source: w.source.label.clone(),
        destination: dst.to_string(),
        mode: "what-if",
        layers: w.layers,
    };
    let Some(dest) = walk.resolve_destination(&dst.spec, dst.port)? else {
        return Ok(report(walk));
    };
    walk.run(dest, dst.port)?;
    Ok(report(walk))
}

fn resolve_source<'a>(objects: &'a Objects, spec: &Spec) -> Result<Source<'a>> {
    let from_pod = |pod: &'a Pod| -> Result<Source<'a>> {
        let name = crate::objects::key(&pod.metadata);
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let host = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let ip = pod_ip(pod).ok_or_else(|| Error::BadAddress {
            what: "source",
            text: name.clone(),
            reason: "the pod has no IP yet (not scheduled or not started)".to_owned(),
        })?;
        Ok(Source {
            label: format!("pod {name}"),
            ip,
            node,
            pod: (!host).then_some(pod),
        })
    };
    match spec {
        Spec::Pod { namespace, name } => match objects.pod(namespace, name) {
            Some(p) => from_pod(p),
            None => Err(Error::NotFound {
                what: "pod",
                name: format!("{namespace}/{name}"),
            }),
        },
        Spec::Service { .. } => Err(Error::BadAddress {
            what: "source",
            text: spec.to_string(),
            reason: "a Service sends nothing: trace from one of its pods".to_owned(),
        }),
        Spec::Name { name } => match objects.node_ip(name) {
            Some(ip) => Ok(Source {
                label: format!("node {name}"),
                ip,
                node: Some(name.clone()),
                pod: None,
            }),
            None => Err(Error::NotFound {
                what: "source node",
                name: name.clone(),
            }),
        },
        Spec::Ip { ip } => {
            if let Some(p) = objects.pod_by_ip(*ip) {
                return from_pod(p);
            }
            if let Some(n) = objects.node_by_ip(*ip) {
                return Ok(Source {
                    label: format!("node {}", n.name),
                    ip: *ip,
                    node: Some(n.name),
                    pod: None,
                });
            }
            Ok(Source {
                label: format!("{ip} (outside the cluster)"),
                ip: *ip,
                node: None,
                pod: None,
            })
        }
    }
}

// === impl Walk ===

impl<'a> Walk<'a> {
    fn push(&mut self, layer: Layer) -> bool {
        let ok = layer.verdict != Verdict::Broken;
        self.layers.push(layer);
        ok
    }

    /// The destination as an object, after DNS when it is a name; `None` when a layer on the
    /// way (DNS) already broke or ended the walk.
    fn resolve_destination(&mut self, spec: &Spec, port: Option<u16>) -> Result<Option<Dest<'a>>> {
        let objects = self.objects;
        let given = |what: &str| {
            Layer::not_applicable(LayerName::Dns, format!("destination given as {what}"))
        };
        match spec {
            Spec::Pod { namespace, name } => {
                let pod = objects
                    .pod(namespace, name)
                    .ok_or_else(|| Error::NotFound {
                        what: "pod",
                        name: format!("{namespace}/{name}"),
                    })?;
                let Some(ip) = pod_ip(pod).filter(|_| !is_finished(pod)) else {
                    self.push(Layer::broken(
                        LayerName::Dns,
                        vec![format!(
                            "pod {namespace}/{name} has no IP (phase {})",
                            phase(pod)
                        )],
                    ));
                    return Ok(None);
                };
                self.push(given("a pod"));
                Ok(Some(Dest::Pod { pod, ip }))
            }
            Spec::Service { namespace, name } => {
                let svc = objects
                    .service(namespace, name)
                    .ok_or_else(|| Error::NotFound {
                        what: "service",
                        name: format!("{namespace}/{name}"),
                    })?;
                self.push(given("a Service"));
                let via = match layer::endpoints::cluster_ip(svc) {
                    Some(ip) => Via::ClusterIp(ip),
                    None => Via::Headless,
                };
                Ok(Some(Dest::Service { svc, via }))
            }
            Spec::Ip { ip } => {
                self.push(given("an address"));
                Ok(Some(self.classify(*ip, port)))
            }
            Spec::Name { name } => {
                if let Some(ip) = objects.node_ip(name) {
                    self.push(given("a node"));
                    return Ok(Some(self.classify(ip, port)));
                }
                let (layer, answer) = layer::dns::resolve(self, name);
                if !self.push(layer) {
                    return Ok(None);
                }
                Ok(answer.map(|a| match a {
                    layer::dns::Answer::Headless(svc) => Dest::Service {
                        svc,
                        via: Via::Headless,
                    },
                    layer::dns::Answer::Address(ip) => self.classify(ip, port),
                }))
            }
        }
    }

    /// What an address is: a Service's (ClusterIP, LoadBalancer, external IP), a node's
    /// (a NodePort when a Service has one on `port`), a pod's, or none of the cluster's.
    fn classify(&self, ip: IpAddr, port: Option<u16>) -> Dest<'a> {
        let objects = self.objects;
        for svc in &objects.services {
            let spec = svc.spec.as_ref();
            if layer::endpoints::cluster_ips(svc).contains(&ip) {
                return Dest::Service {
                    svc,
                    via: Via::ClusterIp(ip),
                };
            }
            if layer::entry::load_balancer_ips(svc).contains(&ip) {
                return Dest::Service {
                    svc,
                    via: Via::LoadBalancer(ip),
                };
            }
            if spec
                .and_then(|s| s.external_ips.as_ref())
                .is_some_and(|e| e.iter().any(|a| a.parse() == Ok(ip)))
            {
                return Dest::Service {
                    svc,
                    via: Via::ExternalIp(ip),
                };
            }
        }
        if let Some(node) = objects.node_by_ip(ip) {
            let node_port = port.and_then(|p| {
                objects.services.iter().find(|s| {
                    layer::entry::node_ports(s).any(|(np, proto)| np == p && proto == self.protocol)
                })
            });
            return match node_port {
                Some(svc) => Dest::Service {
                    svc,
                    via: Via::NodePort {
                        node: node.name,
                        ip,
                    },
                },
                None => Dest::Node {
                    name: node.name,
                    ip,
                },
            };
        }
        if let Some(pod) = objects.pod_by_ip(ip) {
            return Dest::Pod { pod, ip };
        }
        Dest::External { ip }
    }

    /// Every layer after DNS.
    fn run(&mut self, dest: Dest<'a>, port: Option<u16>) -> Result<()> {
        let entry = layer::entry::check(self, &dest);
        if !self.push(entry) {
            return Ok(());
        }
        let (layer, chosen) = layer::endpoints::check(self, &dest, port);
        if !self.push(layer) {
            return Ok(());
        }
        // The port the packet is sent to: the Service port chosen (its nodePort when sent
        // to a node), else the one given, else a pod's only declared port.
        let port = match (&dest, &chosen) {
            (
                Dest::Service {
                    via: Via::NodePort { .. },
                    ..
                },
                Some(c),
            ) => c.port.node_port.and_then(|p| u16::try_from(p).ok()),
            (Dest::Service { .. }, Some(c)) => u16::try_from(c.port.port).ok(),
            (Dest::Pod { pod, .. }, _) => port.or_else(|| only_port(pod)),
            _ => port,
        };
        let port = match (port, &dest) {
            (Some(p), _) => p,
            (None, Dest::Service { .. }) => 0,
            (None, _) => {
                return Err(Error::BadAddress {
                    what: "destination",
                    text: describe(&dest),
                    reason: "say which port, as DST:PORT".to_owned(),
                });
            }
        };
        let (layer, targets) = layer::proxy::check(self, &dest, chosen.as_ref(), port);
        if !self.push(layer) {
            return Ok(());
        }
        if !self.push(layer::policy::check(self, &targets)) {
            return Ok(());
        }
        if !self.push(layer::routing::check(self, &targets)) {
            return Ok(());
        }
        self.push(layer::back::check(self, &targets));
        Ok(())
    }

    /// The cluster CIDRs: the option, else what the nodes' pod CIDRs span.
    pub fn cluster_cidrs(&self) -> Vec<IpNet> {
        match self.options.cluster_cidr {
            Some(c) => vec![c],
            None => self.objects.cluster_cidrs(),
        }
    }

    /// The node whose rules decide the packet's DNAT: the NodePort's node, else the
    /// source's, or for a packet from outside the node it is sent to.
    pub fn first_node(&self, dest: &Dest<'_>) -> Option<String> {
        // A NodePort is answered by the node it is sent to (a source node's own rules
        // match only its own addresses).
        if let Dest::Service {
            via: Via::NodePort { node, .. },
            ..
        } = dest
        {
            return Some(node.clone());
        }
        if let Some(n) = &self.source.node {
            return Some(n.clone());
        }
        match dest {
            Dest::Node { name, .. } => Some(name.clone()),
            Dest::Service {
                via: Via::LoadBalancer(ip) | Via::ExternalIp(ip),
                svc,
            } => layer::entry::announcing_node(self.objects, svc, *ip),
            _ => None,
        }
    }
}

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Unknown")
}

/// The pod's only declared container port.
fn only_port(pod: &Pod) -> Option<u16> {
    let ports: Vec<i32> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| p.container_port)
        .collect();
    match ports.as_slice() {
        [one] => u16::try_from(*one).ok(),
        _ => None,
    }
}

fn describe(dest: &Dest<'_>) -> String {
    match dest {
        Dest::Service { svc, .. } => format!("svc/{}", crate::objects::key(&svc.metadata)),
        Dest::Pod { pod, .. } => crate::objects::key(&pod.metadata),
        Dest::Node { name, .. } => name.clone(),
        Dest::External { ip } => ip.to_string(),
    }
}
