/// What went wrong building or removing a lab's namespaces, naming the namespace.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
    #[error(transparent)]
    Netlink(#[from] podnet_netlink::Error),
    #[error("network namespace {netns}: sysctl {key}: {source}")]
    Sysctl {
        netns: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("lab {lab:?} has {count} nodes; the node network has room for at most {max}")]
    TooManyNodes {
        lab: String,
        count: usize,
        max: usize,
    },
    #[error("processes {pids:?} in network namespace {netns} did not end after SIGKILL")]
    Survivors { netns: String, pids: Vec<i32> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
