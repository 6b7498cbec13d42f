//! The CNI runtime (podnet-cni-runtime, what libcni is) and `podnet cni` (what cnitool is),
//! driven against Debian's reference plugins (containernetworking-plugins 1.1.1 in
//! /usr/lib/cni, CNI ≤ 1.0.0) on real namespaces.
//!
//! Each test makes a "node" namespace, where the runtime runs (the bridge, portmap's rules
//! and bandwidth's ifb land there, never in the machine's own namespace), and "pod"
//! namespaces to attach. host-local keeps its leases in the test's temp dir.

use std::path::PathBuf;

use base64::Engine as _;
use podnet_base::IfName;
use podnet_cni_runtime::{CniConfig, Error, NetworkList, RuntimeConf, Verb};
use podnet_cni_spec::{CniVersion, ErrorCode, ValidAttachment};
use podnet_test_util::Netns;
use serde_json::{Value, json};

const DEBIAN_PLUGINS: &str = "/usr/lib/cni";

/// A node namespace, the runtime pointed at Debian's plugins, and a temp dir for the result
/// cache, host-local's leases and config files.
struct Node {
    ns: Netns,
    tmp: tempfile::TempDir,
    cni: CniConfig,
}

impl Node {
    fn new(tag: &str) -> Self {
        let ns = Netns::new(tag);
        let tmp = tempfile::tempdir().unwrap();
        let cni = CniConfig::new(vec![PathBuf::from(DEBIAN_PLUGINS)])
            .with_cache_dir(tmp.path().join("cache"));
        Self { ns, tmp, cni }
    }

    /// Runs `work` with the node namespace as the current one (plugins inherit it).
    fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        podnet_netns::run_in(self.ns.path(), work).unwrap()
    }

    fn add(
        &self,
        list: &NetworkList,
        rt: &RuntimeConf,
    ) -> Result<podnet_cni_spec::CniResult, Error> {
        self.run(|| self.cni.add_network_list(list, rt))
    }

    fn del(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), Error> {
        self.run(|| self.cni.del_network_list(list, rt))
    }

    fn check(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), Error> {
        self.run(|| self.cni.check_network_list(list, rt))
    }

    fn ipam_dir(&self) -> PathBuf {
        self.tmp.path().join("ipam")
    }

    fn cache_file(&self, network: &str, rt: &RuntimeConf) -> PathBuf {
        self.cni.cache_dir().join("results").join(format!(
            "{network}-{}-{}",
            rt.container_id,
            rt.ifname.as_str()
        ))
    }

    fn bridge_plugin(&self, bridge: &str, subnet: &str) -> Value {
        json!({
            "type": "bridge",
            "bridge": bridge,
            "isGateway": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": self.ipam_dir(),
            }
        })
    }

    /// bridge + host-local, then portmap and bandwidth: the chain a Kubernetes node runs.
    fn full_chain(&self, name: &str, extra: Value) -> NetworkList {
        let mut doc = json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [
                self.bridge_plugin("pnrt0", "10.250.0.0/24"),
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
                {"type": "bandwidth", "capabilities": {"bandwidth": true}},
            ]
        });
        merge(&mut doc, extra);
        NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap()
    }
}

fn merge(doc: &mut Value, extra: Value) {
    if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
        d.extend(e);
    }
}

fn pod(tag: &str, container_id: &str) -> (Netns, RuntimeConf) {
    let ns = Netns::new(tag);
    let rt = RuntimeConf::new(
        container_id,
        Some(ns.path().to_owned()),
        IfName::new("eth0").unwrap(),
    );
    (ns, rt)
}

fn caps() -> serde_json::Map<String, Value> {
    json!({
        "portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}],
        "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 8000000, "egressBurst": 80000},
        "mac": "not-declared-by-anyone",
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn pod_ipv4(ns: &Netns) -> Option<String> {
    let (ok, out, _) = ns.try_exec(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    ok.then(|| out.split_whitespace().nth(3).map(str::to_owned))
        .flatten()
}

fn plugin_failure(err: &Error) -> (usize, &str, Verb, ErrorCode) {
    match err {
        Error::Plugin {
            index,
            plugin_type,
            verb,
            source,
            ..
        } => (*index, plugin_type.as_str(), *verb, source.code),
        other => panic!("expected a plugin failure, got {other}"),
    }
}

#[test]
fn debian_chain_add_caches_result_and_del_removes_everything() {
    let node = Node::new("rt-chain");
    let list = node.full_chain("rtchain", json!({}));
    let (pod_ns, rt) = pod("rt-pod", "c-chain-1");
    let rt = rt
        .with_args(podnet_cni_spec::CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAME=web-0").unwrap())
        .with_capability_args(caps());

    let result = node.add(&list, &rt).unwrap();
    let addr = pod_ipv4(&pod_ns).expect("eth0 has an IPv4 address in the pod");
    assert!(addr.starts_with("10.250.0."), "{addr}");
    assert_eq!(result.ips[0].address.to_string(), addr);

    // Cached in libcni's format, with what a later DEL from another process needs.
    let file = node.cache_file("rtchain", &rt);
    let cached: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(cached["kind"], "cniCacheV1");
    assert_eq!(cached["containerId"], "c-chain-1");
    assert_eq!(cached["ifName"], "eth0");
    assert_eq!(cached["networkName"], "rtchain");
    assert_eq!(cached["netns"], pod_ns.path().to_str().unwrap());
    assert_eq!(
        cached["cniArgs"],
        json!([["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web-0"]])
    );
    assert_eq!(
        cached["capabilityArgs"]["portMappings"][0]["hostPort"],
        18080
    );
    assert_eq!(cached["result"]["cniVersion"], "1.0.0");
    assert_eq!(cached["result"]["ips"][0]["address"], addr.as_str());
    let config = base64::engine::general_purpose::STANDARD
        .decode(cached["config"].as_str().unwrap())
        .unwrap();
    assert_eq!(config, list.bytes);

    // bandwidth saw its runtimeConfig (so the capability filter passed it on): a tbf qdisc
    // on the host side of the veth.
    let host_veth = result
        .interfaces
        .iter()
        .find(|i| i.sandbox.is_none() && i.name != "pnrt0")
        .expect("bridge reports the host veth")
        .name
        .clone();
    let qdisc = node.ns.exec(&["tc", "qdisc", "show", "dev", &host_veth]);
    assert!(qdisc.contains("tbf"), "{qdisc}");

    // Debian's portmap 1.1.1 fails CHECK on IPv4-only networks (FACTS.md): the failure is
    // theirs, and we report it with the plugin's index and type.
    let err = node.check(&list, &rt).unwrap_err();
    let (index, plugin_type, verb, _) = plugin_failure(&err);
    assert_eq!(
        (index, plugin_type, verb),
        (1, "portmap", Verb::Check),
        "{err}"
    );

    node.del(&list, &rt).unwrap();
    assert_eq!(pod_ipv4(&pod_ns), None, "eth0 is gone from the pod");
    assert!(!file.exists(), "the cache entry is removed");
    let (_, leases, _) =
        podnet_test_util::run(&["ls", node.ipam_dir().join("rtchain").to_str().unwrap()]);
    assert!(
        !leases.contains("10.250.0."),
        "host-local released the address: {leases}"
    );
    let qdisc = node
        .ns
        .try_exec(&["tc", "qdisc", "show", "dev", &host_veth]);
    assert!(!qdisc.1.contains("tbf"), "{qdisc:?}");

    // DEL is idempotent: no cache entry, no interface, still fine.
    node.del(&list, &rt).unwrap();
}

#[test]
fn debian_chain_check_passes_and_disable_check_skips() {
    let node = Node::new("rt-check");
    let doc = json!({
        "cniVersion": "1.0.0",
        "name": "rtcheck",
        "plugins": [
            node.bridge_plugin("pnck0", "10.250.1.0/24"),
            {"type": "bandwidth", "capabilities": {"bandwidth": true}},
        ]
    });
    let list = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let (_pod_ns, rt) = pod("rt-ckpod", "c-check-1");
    let rt = rt.with_capability_args(caps());
    node.add(&list, &rt).unwrap();
    // Debian's bandwidth needs its runtimeConfig again on CHECK; we pass it.
    node.check(&list, &rt).unwrap();

    // With portmap in the chain CHECK would fail (see above); disableCheck skips it all.
    let skipping = node.full_chain("rtcheck", json!({"disableCheck": true}));
    node.check(&skipping, &rt).unwrap();
    node.del(&list, &rt).unwrap();
}

#[test]
fn check_before_0_4_0_is_unsupported() {
    let node = Node::new("rt-old");
    let mut list = node.full_chain("rtold", json!({}));
    list.version = CniVersion::V0_3_1;
    let (_pod_ns, rt) = pod("rt-oldpod", "c-old-1");
    let err = node.check(&list, &rt).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                verb: Verb::Check,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn failed_add_names_the_plugin_keeps_its_code_and_del_cleans_up() {
    let node = Node::new("rt-fail");
    // A second bridge plugin wants the same eth0 the first one made: the chain fails at
    // plugin 1 on ADD only (its DEL, unlike a bad config's, works).
    let doc = json!({
        "cniVersion": "1.0.0",
        "name": "rtfail",
        "plugins": [
            node.bridge_plugin("pnfl0", "10.250.2.0/24"),
            node.bridge_plugin("pnfl1", "10.250.12.0/24"),
        ]
    });
    let list = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let (pod_ns, rt) = pod("rt-flpod", "c-fail-1");
    let err = node.add(&list, &rt).unwrap_err();
    let (index, plugin_type, verb, code) = plugin_failure(&err);
    assert_eq!(
        (index, plugin_type, verb),
        (1, "bridge", Verb::Add),
        "{err}"
    );
    assert_eq!(err.code(), Some(code));
    assert!(
        err.to_string().contains("eth0) already exists"),
        "the plugin's message: {err}"
    );
    assert!(err.to_string().contains("rtfail"), "{err}");
    assert!(
        !node.cache_file("rtfail", &rt).exists(),
        "a failed ADD caches nothing"
    );
    assert!(
        pod_ipv4(&pod_ns).is_some(),
        "nothing undone: the bridge's work is there"
    );

    // The caller's cleanup, as the kubelet does it.
    node.del(&list, &rt).unwrap();
    assert_eq!(pod_ipv4(&pod_ns), None);
}

#[test]
fn a_plugin_missing_from_the_path_names_itself() {
    let node = Node::new("rt-miss");
    let doc = json!({
        "cniVersion": "1.0.0",
        "name": "rtmiss",
        "plugins": [{"type": "loopback"}, {"type": "no-such-plugin"}]
    });
    let list = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let (_pod_ns, rt) = pod("rt-mspod", "c-miss-1");
    let err = node.add(&list, &rt).unwrap_err();
    let (index, plugin_type, verb, _) = plugin_failure(&err);
    assert_eq!((index, plugin_type, verb), (1, "no-such-plugin", Verb::Add));
    let msg = err.to_string();
    assert!(
        msg.contains("failed to find plugin \"no-such-plugin\""),
        "{msg}"
    );
    assert!(
        msg.contains(DEBIAN_PLUGINS),
        "the search path is shown: {msg}"
    );
}

#[test]
fn gc_deletes_cached_attachments_not_in_the_valid_list() {
    let node = Node::new("rt-gc");
    let list = node.full_chain("rtgc", json!({}));
    let (pod1, rt1) = pod("rt-gc1", "c-gc-1");
    let (pod2, rt2) = pod("rt-gc2", "c-gc-2");
    node.add(&list, &rt1).unwrap();
    node.add(&list, &rt2.clone().with_capability_args(caps()))
        .unwrap();

    // Keep c-gc-1: the synthesized DEL removes only c-gc-2 (with its cached netns and caps).
    let keep = [ValidAttachment {
        container_id: "c-gc-1".into(),
        ifname: "eth0".into(),
    }];
    node.run(|| node.cni.gc_network_list(&list, &keep)).unwrap();
    assert!(pod_ipv4(&pod1).is_some());
    assert_eq!(pod_ipv4(&pod2), None);
    assert!(node.cache_file("rtgc", &rt1).exists());
    assert!(!node.cache_file("rtgc", &rt2).exists());

    // disableGC: nothing is collected.
    let no_gc = node.full_chain("rtgc", json!({"disableGC": true}));
    node.run(|| node.cni.gc_network_list(&no_gc, &[])).unwrap();
    assert!(pod_ipv4(&pod1).is_some());

    // An empty valid list collects the rest.
    node.run(|| node.cni.gc_network_list(&list, &[])).unwrap();
    assert_eq!(pod_ipv4(&pod1), None);
    assert!(!node.cache_file("rtgc", &rt1).exists());
    let left = node.cni.cached_attachments(None).unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn conf_dir_single_plugin_conf_is_found_and_runs() {
    let node = Node::new("rt-dir");
    let dir = node.tmp.path().join("net.d");
    std::fs::create_dir_all(&dir).unwrap();
    let mut single = node.bridge_plugin("pndir0", "10.250.3.0/24");
    merge(&mut single, json!({"cniVersion": "0.4.0", "name": "rtdir"}));
    std::fs::write(
        dir.join("20-rtdir.conf"),
        serde_json::to_vec(&single).unwrap(),
    )
    .unwrap();
    // A later conflist of the same name loses to nothing: conflists are searched first.
    let list_doc =
        json!({"cniVersion": "1.0.0", "name": "rtother", "plugins": [{"type": "loopback"}]});
    std::fs::write(
        dir.join("10-other.conflist"),
        serde_json::to_vec(&list_doc).unwrap(),
    )
    .unwrap();

    let list = podnet_cni_runtime::conf::find(&dir, "rtdir").unwrap();
    assert_eq!(list.version, CniVersion::V0_4_0);
    assert_eq!(list.plugin_types().collect::<Vec<_>>(), ["bridge"]);
    let all: Vec<_> = podnet_cni_runtime::conf::load_all(&dir)
        .unwrap()
        .iter()
        .map(|l| l.name().to_owned())
        .collect();
    assert_eq!(all, ["rtother", "rtdir"], "sorted by file name");

    let (pod_ns, rt) = pod("rt-dirpod", "c-dir-1");
    let result = node.add(&list, &rt).unwrap();
    assert!(result.ips[0].address.to_string().starts_with("10.250.3."));
    let cached: Value =
        serde_json::from_slice(&std::fs::read(node.cache_file("rtdir", &rt)).unwrap()).unwrap();
    assert_eq!(cached["result"]["cniVersion"], "0.4.0");
    assert_eq!(cached["result"]["ips"][0]["version"], "4");
    node.check(&list, &rt).unwrap();
    node.del(&list, &rt).unwrap();
    assert_eq!(pod_ipv4(&pod_ns), None);
}

#[test]
fn cni_versions_negotiate_to_the_highest_common_version() {
    let node = Node::new("rt-ver");
    let mut doc = json!({
        "cniVersion": "0.4.0",
        "cniVersions": ["0.4.0", "1.0.0", "9.9.9"],
        "name": "rtver",
        "plugins": [node.bridge_plugin("pnvr0", "10.250.4.0/24")]
    });
    let list = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(list.version, CniVersion::V1_0_0);
    assert_eq!(
        node.cni.validate_network_list(&list).unwrap(),
        Vec::<String>::new()
    );
    let (_pod_ns, rt) = pod("rt-vrpod", "c-ver-1");
    node.add(&list, &rt).unwrap();
    let cached = node.cni.cached_attachment(&list, &rt).unwrap().unwrap();
    assert_eq!(cached.result.unwrap()["cniVersion"], "1.0.0");
    node.del(&list, &rt).unwrap();

    // Offering 1.1.0 picks it, which Debian's 1.1.1 plugins do not speak: their error
    // (code 1) comes back unchanged, and validation says so before any ADD.
    doc["cniVersions"] = json!(["1.0.0", "1.1.0"]);
    let newer = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(newer.version, CniVersion::V1_1_0);
    let err = node
        .run(|| node.cni.validate_network_list(&newer))
        .unwrap_err();
    assert_eq!(plugin_failure(&err).2, Verb::Version, "{err}");
    let (_pod2, rt2) = pod("rt-vrpod2", "c-ver-2");
    let err = node.add(&newer, &rt2).unwrap_err();
    assert_eq!(
        plugin_failure(&err),
        (0, "bridge", Verb::Add, ErrorCode::INCOMPATIBLE_VERSION)
    );
}

#[test]
fn version_info_reports_what_a_plugin_speaks() {
    let cni = CniConfig::new(vec![PathBuf::from(DEBIAN_PLUGINS)]);
    let info = cni.version_info("bridge").unwrap();
    assert!(
        info.supported_versions.iter().any(|v| v == "1.0.0"),
        "{info:?}"
    );
    assert!(
        cni.version_info("no-such-plugin")
            .unwrap_err()
            .msg
            .contains("failed to find")
    );
}

// === the `podnet cni` command ===

fn podnet(node: &Netns, args: &[&str]) -> (bool, String, String) {
    let mut argv = vec![
        "ip",
        "netns",
        "exec",
        node.name(),
        env!("CARGO_BIN_EXE_podnet"),
        "cni",
    ];
    argv.extend_from_slice(args);
    podnet_test_util::run(&argv)
}

#[test]
fn podnet_cni_command_adds_checks_gcs_and_deletes() {
    let node = Node::new("rt-cli");
    let dir = node.tmp.path().join("net.d");
    std::fs::create_dir_all(&dir).unwrap();
    let list_doc = json!({
        "cniVersion": "1.0.0",
        "name": "rtcli",
        "plugins": [
            node.bridge_plugin("pncli0", "10.250.5.0/24"),
            {"type": "bandwidth", "capabilities": {"bandwidth": true}},
        ]
    });
    std::fs::write(
        dir.join("10-rtcli.conflist"),
        serde_json::to_vec(&list_doc).unwrap(),
    )
    .unwrap();
    let pod_ns = Netns::new("rt-clipod");
    let cache = node.tmp.path().join("cli-cache");
    let common = [
        "--conf-dir",
        dir.to_str().unwrap(),
        "--cni-path",
        DEBIAN_PLUGINS,
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let verb = |verb: &str, extra: &[&str]| {
        let mut args = vec![verb, "rtcli", pod_ns.name()];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        podnet(&node.ns, &args)
    };

    let caps = r#"{"bandwidth":{"ingressRate":8000000,"ingressBurst":80000}}"#;
    let (ok, out, err) = verb(
        "add",
        &[
            "--cap-args",
            caps,
            "--args",
            "IgnoreUnknown=1;K8S_POD_NAME=p",
        ],
    );
    assert!(ok, "{err}");
    let result: Value = serde_json::from_str(&out).expect("add prints the result JSON");
    assert_eq!(result["cniVersion"], "1.0.0");
    let addr = pod_ipv4(&pod_ns).unwrap();
    assert_eq!(result["ips"][0]["address"], addr.as_str());

    // The container id is cnitool's: derived from the netns path.
    let entries: Vec<_> = std::fs::read_dir(cache.join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with("rtcli-cnitool-") && entries[0].ends_with("-eth0"),
        "{entries:?}"
    );

    let (ok, _, err) = verb("check", &["--cap-args", caps]);
    assert!(ok, "{err}");
    let (ok, _, err) = podnet(
        &node.ns,
        &["status", "rtcli", "--conf-dir", dir.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert!(err.contains("STATUS needs 1.1.0"), "{err}");

    // DEL needs no --cap-args (the cached ones are used).
    let (ok, _, err) = verb("del", &[]);
    assert!(ok, "{err}");
    assert_eq!(pod_ipv4(&pod_ns), None);
    let (ok, _, err) = verb("del", &[]);
    assert!(ok, "DEL again: {err}");

    // GC through the command: add again, then collect with nothing valid.
    assert!(verb("add", &[]).0);
    let mut gc = vec!["gc", "rtcli"];
    gc.extend_from_slice(&common);
    let (ok, _, err) = podnet(&node.ns, &gc);
    assert!(ok, "{err}");
    assert_eq!(pod_ipv4(&pod_ns), None);
}

#[test]
fn podnet_cni_command_errors_are_readable() {
    let node = Node::new("rt-clierr");
    let dir = node.tmp.path().join("net.d");
    std::fs::create_dir_all(&dir).unwrap();
    let doc = json!({"cniVersion": "1.1.0", "name": "rterr", "plugins": [{"type": "bridge"}]});
    std::fs::write(
        dir.join("10-rterr.conflist"),
        serde_json::to_vec(&doc).unwrap(),
    )
    .unwrap();
    let pod_ns = Netns::new("rt-errpod");
    let cache = node.tmp.path().join("cache");
    let base = |net: &'static str| -> Vec<String> {
        [
            "add",
            net,
            pod_ns.name(),
            "--conf-dir",
            dir.to_str().unwrap(),
            "--cni-path",
            DEBIAN_PLUGINS,
            "--cache-dir",
            cache.to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    };

    let args = base("missing");
    let (ok, _, err) = podnet(
        &node.ns,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!ok);
    assert!(err.contains("no network config named \"missing\""), "{err}");

    // The plugin's own message and code, the plugin named, the cleanup pointed at.
    let args = base("rterr");
    let (ok, _, err) = podnet(
        &node.ns,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!ok);
    assert!(
        err.contains("plugin 0 (type \"bridge\") failed on ADD"),
        "{err}"
    );
    assert!(err.contains("(code 1)"), "{err}");
    assert!(err.contains("podnet cni del rterr"), "{err}");

    let (ok, _, err) = podnet(
        &node.ns,
        &[
            "add",
            "rterr",
            "no-such-netns",
            "--conf-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("/run/netns/no-such-netns does not exist"),
        "{err}"
    );
}
