//! `podnet gateway`'s control side: watches the objects that define what the gateway
//! serves, turns them into the proxy's [`Config`](podnet_gateway_proxy::Config) (pure:
//! [`build`]), publishes each generation through a watch channel, and writes the objects'
//! status (the address an Ingress is served on).

pub mod build;
mod endpoints;
mod error;
pub mod gateway_api;
pub mod ingress;
mod objects;
mod status;
mod watch;

pub use build::build;
pub use error::{Error, Result};
pub use objects::Objects;
pub use watch::{Options, client, run};

/// The controller named by IngressClasses (`spec.controller`) this gateway serves.
pub const CONTROLLER_NAME: &str = "podnet.io/gateway";
