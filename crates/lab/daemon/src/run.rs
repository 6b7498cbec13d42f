//! The daemon: one lab's API server and controllers until SIGTERM or SIGINT.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;

use nix::fcntl::{Flock, FlockArg};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{SignalKind, signal};

use podnet_lab_controllers::CancellationToken;

use crate::controllers;
use crate::error::DaemonError;
use crate::kubeconfig;
use crate::pidfile::{DaemonProcess, PidFile};
use crate::state::{LabDir, write_atomic};

/// Runs the lab's control plane from its state directory until SIGTERM or SIGINT.
///
/// The address is chosen once (the config's `apiServerPort`, else a free port) and kept in
/// the state directory, so that a restarted daemon serves where kubeconfigs already point.
pub async fn run(lab: &LabDir) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&lab.path).map_err(DaemonError::io(&lab.path))?;
    let _lock = lock(lab)?;
    let parsed = lab.cluster()?;
    let cluster = parsed.cluster;
    let listener = bind(lab, &cluster.networking).await?;
    let addr = listener.local_addr().map_err(DaemonError::io(&lab.path))?;
    write_atomic(&lab.address_file(), format!("{addr}\n").as_bytes())?;
    write_atomic(
        &lab.kubeconfig(),
        kubeconfig::render(&lab.name, addr).as_bytes(),
    )?;
    PidFile::current()?.write(&lab.pid_file())?;
    tracing::info!(lab = %lab.name, %addr, pid = std::process::id(), nodes = cluster.nodes.len(),
        "lab daemon starting");

    let stop = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::io(&lab.path))?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::io(&lab.path))?;
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = which, "shutting down");
        on_signal.cancel();
    });

    // ClusterIPs come from the config's serviceSubnet (kube-apiserver's
    // --service-cluster-ip-range); node ports from the default range.
    let api_config = podnet_apiserver::Config {
        service_cidrs: cluster.networking.service_subnets.clone(),
        ..Default::default()
    };
    let controllers = tokio::spawn(controllers::run(
        addr,
        lab.name.clone(),
        cluster,
        stop.clone(),
    ));
    let store = lab.store_dir();
    let server_stop = stop.clone();
    let served = podnet_apiserver::serve_with(listener, &store, &api_config, async move {
        server_stop.cancelled().await
    })
    .await;
    stop.cancel();
    let _ = controllers.await;
    // Only a clean stop removes the pid file: after a crash it is the stale one `up` checks.
    let _ = std::fs::remove_file(lab.pid_file());
    tracing::info!(lab = %lab.name, "lab daemon stopped");
    served.map_err(DaemonError::from)
}

/// Holds the lab's lock for the daemon's lifetime: a second daemon for the same lab fails
/// here, and the kernel drops the lock however this process ends.
fn lock(lab: &LabDir) -> Result<Flock<File>, DaemonError> {
    let path = lab.lock_file();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(DaemonError::io(&path))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| DaemonError::AlreadyRunning {
        name: lab.name.clone(),
        pid: DaemonProcess::find(lab).ok().flatten().map(|d| d.pid),
    })
}

/// Binds the remembered address, else the configured one, else a free port on it.
async fn bind(
    lab: &LabDir,
    net: &podnet_lab_config::Networking,
) -> Result<TcpListener, DaemonError> {
    let addr = match lab.address()? {
        Some(addr) => addr,
        None => SocketAddr::new(net.api_server_address, net.api_server_port.unwrap_or(0)),
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let bind_err = |source| DaemonError::Bind { addr, source };
    let socket = socket.map_err(bind_err)?;
    // A restart after kill -9 finds the old connections in TIME_WAIT on this port.
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(addr).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)
}
