//! A node for the kubelet suites: a network namespace of the test's own with the node's
//! CNI conflist (podnet-cni + podnet-ipam on a gateway bridge, then portmap), and, running
//! inside it on one thread, the lab API server on 127.0.0.1:0 and the kubelet. Nothing runs
//! in the machine's root namespace: the runtime's thread entered the node's netns first, and
//! every thread or process it starts inherits that.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use podnet_lab_kubelet::KubeletConfig;
use podnet_test_util::Netns;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const NODE: &str = "kubelet-node";
pub const NODE_IP: &str = "172.18.0.2";
pub const POD_SUBNET: &str = "10.244.1.0/24";
pub const BRIDGE: &str = "cni0";
pub const NETWORK: &str = "podnet";
pub const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.53";

pub struct Node {
    pub netns: Netns,
    pub tmp: tempfile::TempDir,
}

/// The node's side, valid inside [`Node::run`].
pub struct Cluster {
    pub client: Client,
    pub config: KubeletConfig,
    kubelet: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    _server_stop: oneshot::Sender<()>,
}

// === impl Node ===

impl Node {
    pub fn new(tag: &str) -> Self {
        let netns = Netns::new(tag);
        // The node's InternalIP, for hostIP and hostNetwork pods.
        netns.exec(&["ip", "addr", "add", &format!("{NODE_IP}/32"), "dev", "lo"]);
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (name, exe) in [
            ("podnet-cni", env!("CARGO_BIN_EXE_podnet-cni")),
            ("podnet-ipam", env!("CARGO_BIN_EXE_podnet-ipam")),
        ] {
            std::os::unix::fs::symlink(exe, bin.join(name)).unwrap();
        }
        let conf_dir = tmp.path().join("net.d");
        std::fs::create_dir(&conf_dir).unwrap();
        let conflist = json!({
            "cniVersion": "1.0.0",
            "name": NETWORK,
            "plugins": [
                {"type": "podnet-cni", "bridge": BRIDGE, "isGateway": true, "hairpinMode": true,
                 "ipam": {"type": "podnet-ipam", "dataDir": tmp.path().join("ipam"),
                          "ranges": [[{"subnet": POD_SUBNET}]], "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
            ]
        });
        std::fs::write(
            conf_dir.join("10-podnet.conflist"),
            serde_json::to_vec_pretty(&conflist).unwrap(),
        )
        .unwrap();
        Self { netns, tmp }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.tmp.path().join("kubelet")
    }

    /// The IPAM reservation file of `ip` (exists while the address is held).
    pub fn ipam_reservation(&self, ip: &str) -> PathBuf {
        self.tmp.path().join("ipam").join(NETWORK).join(ip)
    }

    pub fn kubelet_config(&self) -> KubeletConfig {
        let mut c = KubeletConfig::new(NODE, NODE_IP.parse().unwrap(), self.state_dir());
        c.cni_conf_dir = self.tmp.path().join("net.d");
        c.cni_bin_path = vec![self.tmp.path().join("bin"), PathBuf::from("/usr/lib/cni")];
        c.cni_cache_dir = self.tmp.path().join("cni-cache");
        c.podnet_exe = PathBuf::from(env!("CARGO_BIN_EXE_podnet"));
        c.netns_prefix = format!("{}-pod-", self.netns.name());
        c.initial_backoff = Duration::from_secs(1);
        c.resync = Duration::from_millis(500);
        c
    }

    /// Runs `body` on a thread inside the node's netns, with the API server and a kubelet
    /// running there.
    pub fn run<F, Fut>(&self, body: F)
    where
        F: FnOnce(Cluster) -> Fut + Send,
        Fut: Future<Output = ()>,
    {
        let config = self.kubelet_config();
        let api_state = self.tmp.path().join("apiserver");
        podnet_netns::run_in(self.netns.path(), move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let (server_stop, stopped) = oneshot::channel::<()>();
                tokio::spawn(async move {
                    podnet_apiserver::serve(listener, &api_state, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
                });
                let url = format!("http://{addr}").parse().unwrap();
                let client = Client::try_from(kube::Config::new(url)).unwrap();
                let mut cluster = Cluster {
                    client,
                    config,
                    kubelet: None,
                    _server_stop: server_stop,
                };
                cluster.start_kubelet();
                body(cluster).await;
            });
        })
        .unwrap();
    }
}

// === impl Cluster ===

impl Cluster {
    pub fn start_kubelet(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        let (client, config) = (self.client.clone(), self.config.clone());
        let task = tokio::spawn(async move {
            podnet_lab_kubelet::run(client, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        self.kubelet = Some((stop, task));
    }

    /// Stops the kubelet; its pods keep running.
    pub async fn stop_kubelet(&mut self) {
        if let Some((stop, task)) = self.kubelet.take() {
            let _ = stop.send(());
            task.await.unwrap();
        }
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a pod bound to the node from a JSON spec.
    pub async fn create_pod(&self, name: &str, spec: Value) -> Pod {
        let mut spec = spec;
        spec["nodeName"] = NODE.into();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }))
        .unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    /// Deletes a pod with the given grace period (None: the pod's own).
    pub async fn delete_pod(&self, name: &str, grace: Option<u32>) {
        let params = DeleteParams {
            grace_period_seconds: grace,
            ..Default::default()
        };
        self.pods().delete(name, &params).await.unwrap();
    }

    /// Polls the pod every 50 ms until `check` holds, for at most `timeout`.
    pub async fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(Some(pod)) = self.pods().get_opt(name).await {
                if check(&pod) {
                    return pod;
                }
                last = Some(pod);
            }
            assert!(
                Instant::now() < deadline,
                "pod {name}: {what} not reached in {timeout:?}; last seen: {}",
                serde_json::to_string_pretty(&last.map(|p| p.status)).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_ready(&self, name: &str) -> Pod {
        self.wait_pod(name, "Ready", Duration::from_secs(30), is_ready)
            .await
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.pods().get_opt(name).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "pod {name} still in the API after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `argv` inside the pod's network, mount and UTS namespaces (as `lab exec` does).
    /// A container's current log as `kubectl logs` prints it; with `follow`, once the
    /// container has exited and its logger has written everything.
    pub async fn container_log(&self, pod: &str, container: &str, follow: bool) -> String {
        use futures::StreamExt;
        use podnet_lab_kubelet::logs;
        let dir = logs::find_container_log_dir(&self.config.state_dir, "default", pod, container)
            .unwrap_or_else(|| panic!("no log dir for {pod}/{container}"));
        let file = logs::instance_to_read(&dir, false).expect("a log file");
        let options = logs::LogOptions {
            follow,
            ..Default::default()
        };
        let chunks: Vec<_> = logs::read_log(&file, &options).unwrap().collect().await;
        let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
        String::from_utf8(bytes).unwrap()
    }

    pub fn exec_in_pod(&self, pod: &str, argv: &[&str]) -> String {
        let sandbox = podnet_lab_kubelet::pod_sandbox(&self.config.state_dir, "default", pod)
            .unwrap_or_else(|| panic!("pod {pod} has no running sandbox"));
        let target = sandbox.infra_pid.to_string();
        let mut full = vec!["nsenter", "-t", &target, "-n", "-m", "-u", "--"];
        full.extend_from_slice(argv);
        let (ok, out, err) = podnet_test_util::run(&full);
        assert!(ok, "{full:?} failed: {err}");
        out
    }
}

pub fn condition(pod: &Pod, type_: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").as_deref() == Some("True")
}

pub fn phase(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

pub fn pod_ip(pod: &Pod) -> IpAddr {
    pod.status
        .as_ref()
        .unwrap()
        .pod_ip
        .as_ref()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn container_status(pod: &Pod) -> k8s_openapi::api::core::v1::ContainerStatus {
    pod.status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .clone()
}

/// An agnhost netexec container on 8080.
pub fn netexec(extra: Value) -> Value {
    let mut c = json!({"name": "netexec", "image": AGNHOST, "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
                       "ports": [{"name": "http", "containerPort": 8080}]});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// Curl from the node's netns.
pub fn curl_from_node(node: &Netns, url: &str) -> (bool, String) {
    let (ok, out, _) = node.try_exec(&["curl", "-s", "--max-time", "3", url]);
    (ok, out)
}
