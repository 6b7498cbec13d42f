//! A pod's sandbox from start to teardown, on its record: the generated files, the infra
//! process, the pinned netns and CNI ADD; and the reverse (CNI DEL, unpin, stop the infra).
//! Teardown works from the record alone, so it also cleans up after pods that vanished while
//! no kubelet was running.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::files::{self, ClusterDns};
use crate::process::ProcessId;
use crate::sandbox::infra::{self, InfraSpec};
use crate::sandbox::network::{self, Attachment};
use crate::sandbox::{pin_netns, stop_infra};
use crate::state::{self, PodRecord};

use super::Shared;

const HOSTS: &str = "hosts";
const RESOLV: &str = "resolv.conf";

/// Starts the pod's sandbox and attaches its network; fills `record` as it goes (and saves
/// it), so that a failure part-way leaves a record teardown can undo.
pub(crate) async fn create(shared: &Shared, pod: &Pod, record: &mut PodRecord) -> Result<()> {
    let config = &shared.config;
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let dir = state::pod_dir(&config.state_dir, &record.uid);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let cluster = ClusterDns {
        nameserver: config.cluster_dns,
        domain: config.cluster_domain.clone(),
    };
    let resolv = files::resolv_conf(pod, &cluster, &shared.node_resolv);
    write_in_place(&dir.join(RESOLV), &resolv)?;
    let mut binds = vec![(dir.join(RESOLV), "/etc/resolv.conf".into())];
    if !host_network {
        // The pod's IP is added once CNI gave it; the file is rewritten in place, so the
        // bind mount shows the new content.
        write_in_place(
            &dir.join(HOSTS),
            &files::hosts(pod, &[], &config.cluster_domain),
        )?;
        binds.push((dir.join(HOSTS), "/etc/hosts".into()));
    }
    let spec = InfraSpec {
        pod: record.key(),
        own_network: !host_network,
        hostname: Some(files::uts_hostname(pod, &config.cluster_domain)),
        binds,
        argv: vec![
            config.podnet_exe.display().to_string(),
            "workload".into(),
            "pause".into(),
        ],
        log: dir.join("infra.log"),
    };
    let (infra, mut child) = infra::start(&spec)?;
    // The child is reaped here; the kubelet follows the process by its identity.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    record.infra = Some(infra);
    record.port_mappings = network::port_mappings(pod);
    record.start_time.get_or_insert_with(super::now);
    state::save(&config.state_dir, record)?;
    if host_network {
        record.pod_ips = vec![config.node_ip];
        state::save(&config.state_dir, record)?;
        return Ok(());
    }
    let name = format!("{}{}", config.netns_prefix, record.uid);
    pin_netns(&name, infra, &record.key())?;
    record.netns = Some(name);
    state::save(&config.state_dir, record)?;
    let at = Attachment::of(record);
    let net = shared.network.clone();
    let ips = tokio::task::spawn_blocking(move || net.add(&at))
        .await
        .expect("CNI ADD does not panic")?;
    record.network_attached = true;
    record.pod_ips = ips;
    state::save(&config.state_dir, record)?;
    write_in_place(
        &dir.join(HOSTS),
        &files::hosts(pod, &record.pod_ips, &config.cluster_domain),
    )?;
    tracing::info!(pod = %record.key(), ips = ?record.pod_ips, "sandbox ready");
    Ok(())
}

/// Undoes what [`create`] did, from the record: CNI DEL, unpin the netns, stop the infra
/// process. Container processes must be stopped before. Errors are logged, and the record
/// keeps what could not be undone.
pub(crate) async fn teardown(shared: &Shared, record: &mut PodRecord) {
    if record.network_attached || record.netns.is_some() {
        let at = Attachment::of(record);
        let net = shared.network.clone();
        match tokio::task::spawn_blocking(move || net.del(&at)).await {
            Ok(Ok(())) => record.network_attached = false,
            Ok(Err(error)) => tracing::warn!(pod = %record.key(), %error, "CNI DEL"),
            Err(error) => tracing::warn!(pod = %record.key(), %error, "CNI DEL task"),
        }
    }
    if let Some(name) = record.netns.clone() {
        match podnet_netns::delete(&name) {
            Ok(()) => record.netns = None,
            Err(error) => tracing::warn!(pod = %record.key(), %error, "unpin netns"),
        }
    }
    if let Some(infra) = record.infra.take() {
        stop_infra(infra).await;
        // The volumes' mounts lived in its mount namespace.
        record.volumes_mounted = false;
    }
    if let Err(error) = state::save(&shared.config.state_dir, record) {
        tracing::warn!(pod = %record.key(), %error, "saving pod record");
    }
}

/// SIGKILLs the container processes a record names and waits for them, for pods whose
/// object is gone.
pub(crate) async fn kill_recorded_containers(record: &PodRecord) {
    let procs: Vec<ProcessId> = record
        .containers
        .values()
        .filter_map(|c| c.process)
        .collect();
    for p in &procs {
        p.signal(Signal::SIGKILL);
    }
    for p in procs {
        crate::container::wait_gone(p, std::time::Duration::from_secs(5)).await;
    }
}

/// Rewrites a file without replacing its inode: a bind mount of it must see the change.
fn write_in_place(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, "write", e))
}
