#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {netns}: running {program}: {source}")]
    Spawn {
        netns: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {netns}: {program} {what} failed: {stderr}")]
    Failed {
        netns: String,
        program: String,
        what: String,
        stderr: String,
    },
    /// A restore input was rejected; nothing of it was applied. `lines` shows the failing
    /// line (numbered as in the input) with its neighbours, as kube-proxy logs it.
    #[error(
        "network namespace {netns}: {program} rejected the input at line {line}: {stderr}\n{lines}"
    )]
    Rejected {
        netns: String,
        program: String,
        line: usize,
        lines: String,
        stderr: String,
    },
    /// The kernel has no IPVS: the ipvs proxy mode cannot run on it.
    #[error(
        "the ipvs proxy mode needs IPVS in the kernel (CONFIG_IP_VS, the ip_vs module), \
         which this kernel does not have: {evidence}; use the nftables or iptables mode"
    )]
    IpvsMissing { evidence: String },
    #[error("probing IPVS over generic netlink: {0}")]
    IpvsProbe(#[source] std::io::Error),
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
