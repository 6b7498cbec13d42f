/// What opening or running the ARP socket can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("arp socket on {interface:?}: {op}: {source}")]
    Socket {
        interface: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("interface name {interface:?} is not valid")]
    BadInterface { interface: String },
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
