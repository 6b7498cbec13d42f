/// What stopped a reconcile, naming the node or the kernel object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("node {node:?}: no Node object of that name (yet)")]
    OwnNodeMissing { node: String },
    #[error("node {node:?}: status.addresses has no IPv4 InternalIP (yet)")]
    OwnNodeWithoutIp { node: String },
    #[error("node {node:?}: no link in this namespace holds the node IP {node_ip}")]
    NoUnderlay { node: String, node_ip: String },
    #[error("link {name:?} vanished while being configured")]
    LinkVanished { name: String },
    #[error(transparent)]
    Netlink(#[from] podnet_netlink::Error),
    #[error(transparent)]
    Nft(#[from] podnet_nft::Error),
    #[error("the nft worker thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
