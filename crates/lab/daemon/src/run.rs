//! The daemon: one lab — its network, API server, controllers and node processes — until
//! SIGTERM or SIGINT.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{SignalKind, signal};

use podnet_lab_controllers::CancellationToken;

use podnet_lab_config::{Cluster, IpFamily};
use podnet_lab_topology::{API_PORT, FABRIC_GATEWAY, Plan};

use crate::controllers;
use crate::error::DaemonError;
use crate::identities::{self, Identity};
use crate::kubeconfig;
use crate::nodes::{self, NodeSide};
use crate::pidfile::{DaemonProcess, PidFile};
use crate::pki::{Pki, write_private};
use crate::state::{LabDir, write_atomic};
use podnet_apiserver::connect::Dialer;
use podnet_apiserver::tls::{Listener, TlsListener};

/// How long a connection to a kubelet may take (kube-apiserver's dial timeout is 30 s).
const KUBELET_DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the lab from its state directory until SIGTERM or SIGINT: its network (fabric,
/// nodes, external host — rebuilt from scratch, after removing whatever an earlier run
/// left), the API server, the controllers, and every node's agent and kubelet. On the way
/// out the supervised processes are stopped and the lab's network removed; the objects stay.
///
/// The address is chosen once (the config's `apiServerPort`, else a free port) and kept in
/// the state directory, so that a restarted daemon serves where kubeconfigs already point.
pub async fn run(lab: &LabDir) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&lab.path).map_err(DaemonError::io(&lab.path))?;
    let _lock = lock(lab)?;
    let parsed = lab.cluster()?;
    let cluster = parsed.cluster;
    if cluster.networking.ip_family != IpFamily::Ipv4 {
        return Err(DaemonError::UnsupportedFamily {
            family: cluster.networking.ip_family.to_string(),
        });
    }
    let (controller_config, plan) = controllers::config(&lab.name, &cluster)?;
    // Whatever a crashed run left: its processes, namespaces and node state.
    podnet_lab_topology::teardown(&lab.name)?;
    let run_dir = lab.path.join("nodes");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).map_err(DaemonError::io(&run_dir))?;
    }
    let side = NodeSide {
        lab: lab.clone(),
        plan: plan.clone(),
        cluster: cluster.clone(),
        exe: std::env::current_exe().map_err(DaemonError::io(Path::new("/proc/self/exe")))?,
    };
    nodes::prepare(&side)?;
    podnet_lab_topology::build(&plan).await?;
    let served = serve(lab, &cluster, &side, controller_config).await;
    if let Err(error) = podnet_lab_topology::teardown(&lab.name) {
        tracing::error!(%error, "removing the lab's network");
    }
    // Only a clean stop removes the pid file: after a crash it is the stale one `up` checks.
    let _ = std::fs::remove_file(lab.pid_file());
    tracing::info!(lab = %lab.name, "lab daemon stopped");
    served
}

/// The control plane and the node side, from the network being built to the stop signal.
async fn serve(
    lab: &LabDir,
    cluster: &Cluster,
    side: &NodeSide,
    controller_config: podnet_lab_controllers::Config,
) -> Result<(), DaemonError> {
    // In-cluster clients reach the API server at the `kubernetes` Service's ClusterIP,
    // the first address of the service subnet the kind config chose.
    let kubernetes_ips = podnet_lab_controllers::kubernetes_service::service(&controller_config)
        .spec
        .and_then(|s| s.cluster_ips)
        .unwrap_or_default();
    let pki = Pki::load_or_create(&lab.pki_dir(), &kubernetes_ips)?;
    let tls = |tcp| {
        TlsListener::new(tcp, &pki.server_cert_pem, &pki.server_key_pem, &pki.ca_pem)
            .map_err(|e| DaemonError::Pki(e.to_string()))
    };
    // Every listener speaks TLS and asks for client certificates, as kube-apiserver's.
    let host = bind(lab, &cluster.networking).await?;
    let addr = host.local_addr().map_err(DaemonError::io(&lab.path))?;
    let host = tls(host)?;
    let fabric = tls(bind_in_fabric(&side.plan)?)?;
    write_atomic(&lab.address_file(), format!("{addr}\n").as_bytes())?;
    let in_lab = SocketAddr::from((FABRIC_GATEWAY, API_PORT));
    let kubeconfigs = write_kubeconfigs(lab, &pki, addr, in_lab, &side.plan)?;
    let mut controller_config = controller_config;
    controller_config.root_ca = Some(pki.ca_pem.clone());
    PidFile::current()?.write(&lab.pid_file())?;
    tracing::info!(lab = %lab.name, %addr, %in_lab, pid = std::process::id(),
        nodes = cluster.nodes.len(), "lab daemon starting");

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
    let api_config = pki.api_config(podnet_apiserver::Config {
        service_cidrs: cluster.networking.service_subnets.clone(),
        kubelet_dialer: dial_in_fabric(&side.plan),
        ..Default::default()
    });
    let client = kubeconfig::client(&kubeconfigs.controllers).await?;
    let admin = kubeconfig::client(&kubeconfigs.admin).await?;
    // The controllers start once their rights exist (they stop at their first 403).
    let controllers = tokio::spawn({
        let (client, cluster, stop) = (client.clone(), cluster.clone(), stop.clone());
        async move {
            identities::grant(admin, stop.clone()).await;
            controllers::run(client, controller_config, cluster, stop).await;
        }
    });
    // The node side stops its processes before the API server goes, so that kubelets and
    // agents end cleanly rather than on a refused connection.
    let node_stop = CancellationToken::new();
    let node_side = tokio::spawn(nodes::run(side.clone(), client, node_stop.clone()));
    let store = lab.store_dir();
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let api_config = api_config.clone();
        async move {
            podnet_apiserver::serve_on(
                vec![Listener::Tls(host), Listener::Tls(fabric)],
                &store,
                &api_config,
                async move {
                    let _ = server_stop_rx.await;
                },
            )
            .await
        }
    });
    stop.cancelled().await;
    node_stop.cancel();
    let _ = node_side.await;
    let _ = controllers.await;
    let _ = server_stop_tx.send(());
    match server.await {
        Ok(served) => served.map_err(DaemonError::from),
        Err(join) => Err(DaemonError::io(&lab.path)(std::io::Error::other(join))),
    }
}

/// The kubeconfigs the daemon itself uses (YAML).
struct OwnKubeconfigs {
    admin: String,
    controllers: String,
}

/// The admin's kubeconfigs (the host's on loopback, the in-lab one at 172.18.0.1:6443) and
/// one per component with its own certificate (see [`identities`]), issued afresh at every
/// start from the lab's CA.
fn write_kubeconfigs(
    lab: &LabDir,
    pki: &Pki,
    addr: SocketAddr,
    in_lab: SocketAddr,
    plan: &Plan,
) -> Result<OwnKubeconfigs, DaemonError> {
    let admin = pki.issue(&Identity::admin())?;
    let on_host = kubeconfig::render(&lab.name, addr, &pki.ca_pem, &admin);
    write_private(&lab.kubeconfig(), &on_host)?;
    let inside = kubeconfig::render(&lab.name, in_lab, &pki.ca_pem, &admin);
    write_private(&lab.in_lab_kubeconfig(), &inside)?;
    let mut components = vec![
        ("agent".to_string(), Identity::agent()),
        ("coredns".to_string(), Identity::dns()),
    ];
    for node in &plan.nodes {
        components.push((
            format!("kubelet-{}", node.name),
            Identity::kubelet(&node.name),
        ));
    }
    for (name, identity) in components {
        let text = kubeconfig::render(&lab.name, in_lab, &pki.ca_pem, &pki.issue(&identity)?);
        write_private(&lab.component_kubeconfig(&name), &text)?;
    }
    let controllers = pki.issue(&Identity::controller_manager())?;
    Ok(OwnKubeconfigs {
        admin: on_host,
        controllers: kubeconfig::render(&lab.name, addr, &pki.ca_pem, &controllers),
    })
}

/// The API server's listener inside the fabric, at 172.18.0.1:6443: a socket made on a
/// thread inside the fabric's namespace stays in it.
fn bind_in_fabric(plan: &Plan) -> Result<TcpListener, DaemonError> {
    let addr = SocketAddr::from((FABRIC_GATEWAY, API_PORT));
    let bind_err = |source| DaemonError::Bind { addr, source };
    let listener = podnet_netns::run_in(&podnet_netns::path_of(&plan.fabric), || {
        std::net::TcpListener::bind(addr)
    })
    .map_err(podnet_lab_topology::Error::from)?
    .map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    TcpListener::from_std(listener).map_err(bind_err)
}

/// How the API server reaches the kubelets (pods/exec, logs, …): they listen on the node
/// network, which only the fabric's namespace sees, so each connection is made on a thread
/// inside it (the socket stays there).
fn dial_in_fabric(plan: &Plan) -> Dialer {
    let fabric = podnet_netns::path_of(&plan.fabric);
    Dialer::new(move |addr| {
        let fabric = fabric.clone();
        Box::pin(async move {
            let connected = tokio::task::spawn_blocking(move || {
                podnet_netns::run_in(&fabric, || {
                    std::net::TcpStream::connect_timeout(&addr, KUBELET_DIAL_TIMEOUT)
                })
            })
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)??;
            connected.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(connected)
        })
    })
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
