//! The lab's control-plane process (`podnet lab daemon`), and the state directory it shares
//! with the `podnet lab` commands that start, inspect and stop it.
//!
//! One lab = one directory ([`LabDir`], `/var/lib/podnet/labs/NAME` by default):
//!
//! | file | written by | what |
//! |---|---|---|
//! | `cluster.yaml` | `lab up` | the kind cluster config the lab was made from |
//! | `store/` | the API server | the crash-safe object store |
//! | `address` | the daemon | `127.0.0.1:PORT`, chosen once, kept across restarts |
//! | `kubeconfig` | the daemon | cluster, user and context `podnet-NAME`: HTTPS on loopback, the admin's client certificate |
//! | `kubeconfig.in-lab` | the daemon | the same at 172.18.0.1:6443, for the admin inside the lab |
//! | `pki/` | the daemon | the lab's CA, the API server's certificate, the service-account signing key; the components' kubeconfigs, each with its own certificate (see `identities`) |
//! | `daemon.pid` | the daemon | pid and start time, to stop exactly this process |
//! | `daemon.lock` | the daemon | held (flock) while it runs: one daemon per lab |
//! | `daemon.log` | `lab up` | the daemon's stdout and stderr (its structured logs) |
//!
//! [`run`] is the daemon itself: the API server on the lab's address and the controllers,
//! talking to it through a kube client, until SIGTERM.

mod controllers;
mod error;
mod external_dns;
pub mod identities;
mod kubeconfig;
mod nodes;
pub mod pidfile;
pub mod pki;
pub mod router;
mod run;
pub mod state;
mod supervise;

pub use controllers::lab_plan;
pub use error::DaemonError;
pub use kubeconfig::{client as client_from_kubeconfig, context_name, render as render_kubeconfig};
pub use nodes::cluster_dns;
pub use pidfile::{DaemonProcess, PidFile};
pub use run::run;
pub use state::{Component, LabDir};
