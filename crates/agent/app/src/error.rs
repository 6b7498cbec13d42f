use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no kubeconfig given and none could be inferred: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("building the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Routing(#[from] podnet_agent_routing::Error),
    #[error("bgp: {0}")]
    Bgp(#[from] podnet_agent_bgp::Error),
    #[error("service proxy: {0}")]
    Proxy(#[from] podnet_agent_proxy::Error),
    #[error("l2 announcer: {0}")]
    Announce(#[from] podnet_agent_announce::Error),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
