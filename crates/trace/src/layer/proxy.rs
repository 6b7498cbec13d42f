//! The service proxy's rules on the node the packet meets first: the proxy's own rendering
//! of every Service for that node (`table ip kube-proxy`, as the agent would write it), and
//! podnet-nft's tracer walking the packet through it — chains, DNAT targets with their
//! chances, rejects for Services without endpoints, the masquerade mark.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use podnet_agent_proxy::nftables::render::{MASQ_MARK, render};
use podnet_agent_proxy::{NodeInfo, NodePortAddressConfig, Plan, ServiceState};
use podnet_agent_routing::Egress;
use podnet_k8s_model::{AddressFamily, EndpointSliceInfo, Service};
use podnet_nft::object::{Hook, Table};
use podnet_nft::trace::{Fate, Outcome, Packet, trace};

use super::Target;
use super::endpoints::Chosen;
use crate::objects::{Objects, key};
use crate::report::{Layer, LayerName};
use crate::walk::{Dest, Via, Walk};

/// A source port for the traced packet (no rule looks at it).
const SOURCE_PORT: u16 = 40000;

/// The tables a node holds, as its agent would render them from `objects`.
pub struct NodeTables {
    pub proxy: Table,
    pub egress: Option<Table>,
    pub node_ip: Option<IpAddr>,
}

/// The proxy's table (IPv4) and the egress table of `node`, with the Services a packet to
/// `daddr` can meet (those with it as an address, and every NodePort when it is the node's
/// own): the table the agent writes holds the others too, but no rule of theirs matches
/// this packet, and leaving them out keeps a trace fast in a cluster of thousands.
pub fn node_tables(
    objects: &Objects,
    node: &str,
    cluster_cidrs: &[IpNet],
    daddr: IpAddr,
) -> NodeTables {
    let node_ip = objects.node_ip(node);
    let zone = objects.node(node).and_then(|n| {
        n.metadata
            .labels
            .as_ref()?
            .get("topology.kubernetes.io/zone")
            .cloned()
    });
    let info = NodeInfo {
        name: node.to_owned(),
        zone,
        node_ips: node_ip.into_iter().collect(),
        cluster_cidrs: cluster_cidrs.to_vec(),
    };
    let to_a_node = objects.node_by_ip(daddr).is_some();
    let services: Vec<Service> = objects
        .services
        .iter()
        .filter_map(|s| Service::from_service(s).ok())
        .filter(|s| {
            s.cluster_ips.contains(&daddr)
                || s.external_ips.contains(&daddr)
                || s.load_balancer_ips.contains(&daddr)
                || (to_a_node && s.ports.iter().any(|p| p.node_port.is_some()))
        })
        .collect();
    let names: BTreeSet<_> = services.iter().map(|s| s.name.clone()).collect();
    let slices: Vec<EndpointSliceInfo> = objects
        .slices
        .iter()
        .filter_map(|s| EndpointSliceInfo::from_slice(s).ok().flatten())
        .filter(|s| s.service.as_ref().is_some_and(|n| names.contains(n)))
        .collect();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let dirty = state.take_dirty();
    let mut plan = Plan::default();
    plan.update(&state, &info, &dirty);
    let np = NodePortAddressConfig::Primary.resolve(AddressFamily::V4, &info, &info.node_ips);
    let proxy = render(&plan, &info, AddressFamily::V4, &np).table();
    let egress = cluster_cidrs.iter().find_map(|c| match c {
        IpNet::V4(v4) => Some(*v4),
        IpNet::V6(_) => None,
    });
    let egress = egress.map(|cluster_cidr: Ipv4Net| {
        Egress {
            cluster_cidr,
            node_ips: objects
                .node_routes()
                .iter()
                .filter_map(|n| match n.node_ip?.0 {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
                .collect::<BTreeSet<Ipv4Addr>>(),
        }
        .table()
    });
    NodeTables {
        proxy,
        egress,
        node_ip,
    }
}

pub fn check(
    walk: &Walk<'_>,
    dest: &Dest<'_>,
    chosen: Option<&Chosen>,
    port: u16,
) -> (Layer, Vec<Target>) {
    let src = &walk.source;
    let direct = |ip: IpAddr, port: u16| Target {
        ip,
        port,
        from_node: src.node.clone(),
        seen_source: src.ip,
        masquerade: false,
        original: None,
    };
    if let Dest::Service {
        via: Via::Headless,
        svc,
    } = dest
    {
        let targets = chosen
            .into_iter()
            .flat_map(|c| &c.endpoints)
            .filter(|e| e.ready)
            .map(|e| direct(e.addr.ip(), e.addr.port()))
            .collect();
        return (
            Layer::not_applicable(
                LayerName::Proxy,
                format!(
                    "{} is headless: clients connect to the endpoints' own addresses",
                    key(&svc.metadata)
                ),
            ),
            targets,
        );
    }
    if matches!(dest, Dest::Service { .. }) && chosen.is_none() {
        return (
            Layer::not_applicable(LayerName::Proxy, "nothing to proxy"),
            Vec::new(),
        );
    }
    let (daddr, dport) = match dest {
        Dest::Service { via, .. } => match via {
            Via::ClusterIp(ip) | Via::LoadBalancer(ip) | Via::ExternalIp(ip) => (*ip, port),
            Via::NodePort { ip, .. } => (*ip, port),
            Via::Headless => unreachable!("handled above"),
        },
        Dest::Pod { ip, .. } | Dest::Node { ip, .. } | Dest::External { ip } => (*ip, port),
    };
    let Some(node) = walk.first_node(dest) else {
        return (
            Layer::not_applicable(
                LayerName::Proxy,
                "sent from outside to no node: no node's rules on the way",
            ),
            vec![direct(daddr, dport)],
        );
    };
    let cidrs = walk.cluster_cidrs();
    let tables = node_tables(walk.objects, &node, &cidrs, daddr);
    // A node's own processes (and host-network pods) meet the output hook; pods and
    // packets from outside arrive through prerouting.
    let hook = if src.pod.is_none() && src.node.as_deref() == Some(&node) {
        Hook::Output
    } else {
        Hook::Prerouting
    };
    let pkt = Packet::new(walk.protocol.number(), src.ip, SOURCE_PORT, daddr, dport)
        .with_local(&tables.node_ip.into_iter().collect::<Vec<_>>());
    let outcomes = trace(&[&tables.proxy], hook, &pkt);
    let is_service = matches!(dest, Dest::Service { .. });
    let mut evidence = vec![format!(
        "node {node}: table ip kube-proxy as its agent renders it, {hook:?} hook, packet {}:{} → {daddr}:{dport}/{}",
        src.ip, SOURCE_PORT, walk.protocol
    )];
    let mut broken = Vec::new();
    let mut targets = Vec::new();
    for o in &outcomes {
        let via = o.chains().join(" → ");
        let said = o
            .comments()
            .first()
            .map(|c| format!("{c}: "))
            .unwrap_or_default();
        match (&o.fate, o.dnat) {
            (Fate::Reject(with), _) => broken.push(format!(
                "{said}rejected ({with:?}) p={}: the Service has no usable endpoint here (chains {via})",
                super::chance(o.probability)
            )),
            (Fate::Drop, _) => broken.push(format!(
                "{said}dropped p={} (chains {via})",
                super::chance(o.probability)
            )),
            (Fate::Loop, _) => broken.push(format!("jumps nest too deep (chains {via})")),
            (Fate::Accept, Some(to)) => {
                let port = to.port.unwrap_or(dport);
                evidence.push(format!(
                    "{said}DNAT to {}:{port} p={} via {via}{}",
                    to.addr,
                    super::chance(o.probability),
                    if o.packet.mark & MASQ_MARK != 0 { ", marked for masquerade" } else { "" }
                ));
                targets.push(target(walk, &tables, &node, o, to.addr, port, Some((daddr, dport))));
            }
            (Fate::Accept, None) if is_service => broken.push(format!(
                "no rule of table ip kube-proxy on {node} matches {daddr}:{dport}/{}: the agent would not program this Service port (chains {via})",
                walk.protocol
            )),
            (Fate::Accept, None) => {
                evidence.push(format!("not a Service address: no DNAT (chains {via})"));
                targets.push(target(walk, &tables, &node, o, daddr, dport, None));
            }
        }
    }
    if !broken.is_empty() {
        broken.extend(evidence);
        return (Layer::broken(LayerName::Proxy, broken), targets);
    }
    (Layer::ok(LayerName::Proxy, evidence), targets)
}

/// A branch of the trace as a target, its way out of the node traced through postrouting
/// (the proxy's masquerade, the egress table's).
fn target(
    walk: &Walk<'_>,
    tables: &NodeTables,
    node: &str,
    o: &Outcome,
    ip: IpAddr,
    port: u16,
    original: Option<(IpAddr, u16)>,
) -> Target {
    let mut post: Vec<&Table> = vec![&tables.proxy];
    post.extend(tables.egress.as_ref());
    let out = trace(&post, Hook::Postrouting, &o.packet);
    let masquerade = out.iter().any(|p| p.masquerade);
    Target {
        ip,
        port,
        from_node: Some(node.to_owned()),
        seen_source: match (masquerade, tables.node_ip) {
            (true, Some(n)) => n,
            _ => walk.source.ip,
        },
        masquerade,
        original,
    }
}
