//! What a kubelet is told at start: its node, where CNI lives, where to keep state.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::logs::LogRotation;

/// The kubelet's configuration. [`KubeletConfig::new`] fills in the lab's defaults.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// The Node this kubelet runs pods for (`spec.nodeName`).
    pub node_name: String,
    /// The node's InternalIP: `status.hostIP` of its pods, the podIP of hostNetwork pods.
    pub node_ip: IpAddr,
    /// Directory holding the node's CNI network configuration; the first list (by file name)
    /// is used, as the kubelet's CRI runtime does.
    pub cni_conf_dir: PathBuf,
    /// Where CNI plugins are looked up, in order (`CNI_PATH`).
    pub cni_bin_path: Vec<PathBuf>,
    /// libcni's result cache (`/var/lib/cni` in real nodes).
    pub cni_cache_dir: PathBuf,
    /// Pod records, generated files and container logs.
    pub state_dir: PathBuf,
    /// The `podnet` binary: built-in workloads run as `podnet workload …`, and the infra
    /// process as `podnet workload pause`.
    pub podnet_exe: PathBuf,
    /// Prefix of the pinned pod network namespaces (`/run/netns/<prefix><uid>`).
    pub netns_prefix: String,
    /// The `nameserver` of ClusterFirst pods (the kube-dns Service).
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
    /// The resolv.conf of Default-policy pods: the node's.
    pub node_resolv_conf: PathBuf,
    /// First restart back-off after a container exits; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How often node status is posted and the node Lease renewed.
    pub heartbeat: Duration,
    /// How often the sync loop looks at a pod without an event (probe results, exits and API
    /// updates wake it at once).
    pub resync: Duration,
    /// The port of the kubelet API's streaming endpoints (exec, logs), on `node_ip`.
    pub streaming_port: u16,
    /// Container log rotation (containerLogMaxSize, containerLogMaxFiles).
    pub log_rotation: LogRotation,
}

// === impl KubeletConfig ===

impl KubeletConfig {
    pub fn new(
        node_name: impl Into<String>,
        node_ip: IpAddr,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        let state_dir = state_dir.into();
        Self {
            node_name: node_name.into(),
            node_ip,
            cni_conf_dir: PathBuf::from("/etc/cni/net.d"),
            cni_bin_path: vec![PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")],
            cni_cache_dir: state_dir.join("cni-cache"),
            podnet_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("podnet")),
            netns_prefix: "podnet-pod-".to_owned(),
            cluster_dns: IpAddr::from([10, 96, 0, 10]),
            cluster_domain: "cluster.local".to_owned(),
            node_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(300),
            heartbeat: Duration::from_secs(10),
            resync: Duration::from_secs(1),
            streaming_port: crate::streaming::DEFAULT_PORT,
            log_rotation: LogRotation::default(),
            state_dir,
        }
    }
}
