/// What can go wrong in the iptables and ipvs modes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Iptables(#[from] podnet_iptables::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

// === impl Error ===

impl Error {
    /// As the engine's error, tagged with the mode.
    pub fn into_proxy(self, mode: &'static str) -> podnet_agent_proxy::Error {
        match self {
            Error::Iptables(podnet_iptables::Error::IpvsMissing { evidence }) => {
                podnet_agent_proxy::Error::Unsupported {
                    mode,
                    reason: podnet_iptables::Error::IpvsMissing { evidence }.to_string(),
                }
            }
            other => podnet_agent_proxy::Error::Backend {
                mode,
                source: Box::new(other),
            },
        }
    }
}
