//! Exactly what the runtime sends each plugin — stdin and the CNI_* environment, verb by
//! verb — observed through recording plugins (small shell scripts that log every call and
//! answer as a 1.1.0 plugin would). No kernel needed: these check the protocol, the
//! reference-plugin suite in tests/cni_runtime.rs checks the effect.

use std::path::PathBuf;

use podnet_base::IfName;
use podnet_cni_runtime::{CniConfig, Error, NetworkList, RuntimeConf, Verb};
use podnet_cni_spec::{CniArgs, ErrorCode, ValidAttachment};
use serde_json::{Value, json};

/// A plugin directory of recording plugins, their call log, and a result cache.
struct Recorder {
    dir: tempfile::TempDir,
    cni: CniConfig,
}

/// One logged call.
#[derive(Debug)]
struct Call {
    plugin: String,
    verb: String,
    stdin: Value,
    env: Vec<String>,
}

const SCRIPT: &str = r#"#!/bin/sh
dir=@DIR@
me=$(basename "$0")
n=$(printf %03d "$(ls "$dir/log" | grep -c stdin)")
cat > "$dir/log/$n-$me-$CNI_COMMAND.stdin"
for v in CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_ARGS CNI_PATH; do
  eval "printf '%s=%s\n' $v \"\${$v-<unset>}\""
done > "$dir/log/$n-$me-$CNI_COMMAND.env"
if [ -e "$dir/fail-$me-$CNI_COMMAND" ]; then cat "$dir/fail-$me-$CNI_COMMAND"; exit 1; fi
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}' ;;
ADD) echo "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"$me\",\"mtu\":1400,\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"10.9.0.2/24\",\"interface\":0}]}" ;;
esac
"#;

impl Recorder {
    fn new(plugins: &[&str]) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("log")).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let script = SCRIPT.replace("@DIR@", dir.path().to_str().unwrap());
        for p in plugins {
            let path = dir.path().join("bin").join(p);
            std::fs::write(&path, &script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cni = CniConfig::new(vec![PathBuf::from("/nonexistent"), dir.path().join("bin")])
            .with_cache_dir(dir.path().join("cache"));
        Self { dir, cni }
    }

    /// Makes `plugin` fail `verb` with this CNI error.
    fn fail(&self, plugin: &str, verb: &str, code: u32, msg: &str) {
        let doc = json!({"cniVersion": "1.1.0", "code": code, "msg": msg});
        std::fs::write(
            self.dir.path().join(format!("fail-{plugin}-{verb}")),
            doc.to_string(),
        )
        .unwrap();
    }

    /// The calls so far, in order, and forgets them.
    fn take(&self) -> Vec<Call> {
        let log = self.dir.path().join("log");
        let mut names: Vec<_> = std::fs::read_dir(&log)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "stdin"))
            .collect();
        names.sort();
        let calls = names
            .iter()
            .map(|p| {
                let stem = p.file_stem().unwrap().to_str().unwrap();
                let mut parts = stem.splitn(2, '-');
                parts.next();
                let (plugin, verb) = parts.next().unwrap().rsplit_once('-').unwrap();
                let stdin = std::fs::read(p).unwrap();
                let env = std::fs::read_to_string(p.with_extension("env")).unwrap();
                Call {
                    plugin: plugin.to_owned(),
                    verb: verb.to_owned(),
                    stdin: serde_json::from_slice(&stdin).unwrap_or(Value::Null),
                    env: env.lines().map(str::to_owned).collect(),
                }
            })
            .collect();
        for e in std::fs::read_dir(&log).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        calls
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
}

fn list(version: &str, extra: Value) -> NetworkList {
    let mut doc = json!({
        "cniVersion": version,
        "name": "rec",
        "plugins": [
            {"type": "rec-a", "capabilities": {"mac": true, "bandwidth": false}, "own": 1},
            {"type": "rec-b", "capabilities": {"portMappings": true}, "cniVersion": "0.3.1"},
        ]
    });
    if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
        d.extend(e);
    }
    NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn rt(id: &str) -> RuntimeConf {
    RuntimeConf::new(
        id,
        Some("/run/netns/fake".into()),
        IfName::new("eth0").unwrap(),
    )
}

fn caps() -> serde_json::Map<String, Value> {
    json!({
        "mac": "aa:bb:cc:dd:ee:ff",
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "bandwidth": {"ingressRate": 1000},
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn order(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| format!("{} {}", c.verb, c.plugin))
        .collect()
}

#[test]
fn add_sends_each_plugin_its_declared_capabilities_and_the_previous_result() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let rt = rt("c1")
        .with_args(CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAME=web").unwrap())
        .with_capability_args(caps());
    let result = r
        .cni
        .add_network_list(&list("1.0.0", json!({})), &rt)
        .unwrap();
    assert_eq!(
        result.interfaces[0].name, "rec-b",
        "the last plugin's result is returned"
    );

    let calls = r.take();
    assert_eq!(order(&calls), ["ADD rec-a", "ADD rec-b"]);
    let (a, b) = (&calls[0].stdin, &calls[1].stdin);
    assert_eq!(
        (a["name"].as_str(), a["cniVersion"].as_str()),
        (Some("rec"), Some("1.0.0"))
    );
    assert_eq!(a["own"], 1, "the plugin's own keys are kept");
    assert_eq!(a["runtimeConfig"], json!({"mac": "aa:bb:cc:dd:ee:ff"}));
    assert!(a.get("prevResult").is_none());
    assert_eq!(
        b["cniVersion"], "1.0.0",
        "the list's version overrides the plugin's"
    );
    assert_eq!(
        b["runtimeConfig"],
        json!({"portMappings": caps()["portMappings"]})
    );
    // rec-a answered in 1.1.0; rec-b gets it converted to the list's 1.0.0.
    assert_eq!(b["prevResult"]["cniVersion"], "1.0.0");
    assert_eq!(b["prevResult"]["interfaces"][0]["name"], "rec-a");
    assert!(b["prevResult"]["interfaces"][0].get("mtu").is_none());

    let bin = r.bin();
    let expected_path = format!("CNI_PATH=/nonexistent:{}", bin.display());
    assert_eq!(
        calls[0].env,
        [
            "CNI_CONTAINERID=c1",
            "CNI_NETNS=/run/netns/fake",
            "CNI_IFNAME=eth0",
            "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=web",
            expected_path.as_str(),
        ]
    );
}

#[test]
fn del_runs_in_reverse_with_the_cached_result_and_cached_capabilities() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.0.0", json!({}));
    r.cni
        .add_network_list(&l, &rt("c1").with_capability_args(caps()))
        .unwrap();
    r.take();

    // A DEL that no longer knows the capability arguments (another process, GC).
    r.cni.del_network_list(&l, &rt("c1")).unwrap();
    let calls = r.take();
    assert_eq!(order(&calls), ["DEL rec-b", "DEL rec-a"]);
    for c in &calls {
        assert_eq!(
            c.stdin["prevResult"]["interfaces"][0]["name"], "rec-b",
            "{c:?}"
        );
    }
    assert_eq!(
        calls[0].stdin["runtimeConfig"]["portMappings"][0]["hostPort"],
        8080
    );
    assert!(r.cni.cached_attachment(&l, &rt("c1")).unwrap().is_none());

    // Again, with nothing cached: no prevResult, still every plugin, still fine.
    r.cni.del_network_list(&l, &rt("c1")).unwrap();
    let calls = r.take();
    assert_eq!(order(&calls), ["DEL rec-b", "DEL rec-a"]);
    assert!(calls[0].stdin.get("prevResult").is_none());
}

#[test]
fn check_sends_the_cached_result_and_stops_at_the_first_failure() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.0.0", json!({}));
    r.cni.add_network_list(&l, &rt("c1")).unwrap();
    r.take();
    r.cni.check_network_list(&l, &rt("c1")).unwrap();
    let calls = r.take();
    assert_eq!(order(&calls), ["CHECK rec-a", "CHECK rec-b"]);
    assert_eq!(
        calls[0].stdin["prevResult"]["interfaces"][0]["name"],
        "rec-b"
    );

    r.fail("rec-a", "CHECK", 3, "container c1 is not known");
    let err = r.cni.check_network_list(&l, &rt("c1")).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_CONTAINER));
    assert!(
        err.to_string().contains(
            "plugin 0 (type \"rec-a\") failed on CHECK: container c1 is not known (code 3)"
        ),
        "{err}"
    );
    assert_eq!(order(&r.take()), ["CHECK rec-a"]);

    r.cni
        .check_network_list(&list("1.0.0", json!({"disableCheck": true})), &rt("c1"))
        .unwrap();
    assert!(r.take().is_empty(), "disableCheck calls no plugin");
}

#[test]
fn gc_deletes_stale_attachments_then_sends_gc_with_the_valid_list() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.1.0", json!({}));
    r.cni.add_network_list(&l, &rt("c1")).unwrap();
    let stale = RuntimeConf::new(
        "c2",
        Some("/run/netns/gone".into()),
        IfName::new("net1").unwrap(),
    );
    r.cni.add_network_list(&l, &stale).unwrap();
    r.take();

    let valid = [ValidAttachment {
        container_id: "c1".into(),
        ifname: "eth0".into(),
    }];
    r.cni.gc_network_list(&l, &valid).unwrap();
    let calls = r.take();
    assert_eq!(
        order(&calls),
        ["DEL rec-b", "DEL rec-a", "GC rec-a", "GC rec-b"]
    );
    assert!(
        calls[0].env.contains(&"CNI_CONTAINERID=c2".to_owned()),
        "{:?}",
        calls[0].env
    );
    assert!(
        calls[0]
            .env
            .contains(&"CNI_NETNS=/run/netns/gone".to_owned())
    );
    assert!(calls[0].env.contains(&"CNI_IFNAME=net1".to_owned()));
    let gc = &calls[2];
    assert_eq!(
        gc.stdin["cni.dev/valid-attachments"],
        json!([{"containerID": "c1", "ifname": "eth0"}])
    );
    assert_eq!(gc.stdin["cniVersion"], "1.1.0");
    assert!(
        gc.env.contains(&"CNI_CONTAINERID=<unset>".to_owned()),
        "{:?}",
        gc.env
    );
    assert!(gc.env.contains(&"CNI_NETNS=<unset>".to_owned()));
    let left: Vec<_> = r
        .cni
        .cached_attachments(None)
        .unwrap()
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert_eq!(left, ["c1"]);

    // Before 1.1.0 the synthesized DELs still happen, the GC verb does not.
    r.cni
        .gc_network_list(&list("1.0.0", json!({})), &[])
        .unwrap();
    assert_eq!(order(&r.take()), ["DEL rec-b", "DEL rec-a"]);
}

#[test]
fn gc_goes_on_past_failures_and_reports_them_all() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.1.0", json!({}));
    r.cni.add_network_list(&l, &rt("c1")).unwrap();
    r.take();
    r.fail("rec-b", "DEL", 11, "busy");
    r.fail("rec-a", "GC", 5, "disk on fire");
    let err = r.cni.gc_network_list(&l, &[]).unwrap_err();
    let Error::Gc { errors, .. } = &err else {
        panic!("expected a GC error, got {err}");
    };
    assert_eq!(errors.len(), 2, "{err}");
    assert!(
        matches!(&errors[0], Error::Stale { container_id, .. } if container_id == "c1"),
        "{err}"
    );
    assert_eq!(errors[0].code(), Some(ErrorCode::TRY_AGAIN_LATER));
    assert!(err.to_string().contains("disk on fire (code 5)"), "{err}");
    assert_eq!(order(&r.take()), ["DEL rec-b", "GC rec-a", "GC rec-b"]);
}

#[test]
fn disable_gc_leaves_everything_alone() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.1.0", json!({"disableGC": true}));
    r.cni.add_network_list(&l, &rt("c1")).unwrap();
    r.take();
    r.cni.gc_network_list(&l, &[]).unwrap();
    assert!(r.take().is_empty());
    assert_eq!(r.cni.cached_attachments(None).unwrap().len(), 1);
}

#[test]
fn status_asks_each_plugin_and_the_first_unavailable_one_answers() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let l = list("1.1.0", json!({}));
    r.cni.status_network_list(&l).unwrap();
    let calls = r.take();
    assert_eq!(order(&calls), ["STATUS rec-a", "STATUS rec-b"]);
    assert!(calls[0].stdin.get("runtimeConfig").is_none());
    assert!(calls[0].env.contains(&"CNI_IFNAME=<unset>".to_owned()));

    r.fail("rec-a", "STATUS", 50, "no addresses left");
    let err = r.cni.status_network_list(&l).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PLUGIN_NOT_AVAILABLE));
    assert!(matches!(
        err,
        Error::Plugin {
            index: 0,
            verb: Verb::Status,
            ..
        }
    ));
    assert_eq!(order(&r.take()), ["STATUS rec-a"]);

    // Before 1.1.0 there is no STATUS: ready, nobody asked.
    r.cni
        .status_network_list(&list("1.0.0", json!({})))
        .unwrap();
    assert!(r.take().is_empty());
}

#[test]
fn validate_reports_capabilities_and_versions() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let caps = r
        .cni
        .validate_network_list(&list("1.1.0", json!({})))
        .unwrap();
    assert_eq!(caps, ["mac", "portMappings"]);
    let err = r
        .cni
        .validate_network_list(&list("0.3.1", json!({})))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Plugin {
                index: 0,
                verb: Verb::Version,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("does not support cniVersion 0.3.1"),
        "{err}"
    );
}

#[test]
fn a_bad_container_id_is_refused_before_any_plugin_runs() {
    let r = Recorder::new(&["rec-a", "rec-b"]);
    let err = r
        .cni
        .add_network_list(&list("1.0.0", json!({})), &rt("../etc"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Attachment {
                verb: Verb::Add,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), Some(ErrorCode::INVALID_ENVIRONMENT));
    assert!(r.take().is_empty());
}
