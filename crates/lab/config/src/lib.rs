//! The lab's cluster config, in kind's own format (`kind: Cluster`,
//! `apiVersion: kind.x-k8s.io/v1alpha4`), so that the configs users already have for kind work
//! as they are.
//!
//! Parsing is strict, as kind's is: an unknown field is an error naming its path
//! (`networking.podSubnt: unknown field`), and so is a bad value
//! (`nodes[1].role: Invalid value: "master": …`). Keys that only make sense for kind's node
//! containers (images, mounts, kubeadm and containerd patches) are accepted and reported back
//! as [`Note`]s, so a user sees what the lab ignores.
//!
//! - [`cluster`]: the parsed config with the lab's defaults applied.
//! - [`parse()`]: YAML text → [`Parsed`] (the config and its notes) or [`ConfigError`].

pub mod cluster;
mod decode;
pub mod error;
mod parse;

pub use cluster::{
    Bgp, Cluster, IpFamily, KubeProxyMode, Networking, Node, PortMapping, Protocol, Role,
    RoutingMode,
};
pub use error::{ConfigError, FieldError};
pub use parse::{Note, Parsed, parse, validate_cluster_name};

/// The config's `apiVersion`.
pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";
/// The config's `kind`.
pub const KIND: &str = "Cluster";
