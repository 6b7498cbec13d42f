use std::io;

/// Everything that stops a workload from starting or running, and every container this crate
/// cannot map to a way of running it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An agnhost sub-command podnet does not provide.
    #[error(
        "agnhost sub-command {0:?} is not built into podnet (it provides netexec, serve-hostname, connect and pause)"
    )]
    UnknownSubcommand(String),
    /// agnhost called with no sub-command at all.
    #[error("agnhost: no sub-command given (netexec, serve-hostname, connect or pause)")]
    NoSubcommand,
    /// Flags that agnhost itself would refuse.
    #[error("agnhost {subcommand}: {message}")]
    Args { subcommand: String, message: String },
    /// A feature of the upstream workload that podnet does not offer, named by its flag.
    #[error("{workload} {flag}: {reason}")]
    Unsupported {
        workload: &'static str,
        flag: String,
        reason: String,
    },
    /// An image the lab does not emulate, in a container that gives no command to run.
    #[error(
        "image {image:?} is not emulated by the lab (no image is pulled): give the container a `command` to run from the machine, or use one of the images in docs/images.md"
    )]
    ImageNotEmulated { image: String },
    /// A socket that could not be bound, or another I/O failure while serving.
    #[error("{workload}: {what}: {source}")]
    Io {
        workload: &'static str,
        what: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(workload: &'static str, what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            workload,
            what: what.into(),
            source,
        }
    }
}
