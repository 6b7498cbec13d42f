/// What stops the announcer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the ARP responder: {0}")]
    Arp(#[from] podnet_arp::Error),
    #[error("node {node}: {source}")]
    Node {
        node: String,
        #[source]
        source: kube::Error,
    },
}
