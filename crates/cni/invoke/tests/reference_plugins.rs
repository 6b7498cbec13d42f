//! Against Debian's reference plugins (containernetworking-plugins 1.1.1, which speaks up to
//! CNI 1.0.0): the real thing a delegating plugin meets on a node.

use std::path::PathBuf;

use podnet_cni_invoke::{Attachment, delegate, exec, find, supports};
use podnet_cni_spec::{CniVersion, ErrorCode};

const REFERENCE_DIR: &str = "/usr/lib/cni";

fn attachment(data_dir: &std::path::Path, id: &str) -> (Attachment, Vec<u8>) {
    let at = Attachment {
        container_id: id.into(),
        netns: Some("/proc/self/ns/net".into()),
        ifname: "eth0".into(),
        args: String::new(),
        path: vec![PathBuf::from(REFERENCE_DIR)],
    };
    let conf = serde_json::json!({
        "cniVersion": "1.1.0", "name": "invoke-test", "type": "podnet-cni",
        "ipam": {"type": "host-local", "dataDir": data_dir,
                 "ranges": [[{"subnet": "10.99.0.0/29"}]]}
    });
    // host-local reads its own section from the whole config, as delegation passes it.
    (at, serde_json::to_vec(&conf).unwrap())
}

#[test]
fn finds_plugins_in_path_order_and_names_what_is_missing() {
    let path = vec![PathBuf::from("/nonexistent"), PathBuf::from(REFERENCE_DIR)];
    assert_eq!(
        find("host-local", &path).unwrap(),
        PathBuf::from(REFERENCE_DIR).join("host-local")
    );
    let err = find("no-such-plugin", &path).unwrap_err();
    assert!(err.msg.contains("\"no-such-plugin\""), "{}", err.msg);
    assert!(find("../bin/sh", &path).is_err());
}

#[test]
fn delegation_falls_back_to_the_delegates_version() {
    let dir = tempfile::tempdir().unwrap();
    let (at, conf) = attachment(dir.path(), "c1");
    assert!(!supports("host-local", &at.path, CniVersion::V1_1_0));
    let res = delegate("host-local", "ADD", &at, &conf, CniVersion::V1_1_0)
        .unwrap()
        .unwrap();
    assert_eq!(res.ips[0].address.to_string(), "10.99.0.2/29");
    assert_eq!(res.ips[0].gateway, Some("10.99.0.1".parse().unwrap()));
    delegate("host-local", "DEL", &at, &conf, CniVersion::V1_1_0).unwrap();
    assert!(
        !dir.path().join("invoke-test/10.99.0.2").exists(),
        "DEL must release the address"
    );
}

#[test]
fn a_plugins_error_document_keeps_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let (at, _) = attachment(dir.path(), "c2");
    let binary = find("host-local", &at.path).unwrap();
    let err = exec(&binary, "ADD", &at, br#"{"cniVersion":"9.0.0","name":"x"}"#).unwrap_err();
    assert_eq!(err.code, ErrorCode::INCOMPATIBLE_VERSION, "{err}");
}
