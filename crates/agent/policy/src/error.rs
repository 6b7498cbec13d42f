//! What can go wrong turning policy objects into rules and applying them.

/// Errors of the policy crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A NetworkPolicy the API would not have admitted (the API server validates; a real
    /// cluster's objects can still be older than a validation rule).
    #[error("networkpolicy {namespace}/{name}: {reason}")]
    InvalidPolicy {
        namespace: String,
        name: String,
        reason: String,
    },
    /// A ClusterNetworkPolicy its CRD's validation would have refused.
    #[error("clusternetworkpolicy {name}: {reason}")]
    InvalidClusterPolicy { name: String, reason: String },
    #[error("nftables: {0}")]
    Nft(#[from] podnet_nft::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
