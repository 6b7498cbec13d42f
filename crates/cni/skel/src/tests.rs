use super::*;
use std::cell::RefCell;

/// Records what it was called with; answers ADD with a fixed result.
#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<(Command, String)>>,
}

impl Plugin for Recorder {
    fn add(&self, inv: &Invocation) -> Result<CniResult, CniError> {
        self.record(inv);
        Ok(podnet_cni_spec::decode::json(
            br#"{"ips":[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0}],"interfaces":[{"name":"eth0","sandbox":"/x"}]}"#,
            "fixture",
        )
        .unwrap())
    }
    fn check(&self, inv: &Invocation) -> Result<(), CniError> {
        self.record(inv);
        Ok(())
    }
    fn del(&self, inv: &Invocation) -> Result<(), CniError> {
        self.record(inv);
        Err(CniError::new(
            podnet_cni_spec::ErrorCode::TRY_AGAIN_LATER,
            "busy",
        ))
    }
    fn status(&self, inv: &Invocation) -> Result<(), CniError> {
        self.record(inv);
        Ok(())
    }
    fn gc(&self, inv: &Invocation) -> Result<(), CniError> {
        self.record(inv);
        Ok(())
    }
}

impl Recorder {
    fn record(&self, inv: &Invocation) {
        self.calls
            .borrow_mut()
            .push((inv.command, inv.container_id.clone()));
    }
}

fn env(cmd: &str) -> Env {
    Env {
        command: Some(cmd.into()),
        container_id: Some("c1".into()),
        netns: Some("/run/netns/x".into()),
        ifname: Some("eth0".into()),
        args: None,
        path: Some("/opt/cni/bin".into()),
    }
}

fn conf(version: &str) -> Vec<u8> {
    format!(r#"{{"cniVersion":"{version}","name":"net","type":"rec"}}"#).into_bytes()
}

fn json(o: &Outcome) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn add_answers_in_the_requested_version() {
    let p = Recorder::default();
    let o = dispatch(&p, &env("ADD"), &conf("0.3.1"));
    assert!(o.success);
    let j = json(&o);
    assert_eq!(j["cniVersion"], "0.3.1");
    assert_eq!(j["ips"][0]["version"], "4");
}

#[test]
fn version_needs_no_config() {
    let o = dispatch(&Recorder::default(), &env("VERSION"), b"");
    assert!(o.success);
    let j = json(&o);
    assert_eq!(j["cniVersion"], "1.1.0");
    assert_eq!(
        j["supportedVersions"],
        serde_json::json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

#[test]
fn missing_variables_are_code_4_and_named() {
    for (cmd, var) in [
        ("ADD", "CNI_NETNS"),
        ("CHECK", "CNI_NETNS"),
        ("ADD", "CNI_CONTAINERID"),
        ("DEL", "CNI_IFNAME"),
        ("GC", "CNI_PATH"),
    ] {
        let mut e = env(cmd);
        match var {
            "CNI_NETNS" => e.netns = None,
            "CNI_CONTAINERID" => e.container_id = None,
            "CNI_IFNAME" => e.ifname = None,
            _ => e.path = None,
        }
        let o = dispatch(&Recorder::default(), &e, &conf("1.1.0"));
        assert!(!o.success);
        let j = json(&o);
        assert_eq!(j["code"], 4, "{cmd} without {var}");
        assert!(j["msg"].as_str().unwrap().contains(var), "{j}");
    }
}

#[test]
fn del_does_not_need_a_netns() {
    let mut e = env("DEL");
    e.netns = None;
    let p = Recorder::default();
    let o = dispatch(&p, &e, &conf("1.0.0"));
    // The recorder's DEL answers "try again later": the plugin was reached.
    assert_eq!(json(&o)["code"], 11);
    assert_eq!(p.calls.borrow().len(), 1);
}

#[test]
fn verbs_newer_than_the_config_are_refused_with_code_1() {
    for (cmd, version) in [("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "0.4.0")] {
        let o = dispatch(&Recorder::default(), &env(cmd), &conf(version));
        let j = json(&o);
        assert_eq!(j["code"], 1, "{cmd} at {version}");
        assert_eq!(j["cniVersion"], version);
    }
}

#[test]
fn unknown_command_and_unsupported_version() {
    let o = dispatch(&Recorder::default(), &env("FROB"), &conf("1.0.0"));
    assert_eq!(json(&o)["code"], 4);
    let o = dispatch(&Recorder::default(), &env("ADD"), &conf("0.2.0"));
    let j = json(&o);
    assert_eq!(j["code"], 1);
    assert_eq!(j["cniVersion"], "1.1.0");
}

#[test]
fn garbage_config_is_a_decode_failure() {
    let o = dispatch(&Recorder::default(), &env("ADD"), b"\x00\xffnot json");
    assert!(!o.success);
    assert_eq!(json(&o)["code"], 6);
}

#[test]
fn bad_container_id_and_ifname_are_refused() {
    let mut e = env("ADD");
    e.container_id = Some("../etc".into());
    assert_eq!(
        json(&dispatch(&Recorder::default(), &e, &conf("1.0.0")))["code"],
        4
    );
    let mut e = env("ADD");
    e.ifname = Some("averyveryverylongname".into());
    let j = json(&dispatch(&Recorder::default(), &e, &conf("1.0.0")));
    assert_eq!(j["code"], 4);
    assert!(j["msg"].as_str().unwrap().contains("CNI_IFNAME"));
}

#[test]
fn gc_and_status_run_without_a_container() {
    let p = Recorder::default();
    let mut e = env("GC");
    e.container_id = None;
    e.ifname = None;
    e.netns = None;
    assert!(dispatch(&p, &e, &conf("1.1.0")).success);
    e.command = Some("STATUS".into());
    assert!(dispatch(&p, &e, &conf("1.1.0")).success);
    assert_eq!(p.calls.borrow().len(), 2);
}
