//! Creates a lab's namespaces, links, addresses and routes from its [`Plan`].
//!
//! Every link is created from inside a lab namespace (the fabric makes both ends of each
//! veth, the far end directly in the node's or the external host's namespace), so the host's
//! namespace never holds one, not even for an instant.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::{IpNet, Ipv4Net};
use podnet_netlink::{BridgeSpec, LinkChange, Netlink, RouteSpec, VethSpec};

use crate::error::{Error, Result};
use crate::plan::{
    EXTERNAL_GATEWAY, EXTERNAL_IP, FABRIC_BRIDGE, FABRIC_EXTERNAL_PORT, FABRIC_GATEWAY,
    NODE_NETWORK, Plan, RouterPlan, UPLINK,
};

/// Builds the whole world of `plan`. The namespaces must not exist yet ([`crate::teardown`]
/// first when a previous run may have left some). Must run inside a tokio runtime.
pub async fn build(plan: &Plan) -> Result<()> {
    let fabric_path = create(&plan.fabric).await?;
    let fabric = Netlink::open(Some(&fabric_path))?;
    let bridge = fabric
        .ensure_bridge(&BridgeSpec {
            name: FABRIC_BRIDGE,
            mtu: None,
            promisc: false,
            mac: None,
        })
        .await?;
    let gateway = Ipv4Net::new(FABRIC_GATEWAY, NODE_NETWORK.prefix_len()).expect("prefix");
    fabric.add_address(bridge.index, gateway.into()).await?;
    // The fabric routes between the node network and the outside world.
    sysctl(&fabric_path, &plan.fabric, "net/ipv4/ip_forward", "1")?;

    let external_path = create(&plan.external).await?;
    let uplink = Ipv4Net::new(EXTERNAL_GATEWAY, 24).expect("prefix");
    let port = attach(&fabric, FABRIC_EXTERNAL_PORT, &external_path, None).await?;
    fabric.add_address(port, uplink.into()).await?;
    // The outside world knows the node network (through the fabric) but not the pods: a pod
    // packet only comes back if it was masqueraded to its node's address.
    let ext = Ipv4Net::new(EXTERNAL_IP, 24).expect("prefix");
    configure_host(&external_path, ext, EXTERNAL_GATEWAY).await?;

    for node in &plan.nodes {
        let path = create(&node.netns).await?;
        attach(&fabric, &node.fabric_port, &path, Some(bridge.index)).await?;
        let addr = Ipv4Net::new(node.ip, NODE_NETWORK.prefix_len()).expect("prefix");
        configure_host(&path, addr, FABRIC_GATEWAY).await?;
        // A node forwards for its pods.
        sysctl(&path, &node.netns, "net/ipv4/ip_forward", "1")?;
    }
    if let Some(router) = &plan.router {
        build_router(&fabric, bridge.index, router).await?;
    }
    tracing::info!(lab = %plan.lab, nodes = plan.nodes.len(), "lab network built");
    Ok(())
}

/// The router's namespace on the node network, and the fabric's routes through it.
async fn build_router(fabric: &Netlink, bridge: u32, router: &RouterPlan) -> Result<()> {
    let path = create(&router.netns).await?;
    // Node-to-node traffic leaves the router on the segment it came from: a redirect would
    // teach the sending node to bypass the router, which alone knows the routes. `default`
    // before the link exists, so that eth0 is created with it.
    for key in [
        "net/ipv4/conf/all/send_redirects",
        "net/ipv4/conf/default/send_redirects",
    ] {
        sysctl(&path, &router.netns, key, "0")?;
    }
    attach(fabric, &router.fabric_port, &path, Some(bridge)).await?;
    let addr = Ipv4Net::new(router.ip, NODE_NETWORK.prefix_len()).expect("prefix");
    configure_host(&path, addr, FABRIC_GATEWAY).await?;
    sysctl(&path, &router.netns, "net/ipv4/ip_forward", "1")?;
    for prefix in &router.routed {
        fabric
            .add_route(&RouteSpec {
                dst: Some(IpNet::V4(*prefix)),
                gw: Some(router.ip.into()),
                oif: Some(bridge),
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}

/// Creates and pins namespace `name` with its loopback up.
async fn create(name: &str) -> Result<std::path::PathBuf> {
    let path = podnet_netns::create(name)?;
    let nl = Netlink::open(Some(&path))?;
    let lo = nl.link("lo").await?;
    nl.change_link(&lo, &up()).await?;
    Ok(path)
}

fn up() -> LinkChange {
    LinkChange {
        up: Some(true),
        ..Default::default()
    }
}

/// A veth from the fabric (`port`, enslaved to `master` when given) to `eth0` in the
/// namespace at `peer`; returns the fabric end's index.
async fn attach(fabric: &Netlink, port: &str, peer: &Path, master: Option<u32>) -> Result<u32> {
    let peer_ns = File::open(peer).map_err(|source| podnet_netns::Error::Io {
        path: peer.to_owned(),
        op: "open",
        source,
    })?;
    fabric
        .add_veth(&VethSpec {
            name: port,
            peer_name: UPLINK,
            peer_netns: Some(peer_ns.as_fd()),
            mtu: None,
            master,
        })
        .await?;
    let link = fabric.link(port).await?;
    Ok(link.index)
}

/// Inside a node or the external host: `eth0` up with `addr`, default route via `gateway`.
async fn configure_host(path: &Path, addr: Ipv4Net, gateway: std::net::Ipv4Addr) -> Result<()> {
    let nl = Netlink::open(Some(path))?;
    let eth0 = nl.link(UPLINK).await?;
    nl.add_address(eth0.index, addr.into()).await?;
    nl.change_link(&eth0, &up()).await?;
    nl.add_route(&RouteSpec {
        dst: Some(IpNet::V4(Ipv4Net::default())),
        gw: Some(gateway.into()),
        oif: Some(eth0.index),
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// Writes `/proc/sys/<key>` as seen from inside the namespace at `path`.
fn sysctl(path: &Path, netns: &str, key: &str, value: &str) -> Result<()> {
    let file = format!("/proc/sys/{key}");
    podnet_netns::run_in(path, || std::fs::write(&file, value))?.map_err(|source| Error::Sysctl {
        netns: netns.to_owned(),
        key: key.replace('/', "."),
        source,
    })
}
