use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("building the API client")]
    Client(#[source] kube::Error),
    #[error("--publish-service must be NAMESPACE/NAME, not {0:?}")]
    PublishService(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
