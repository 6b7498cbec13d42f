//! The lab's built-in workloads. The lab has no container images: a container that uses
//! Kubernetes' test image `registry.k8s.io/e2e-test-images/agnhost` is run by podnet's own
//! implementation of the agnhost sub-command it names — `netexec`, `serve-hostname`,
//! `connect`, `pause` — with the same flags and the same HTTP/UDP answers, so Kubernetes' e2e
//! manifests and checks run unchanged. Other images the documentation uses are emulated
//! too ([`images::IMAGES`]: nginx, httpd, httpbin, hello-app, serve_hostname, pause, shell
//! images); a container with neither a command nor an emulated image cannot run.
//!
//! - [`launch_for`] maps a container (image, command, args, ports) to what runs it;
//!   [`Workload::from_agnhost_args`] is the pure parser of agnhost's arguments.
//! - [`run`] runs one workload in this process and returns its exit status; the kubelet starts
//!   `podnet workload <argv…>` inside the pod's namespaces.
//!
//! Log lines are `tracing` events at INFO, one per request as agnhost logs them; set
//! `RUST_LOG=info` to see them.

mod args;
mod connect;
mod container;
mod duration;
mod error;
mod go;
mod hello_app;
mod http;
mod httpbin;
pub mod images;
pub mod netexec;
mod pause;
mod serve_hostname;
mod static_site;
mod sys;

pub use args::{
    AGNHOST_SUBCOMMANDS, BootcampArgs, ConnectArgs, HelloAppArgs, HttpbinArgs, NetexecArgs,
    NodeHelloArgs, PauseArgs, PortSpec, PortsArgs, Protocol, ServeHostnameArgs, StaticSiteArgs,
    Workload,
};
pub use container::{ContainerSpec, Launch, launch_for};
pub use duration::parse_go_duration;
pub use error::{Error, Result};

use std::future::Future;
use std::pin::Pin;

/// Runs `workload` until it ends and returns the exit status the process should have.
/// Errors are the upstream's fatal ones (a port already in use, a refused flag): exit 1.
pub fn run(workload: Workload) -> Result<i32> {
    let work: Pin<Box<dyn Future<Output = Result<i32>>>> = match workload {
        // One blocking attempt: no runtime needed.
        Workload::Connect(args) => return Ok(connect::run(&args)),
        Workload::Netexec(args) => Box::pin(netexec::run(netexec::Config::from_args(&args)?)),
        Workload::Ports(args) => Box::pin(netexec::run(netexec::Config::for_ports(&args)?)),
        Workload::ServeHostname(args) => Box::pin(serve_hostname::run(args)),
        Workload::Pause(args) => Box::pin(pause::run(args)),
        Workload::HelloApp(args) => Box::pin(hello_app::run(args)),
        Workload::KubernetesBootcamp(args) => Box::pin(hello_app::run_bootcamp(args)),
        Workload::NodeHello(args) => Box::pin(hello_app::run_node_hello(args)),
        Workload::Nginx(args) => Box::pin(static_site::run(static_site::Flavor::Nginx, args)),
        Workload::Httpd(args) => Box::pin(static_site::run(static_site::Flavor::Httpd, args)),
        Workload::Httpbin(args) => Box::pin(httpbin::run(args)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("workload", "start the async runtime", e))?;
    let code = runtime.block_on(work);
    // Handlers still waiting (a `/shell` command, an unanswered `/exit`) must not hold the exit.
    runtime.shutdown_background();
    code
}
