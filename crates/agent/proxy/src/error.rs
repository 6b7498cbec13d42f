/// What can go wrong while syncing the proxy's rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("nftables: {0}")]
    Nft(#[from] podnet_nft::Error),
    #[error("reading the kube-proxy table back: {0}")]
    Parse(String),
    #[error("{mode} mode: {source}")]
    Backend {
        mode: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{mode} mode is not available on this node: {reason}")]
    Unsupported { mode: &'static str, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
