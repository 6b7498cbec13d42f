//! YAML text → [`Cluster`], strictly: unknown fields and bad values are errors with their path;
//! kind-only keys the lab does not use become [`Note`]s.

mod lb_pool;
mod names;
mod subnets;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_yaml_ng::{Mapping, Value};

use crate::cluster::{
    Bgp, Cluster, IpFamily, KubeProxyMode, Networking, Node, PortMapping, Protocol, Role,
    RoutingMode,
};
use crate::decode::{Decoder, field, index};
use crate::error::ConfigError;
use crate::{API_VERSION, KIND};

pub use names::validate_cluster_name;

/// A parsed config and what the lab does not do of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub cluster: Cluster,
    pub notes: Vec<Note>,
}

/// A field the lab accepts (kind knows it) but does not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub path: String,
    pub message: String,
}

const CLUSTER_KEYS: &[&str] = &[
    "kind",
    "apiVersion",
    "name",
    "nodes",
    "networking",
    "featureGates",
    "runtimeConfig",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
];
const NODE_KEYS: &[&str] = &[
    "role",
    "image",
    "labels",
    "extraMounts",
    "extraPortMappings",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
];
const NETWORKING_KEYS: &[&str] = &[
    "ipFamily",
    "apiServerPort",
    "apiServerAddress",
    "podSubnet",
    "serviceSubnet",
    "disableDefaultCNI",
    "kubeProxyMode",
    "routingMode",
    "bgp",
    "dnsSearch",
    "loadBalancerPool",
];
const BGP_KEYS: &[&str] = &["routerASN", "nodeASN"];
const PORT_MAPPING_KEYS: &[&str] = &["containerPort", "hostPort", "listenAddress", "protocol"];

/// Keys kind uses to shape its node containers, with why the lab has no use for them.
const IGNORED: &[(&str, &str)] = &[
    ("image", "the lab's nodes run no images"),
    ("extraMounts", "the lab's pods see the host's filesystem"),
    ("kubeadmConfigPatches", "the lab runs no kubeadm"),
    ("kubeadmConfigPatchesJSON6902", "the lab runs no kubeadm"),
    ("containerdConfigPatches", "the lab runs no containerd"),
    (
        "containerdConfigPatchesJSON6902",
        "the lab runs no containerd",
    ),
    ("featureGates", "the lab's API server has no feature gates"),
    (
        "runtimeConfig",
        "the lab's API server serves a fixed set of APIs",
    ),
];

/// Parses a cluster config (one YAML document). An empty document is the default cluster.
pub fn parse(text: &str) -> Result<Parsed, ConfigError> {
    let doc: Value = serde_yaml_ng::from_str(text)?;
    if doc.is_null() {
        return Ok(Parsed {
            cluster: Cluster::default(),
            notes: Vec::new(),
        });
    }
    let mut p = Parser {
        d: Decoder::new(),
        notes: Vec::new(),
    };
    let cluster = p.cluster(&doc);
    match cluster {
        Some(cluster) if p.d.errors.is_empty() => Ok(Parsed {
            cluster,
            notes: p.notes,
        }),
        _ => Err(ConfigError::Invalid(p.d.errors)),
    }
}

struct Parser {
    d: Decoder,
    notes: Vec<Note>,
}

// === impl Parser ===

impl Parser {
    fn cluster(&mut self, doc: &Value) -> Option<Cluster> {
        let map = self.d.object("", doc, CLUSTER_KEYS)?;
        self.required_literal(map, "kind", KIND);
        self.required_literal(map, "apiVersion", API_VERSION);
        self.ignored("", map);
        let name = get(map, "name").and_then(|v| self.name(v));
        let nodes = match get(map, "nodes").and_then(|v| self.d.seq("nodes", v)) {
            // A config without nodes is kind's single control-plane node.
            None => vec![Node::new(Role::ControlPlane)],
            Some(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.node(&index("nodes", i), v))
                .collect(),
        };
        if !nodes.iter().any(|n| n.role == Role::ControlPlane) && self.d.errors.is_empty() {
            self.d.error(
                "nodes",
                "Required value: at least one node must have role \"control-plane\"",
            );
        }
        let networking = match get(map, "networking") {
            Some(v) => self.networking(v, nodes.len()),
            None => Networking::defaults(IpFamily::Ipv4),
        };
        Some(Cluster {
            name,
            nodes,
            networking,
        })
    }

    fn required_literal(&mut self, map: &Mapping, key: &str, want: &str) {
        match get(map, key) {
            None => self
                .d
                .error(key, format!("Required value: must be {want:?}")),
            Some(v) => {
                if let Some(s) = self.d.string(key, v)
                    && s != want
                {
                    self.d.invalid(key, v, &format!("must be {want:?}"));
                }
            }
        }
    }

    /// Type-checks the kind-only keys present in `map` and notes that they are ignored.
    fn ignored(&mut self, path: &str, map: &Mapping) {
        for (key, why) in IGNORED {
            let Some(v) = get(map, key) else { continue };
            let p = field(path, key);
            match *key {
                "image" => _ = self.d.string(&p, v),
                "featureGates" => _ = self.d.map_of(&p, v, |d, p, v| d.boolean(p, v)),
                "runtimeConfig" => _ = self.d.string_map(&p, v),
                _ => _ = self.d.seq(&p, v),
            }
            self.notes.push(Note {
                path: p,
                message: format!("ignored: {why}"),
            });
        }
    }

    fn name(&mut self, v: &Value) -> Option<String> {
        let s = self.d.string("name", v)?;
        match validate_cluster_name(s) {
            Ok(()) => Some(s.to_string()),
            Err(why) => {
                self.d.invalid("name", v, &why);
                None
            }
        }
    }

    fn node(&mut self, path: &str, v: &Value) -> Option<Node> {
        let map = self.d.object(path, v, NODE_KEYS)?;
        self.ignored(path, map);
        let role_path = field(path, "role");
        let role = match get(map, "role") {
            None => {
                self.d.error(&role_path, "Required value");
                return None;
            }
            Some(r) => self.d.one_of(&role_path, r, Role::VALUES, Role::parse)?,
        };
        let labels_path = field(path, "labels");
        let labels: BTreeMap<String, String> = get(map, "labels")
            .map(|l| self.d.string_map(&labels_path, l))
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, val)| {
                let p = field(&labels_path, k);
                match names::validate_label(k, val) {
                    Ok(()) => true,
                    Err(why) => {
                        self.d.error(&p, why);
                        false
                    }
                }
            })
            .collect();
        let mappings_path = field(path, "extraPortMappings");
        let extra_port_mappings: Vec<PortMapping> = get(map, "extraPortMappings")
            .and_then(|m| self.d.seq(&mappings_path, m))
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, m)| self.port_mapping(&index(&mappings_path, i), m))
            .collect();
        if !extra_port_mappings.is_empty() {
            self.notes.push(Note {
                path: mappings_path,
                message: "not served yet: the lab opens no host ports (use a NodePort from \
                          inside the lab)"
                    .into(),
            });
        }
        Some(Node {
            role,
            labels,
            extra_port_mappings,
        })
    }

    fn port_mapping(&mut self, path: &str, v: &Value) -> Option<PortMapping> {
        let map = self.d.object(path, v, PORT_MAPPING_KEYS)?;
        let cp_path = field(path, "containerPort");
        let container_port = match get(map, "containerPort") {
            Some(p) => self.d.port(&cp_path, p, false),
            None => {
                self.d.error(&cp_path, "Required value");
                None
            }
        };
        let host_port = get(map, "hostPort")
            .and_then(|p| self.d.port(&field(path, "hostPort"), p, true))
            .filter(|p| *p != 0);
        let la_path = field(path, "listenAddress");
        let listen_address = match get(map, "listenAddress") {
            Some(a) => self.ip(&la_path, a)?,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        let protocol = match get(map, "protocol") {
            Some(p) => self.d.one_of(
                &field(path, "protocol"),
                p,
                Protocol::VALUES,
                Protocol::parse,
            )?,
            None => Protocol::Tcp,
        };
        Some(PortMapping {
            container_port: container_port?,
            host_port,
            listen_address,
            protocol,
        })
    }

    fn networking(&mut self, v: &Value, nodes: usize) -> Networking {
        let Some(map) = self.d.object("networking", v, NETWORKING_KEYS) else {
            return Networking::defaults(IpFamily::Ipv4);
        };
        let p = |k: &str| field("networking", k);
        let ip_family = get(map, "ipFamily")
            .and_then(|f| {
                self.d
                    .one_of(&p("ipFamily"), f, IpFamily::VALUES, IpFamily::parse)
            })
            .unwrap_or(IpFamily::Ipv4);
        let mut net = Networking::defaults(ip_family);
        if let Some(a) = get(map, "apiServerAddress")
            && let Some(ip) = self.ip(&p("apiServerAddress"), a)
        {
            if ip.is_loopback() {
                net.api_server_address = ip;
            } else {
                self.d.invalid(
                    &p("apiServerAddress"),
                    a,
                    "must be a loopback address: the lab's API server listens on this host only",
                );
            }
        }
        if let Some(port) = get(map, "apiServerPort")
            && let Some(n) = self.d.integer(&p("apiServerPort"), port)
        {
            // kind: -1 lets the node backend pick, 0 or absent a random port.
            match n {
                -1 | 0 => {}
                1..=65535 => net.api_server_port = Some(n as u16),
                _ => self.d.invalid(
                    &p("apiServerPort"),
                    port,
                    "must be between -1 and 65535, inclusive",
                ),
            }
        }
        if let Some(s) = get(map, "podSubnet")
            && let Some(cidrs) = self.cidrs(&p("podSubnet"), s, ip_family)
        {
            net.pod_subnets = cidrs;
        }
        if let Some(s) = get(map, "serviceSubnet")
            && let Some(cidrs) = self.cidrs(&p("serviceSubnet"), s, ip_family)
        {
            net.service_subnets = cidrs;
        }
        for why in subnets::check_sizes(&net.pod_subnets, &net.service_subnets, nodes) {
            self.d.error(&p(why.0), why.1);
        }
        if let Some(b) =
            get(map, "disableDefaultCNI").and_then(|b| self.d.boolean(&p("disableDefaultCNI"), b))
        {
            net.disable_default_cni = b;
        }
        if let Some(m) = get(map, "kubeProxyMode") {
            net.kube_proxy_mode = self
                .d
                .one_of(
                    &p("kubeProxyMode"),
                    m,
                    KubeProxyMode::VALUES,
                    KubeProxyMode::parse,
                )
                .unwrap_or(KubeProxyMode::Nftables);
        }
        if let Some(m) = get(map, "routingMode") {
            net.routing_mode = self
                .d
                .one_of(
                    &p("routingMode"),
                    m,
                    RoutingMode::VALUES,
                    RoutingMode::parse,
                )
                .unwrap_or(RoutingMode::Vxlan);
        }
        if let Some(v) = get(map, "loadBalancerPool")
            && let Some(s) = self.d.string(&p("loadBalancerPool"), v)
        {
            match lb_pool::parse(s) {
                Ok(pool) => net.load_balancer_pool = pool,
                Err(why) => self.d.invalid(&p("loadBalancerPool"), v, &why),
            }
        }
        if let Some(b) = get(map, "bgp") {
            net.bgp = Some(self.bgp(b));
        }
        if net.routing_mode == RoutingMode::Bgp && net.bgp.is_none() {
            net.bgp = Some(Bgp::default());
        }
        if let Some(list) = get(map, "dnsSearch").and_then(|l| self.d.seq(&p("dnsSearch"), l)) {
            let search = list
                .iter()
                .enumerate()
                .filter_map(|(i, s)| self.d.string(&index(&p("dnsSearch"), i), s))
                .map(str::to_string)
                .collect();
            net.dns_search = Some(search);
        }
        net
    }

    /// `networking.bgp`: an empty mapping (`bgp: {}`) asks for the router with the default
    /// autonomous systems.
    fn bgp(&mut self, v: &Value) -> Bgp {
        let mut bgp = Bgp::default();
        let Some(map) = self.d.object("networking.bgp", v, BGP_KEYS) else {
            return bgp;
        };
        let p = |k: &str| field("networking.bgp", k);
        for (key, slot) in [
            ("routerASN", &mut bgp.router_asn),
            ("nodeASN", &mut bgp.node_asn),
        ] {
            let Some(raw) = get(map, key) else { continue };
            match self.d.integer(&p(key), raw) {
                Some(n @ 1..=4_294_967_295) => *slot = n as u32,
                Some(_) => {
                    self.d
                        .invalid(&p(key), raw, "must be between 1 and 4294967295, inclusive")
                }
                None => {}
            }
        }
        if bgp.router_asn == bgp.node_asn {
            self.d.error(
                &p("nodeASN"),
                "must differ from routerASN: the nodes peer with the router over eBGP",
            );
        }
        bgp
    }

    fn ip(&mut self, path: &str, v: &Value) -> Option<IpAddr> {
        let s = self.d.string(path, v)?;
        match s.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.d.invalid(path, v, "must be a valid IP address");
                None
            }
        }
    }

    /// A comma-separated CIDR list with the families `ip_family` asks for.
    fn cidrs(&mut self, path: &str, v: &Value, ip_family: IpFamily) -> Option<Vec<ipnet::IpNet>> {
        let s = self.d.string(path, v)?;
        match subnets::parse_list(s, ip_family) {
            Ok(cidrs) => Some(cidrs),
            Err(why) => {
                self.d.invalid(path, v, &why);
                None
            }
        }
    }
}

fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(key)
}
