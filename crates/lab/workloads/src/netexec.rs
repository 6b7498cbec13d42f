//! agnhost's `netexec`: an HTTP server with the endpoints Kubernetes' e2e tests drive
//! (`/dial` to test connectivity from this pod, `/exit` to make it fail, `/hostname`,
//! `/clientip` …) and a UDP server answering `hostname`, `echo MSG` and `clientip`.
//!
//! This is a test server: `/shell?cmd=` runs any shell command, exactly as upstream's does.
//! Differences from upstream: no TLS (`--tls-cert-file` is refused), no SCTP (the lab's kernel
//! has none; `--sctp-port` is refused), and `/upload` answers 501.

mod dial;
mod path;
mod routes;
mod shell;
mod udp;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::info;

use crate::args::{NetexecArgs, PortsArgs, Protocol};
use crate::http::{self, Stop, Stopper};
use crate::{Error, Result, sys};

const WORKLOAD: &str = "netexec";

/// What one netexec process serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Ports for the HTTP server, on every address.
    pub http_ports: Vec<u16>,
    /// UDP sockets: an address (`None`: every address) and a port.
    pub udp: Vec<(Option<IpAddr>, u16)>,
    /// Serve every request as a GET of this path and query (`--http-override`).
    pub http_override: Option<String>,
    /// How long to keep serving after SIGTERM.
    pub delay_shutdown: Duration,
    /// Whether `/healthz` answers 200 without a UDP server. Upstream's does not (readiness is
    /// "the UDP server runs"); podnet's port servers have no UDP port to wait for.
    pub ready_without_udp: bool,
}

// === impl Config ===

impl Config {
    /// The configuration agnhost's flags describe; refuses what podnet does not provide.
    pub fn from_args(args: &NetexecArgs) -> Result<Self> {
        let unsupported = |flag: &str, reason: String| Error::Unsupported {
            workload: WORKLOAD,
            flag: flag.to_owned(),
            reason,
        };
        if !args.tls_cert_file.is_empty() || !args.tls_private_key_file.is_empty() {
            return Err(unsupported(
                "--tls-cert-file",
                "podnet's built-in netexec serves plain HTTP only".to_owned(),
            ));
        }
        if args.sctp_port != -1 {
            return Err(unsupported("--sctp-port", sctp_refusal()));
        }
        let mut udp = Vec::new();
        if args.udp_port != -1 {
            let port = args.udp_port as u16;
            if args.udp_listen_addresses.is_empty() {
                udp.push((None, port));
            } else {
                let mut ips = Vec::new();
                for a in args.udp_listen_addresses.split(',') {
                    let ip: IpAddr = a.trim().parse().map_err(|_| Error::Args {
                        subcommand: WORKLOAD.to_owned(),
                        message: format!("--udp-listen-addresses: invalid address {a:?}"),
                    })?;
                    ips.push(ip);
                }
                ips.sort();
                ips.dedup();
                udp.extend(ips.into_iter().map(|ip| (Some(ip), port)));
            }
        }
        Ok(Self {
            http_ports: vec![args.http_port],
            udp,
            http_override: Some(args.http_override.clone()).filter(|o| !o.is_empty()),
            delay_shutdown: Duration::from_secs(args.delay_shutdown),
            ready_without_udp: false,
        })
    }

    /// netexec on each declared port: HTTP on TCP ports, the UDP commands on UDP ports.
    pub fn for_ports(args: &PortsArgs) -> Result<Self> {
        let mut config = Self {
            http_ports: Vec::new(),
            udp: Vec::new(),
            http_override: None,
            delay_shutdown: Duration::ZERO,
            ready_without_udp: true,
        };
        for p in &args.ports {
            match p.protocol {
                Protocol::Tcp => config.http_ports.push(p.port),
                Protocol::Udp => config.udp.push((None, p.port)),
                Protocol::Sctp => {
                    return Err(Error::Unsupported {
                        workload: "ports",
                        flag: p.to_string(),
                        reason: sctp_refusal(),
                    });
                }
            }
        }
        Ok(config)
    }
}

fn sctp_refusal() -> String {
    match sys::sctp_available() {
        Err(e) => format!("this kernel has no SCTP ({e})"),
        Ok(()) => "podnet's built-in netexec has no SCTP server".to_owned(),
    }
}

/// What the handlers share.
pub(crate) struct State {
    /// Set while a UDP server runs: `/healthz` and `/readyz` answer from it.
    ready: AtomicBool,
    /// Set once SIGTERM arrived: `/readyz` answers 503.
    terminating: AtomicBool,
    started: Instant,
    http_override: Option<String>,
    stops: Stopper,
}

/// Runs netexec until `/exit`, `/shutdown`, SIGTERM or a failing server; returns the exit status.
pub async fn run(config: Config) -> Result<i32> {
    let mut sigterm = sys::sigterm(WORKLOAD)?;
    let mut sockets = Vec::new();
    for (ip, port) in &config.udp {
        sockets.push(sys::bind_udp(WORKLOAD, *ip, *port).await?);
    }
    let mut listeners = Vec::new();
    for port in &config.http_ports {
        listeners.push(sys::listen_tcp_any(WORKLOAD, *port).await?);
    }

    let (stops, stop_rx) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        ready: AtomicBool::new(config.ready_without_udp && sockets.is_empty()),
        terminating: AtomicBool::new(false),
        started: Instant::now(),
        http_override: config.http_override.clone(),
        stops,
    });
    for socket in sockets {
        tokio::spawn(udp::serve(socket, state.clone()));
    }
    let delay = config.delay_shutdown;
    let term_state = state.clone();
    tokio::spawn(async move {
        sigterm.recv().await;
        term_state.terminating.store(true, Ordering::SeqCst);
        if !delay.is_zero() {
            info!(seconds = delay.as_secs(), "Sleeping before terminating");
            tokio::time::sleep(delay).await;
        }
        let _ = term_state.stops.send(Stop::Exit(0));
    });

    for port in &config.http_ports {
        info!(port, "Started HTTP server");
    }
    let handler_state = state.clone();
    let handler = http::handler(move |peer, req| routes::handle(handler_state.clone(), peer, req));
    http::serve(listeners, handler, stop_rx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Workload;

    fn config(args: &[&str]) -> Result<Config> {
        let Workload::Netexec(a) = Workload::from_agnhost_args(args).unwrap() else {
            unreachable!("parsed as netexec")
        };
        Config::from_args(&a)
    }

    #[test]
    fn flags_make_the_config() {
        let c = config(&["netexec", "--http-port=8083", "--udp-port=8081"]).unwrap();
        assert_eq!(c.http_ports, [8083]);
        assert_eq!(c.udp, [(None, 8081)]);
        assert!(!c.ready_without_udp && c.http_override.is_none());

        let c = config(&[
            "netexec",
            "--udp-listen-addresses=10.0.0.2,10.0.0.1,10.0.0.2",
        ])
        .unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(c.udp, [(ip("10.0.0.1"), 8081), (ip("10.0.0.2"), 8081)]);

        let c = config(&["netexec", "--udp-port=-1", "--delay-shutdown=3"]).unwrap();
        assert!(c.udp.is_empty());
        assert_eq!(c.delay_shutdown, Duration::from_secs(3));
    }

    #[test]
    fn unsupported_flags_are_named() {
        let e = config(&["netexec", "--sctp-port=8082"]).unwrap_err();
        assert!(e.to_string().starts_with("netexec --sctp-port: "), "{e}");
        let e = config(&["netexec", "--tls-cert-file=/localhost.crt"]).unwrap_err();
        assert!(e.to_string().contains("--tls-cert-file"), "{e}");
        let e = config(&["netexec", "--udp-listen-addresses=nope"]).unwrap_err();
        assert!(e.to_string().contains("\"nope\""), "{e}");
    }
}
