//! podnet-ipam, the real binary, against temp dataDirs: every verb, every version's result
//! format, host-local's defaults and layout (compared with Debian's host-local itself),
//! concurrency, and crash safety at every point of the `PODNET_IPAM_CRASH_AT` hook.
//! IPAM touches no network, so no namespace is needed.

#[path = "cni_ipam/crash.rs"]
mod crash;
#[path = "cni_ipam/host_local.rs"]
mod host_local;
#[path = "cni_ipam/kill.rs"]
mod kill;
#[path = "cni_ipam/support.rs"]
mod support;

use std::collections::HashSet;

use serde_json::json;
use support::{Net, addresses};

fn dual_stack() -> Net {
    Net::ranges(json!([[{"subnet": "10.20.0.0/24"}], [{"subnet": "fd20::/64"}]]))
}

#[test]
fn version_lists_every_supported_version() {
    let net = Net::ranges(json!([[{"subnet": "10.20.0.0/24"}]]));
    let r = net.call_with("VERSION", "", "", &json!({}), &[]);
    assert_eq!(
        r.ok()["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

#[test]
fn add_hands_out_host_local_defaults() {
    let net = Net::ranges(json!([[{"subnet": "10.20.0.0/24"}]]));
    let r = net.call("ADD", "c1", "eth0");
    assert_eq!(
        r.ok()["ips"],
        json!([{"address": "10.20.0.2/24", "gateway": "10.20.0.1"}]),
        "the gateway is .1 and never handed out"
    );
    assert_eq!(net.add("c2"), ["10.20.0.3/24"]);
    let files = net.files();
    assert_eq!(files["10.20.0.2"], "c1\r\neth0");
    assert_eq!(files["last_reserved_ip.0"], "10.20.0.3");
}

#[test]
fn add_result_has_each_versions_format() {
    let net = dual_stack();
    let resolv = net.tmp.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 10.96.0.10\nsearch svc.cluster.local\noptions ndots:5\n",
    )
    .unwrap();
    for (i, v) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        .into_iter()
        .enumerate()
    {
        let mut conf = net.conf.clone();
        conf["cniVersion"] = json!(v);
        conf["ipam"]["resolvConf"] = json!(resolv);
        conf["ipam"]["routes"] =
            json!([{"dst": "0.0.0.0/0"}, {"dst": "10.96.0.0/12", "gw": "10.20.0.1"}]);
        let r = net.call_with("ADD", &format!("c{i}"), "eth0", &conf, &[]);
        let res = r.ok();
        assert_eq!(res["cniVersion"], v);
        assert!(
            res.get("interfaces").is_none(),
            "an IPAM result has no interfaces: {res}"
        );
        let ips = res["ips"].as_array().unwrap();
        assert_eq!(ips.len(), 2);
        for (ip, family) in ips.iter().zip(["4", "6"]) {
            assert!(ip.get("interface").is_none(), "{res}");
            if v < "1.0.0" {
                assert_eq!(ip["version"], family, "{v}: {res}");
            } else {
                assert!(ip.get("version").is_none(), "{v}: {res}");
            }
        }
        assert_eq!(ips[1]["gateway"], "fd20::1");
        assert_eq!(
            res["routes"][1],
            json!({"dst": "10.96.0.0/12", "gw": "10.20.0.1"})
        );
        assert_eq!(
            res["dns"],
            json!({"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"], "options": ["ndots:5"]})
        );
    }
}

#[test]
fn dual_stack_gives_one_address_per_range_set() {
    let net = Net::ranges(json!([
        [{"subnet": "10.20.0.0/24", "rangeStart": "10.20.0.100", "rangeEnd": "10.20.0.100"},
         {"subnet": "10.30.0.0/24", "rangeStart": "10.30.0.7", "gateway": "10.30.0.254"}],
        [{"subnet": "fd20::/120"}]
    ]));
    assert_eq!(net.add("a"), ["10.20.0.100/24", "fd20::2/120"]);
    let r = net.call("ADD", "b", "eth0");
    assert_eq!(
        r.ok()["ips"],
        json!([{"address": "10.30.0.7/24", "gateway": "10.30.0.254"},
               {"address": "fd20::3/120", "gateway": "fd20::1"}]),
        "the set's second range takes over, with its own gateway"
    );
    assert_eq!(net.reservations().len(), 4);
}

#[test]
fn legacy_single_range_form_is_accepted() {
    let net = Net::new(json!({
        "subnet": "10.40.0.0/16", "rangeStart": "10.40.3.10", "rangeEnd": "10.40.3.11", "gateway": "10.40.0.254"
    }));
    let r = net.call("ADD", "a", "eth0");
    assert_eq!(
        r.ok()["ips"],
        json!([{"address": "10.40.3.10/16", "gateway": "10.40.0.254"}])
    );
}

#[test]
fn add_retried_for_the_same_attachment_returns_what_it_holds() {
    let net = dual_stack();
    let first = net.add("c1");
    assert_eq!(net.add("c1"), first);
    assert_eq!(net.reservations().len(), 2);
    // Another interface of the same container is another attachment.
    let r = net.call("ADD", "c1", "net1");
    assert_ne!(addresses(r.ok()), first);
}

#[test]
fn round_robin_continues_after_the_last_reserved_address() {
    let net = Net::ranges(json!([[{"subnet": "10.20.0.0/29"}]]));
    assert_eq!(net.add("a"), ["10.20.0.2/29"]);
    assert_eq!(net.add("b"), ["10.20.0.3/29"]);
    net.del("a");
    assert_eq!(
        net.add("c"),
        ["10.20.0.4/29"],
        "a freed address is not reused at once"
    );
    assert_eq!(net.add("d"), ["10.20.0.5/29"]);
    assert_eq!(net.add("e"), ["10.20.0.6/29"]);
    assert_eq!(
        net.add("f"),
        ["10.20.0.2/29"],
        "wraps around past the broadcast address"
    );
}

#[test]
fn requested_ip_is_honoured_from_each_source() {
    let net = dual_stack();
    let r = net.call_with(
        "ADD",
        "a",
        "eth0",
        &net.conf,
        &[("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.20.0.50")],
    );
    assert_eq!(addresses(r.ok()), ["10.20.0.50/24", "fd20::2/64"]);
    let mut conf = net.conf.clone();
    conf["args"] = json!({"cni": {"ips": ["fd20::77"]}});
    let r = net.call_with("ADD", "b", "eth0", &conf, &[]);
    assert_eq!(
        addresses(r.ok()),
        ["10.20.0.51/24", "fd20::77/64"],
        "round robin resumes after the requested one"
    );
    let mut conf = net.conf.clone();
    conf["runtimeConfig"] = json!({"ips": ["10.20.0.9/24", "fd20::9/64"]});
    let r = net.call_with("ADD", "c", "eth0", &conf, &[]);
    assert_eq!(addresses(r.ok()), ["10.20.0.9/24", "fd20::9/64"]);
}

#[test]
fn requested_ip_taken_outside_or_gateway_is_refused_by_name() {
    let net = dual_stack();
    net.add("a");
    let ask = |id: &str, ip: &str| {
        let mut conf = net.conf.clone();
        conf["runtimeConfig"] = json!({"ips": [ip]});
        net.call_with("ADD", id, "eth0", &conf, &[])
    };
    let msg = ask("b", "10.20.0.2").err(110).to_owned();
    assert!(
        msg.contains("requested IP 10.20.0.2 (runtimeConfig.ips[0])") && msg.contains("\"a\""),
        "{msg}"
    );
    let msg = ask("b", "10.21.0.2").err(7).to_owned();
    assert!(
        msg.starts_with("runtimeConfig.ips[0]: requested IP 10.21.0.2 is outside every range"),
        "{msg}"
    );
    let msg = ask("b", "10.20.0.1").err(110).to_owned();
    assert!(
        msg.contains("10.20.0.1") && msg.contains("gateway"),
        "{msg}"
    );
    assert!(
        net.held_by("b").is_empty(),
        "a refused ADD reserves nothing"
    );
}

#[test]
fn fifty_concurrent_adds_get_distinct_addresses() {
    let net = Net::ranges(json!([[{"subnet": "10.20.0.0/24"}]]));
    let children: Vec<_> = (0..50)
        .map(|i| net.spawn("ADD", &format!("c{i}"), "eth0", &net.conf, &[]))
        .collect();
    let mut seen = HashSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            seen.insert(addresses(&res)[0].clone()),
            "duplicate address in {res}"
        );
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(net.reservations().len(), 50);
}

#[test]
fn check_passes_only_while_the_attachment_holds_an_address() {
    let net = dual_stack();
    net.add("a");
    net.call("CHECK", "a", "eth0").ok();
    let msg = net.call("CHECK", "b", "eth0").err(3).to_owned();
    assert!(
        msg.contains("\"b\"") && msg.contains("ipam.ranges[0]"),
        "{msg}"
    );
    net.del("a");
    net.call("CHECK", "a", "eth0").err(3);
}

#[test]
fn del_is_idempotent_and_frees_only_its_attachment() {
    let net = dual_stack();
    net.del("never-added");
    assert!(!net.state_dir().exists(), "a DEL creates no state");
    net.add("a");
    net.add("b");
    net.del("a");
    net.del("a");
    assert!(net.held_by("a").is_empty());
    assert_eq!(net.held_by("b").len(), 2);
}

#[test]
fn gc_keeps_valid_attachments_and_frees_the_rest() {
    let net = dual_stack();
    for (id, ifname) in [("a", "eth0"), ("b", "eth0"), ("b", "net1"), ("c", "eth0")] {
        net.call("ADD", id, ifname).ok();
    }
    // A reservation no plugin could have written (an empty file) belongs to nobody.
    std::fs::create_dir_all(net.state_dir()).unwrap();
    std::fs::write(net.state_dir().join("10.20.0.200"), "").unwrap();
    net.gc(&[("a", "eth0"), ("b", "net1")]).ok();
    let owners: HashSet<String> = net.reservations().into_values().collect();
    assert_eq!(
        owners,
        HashSet::from(["a/eth0".to_owned(), "b/net1".to_owned()])
    );
    assert_eq!(net.reservations().len(), 4);
    net.gc(&[]).ok();
    assert!(net.reservations().is_empty());
}

#[test]
fn status_fails_with_code_50_when_exhausted_and_recovers_after_del() {
    let net = Net::ranges(json!([
        [{"subnet": "10.20.0.0/24"}],
        [{"subnet": "fd20::/64", "rangeStart": "fd20::10", "rangeEnd": "fd20::11"}]
    ]));
    net.call("STATUS", "", "").ok();
    net.add("a");
    net.add("b");
    let msg = net.call("STATUS", "", "").err(50).to_owned();
    assert!(msg.starts_with("ipam.ranges[1]: no address left"), "{msg}");
    let msg = net.call("ADD", "c", "eth0").err(111).to_owned();
    assert!(msg.starts_with("ipam.ranges[1]"), "{msg}");
    assert!(
        net.held_by("c").is_empty(),
        "the failed ADD gave its IPv4 address back"
    );
    net.del("a");
    net.call("STATUS", "", "").ok();
    assert_eq!(net.add("c").len(), 2);
}

#[test]
fn bad_config_errors_name_the_field() {
    let cases = [
        (
            json!({"ranges": [[{"subnet": "10.9.0.0/24"}, {"subnet": "10.9.1.0/24", "rangeStart": "10.9.0.300"}]]}),
            "ipam.ranges[0][1].rangeStart: 10.9.0.300 is not an IP address",
        ),
        (
            json!({"ranges": [[{"subnet": "10.9.0.0/24", "rangeStart": "10.9.1.1"}]]}),
            "ipam.ranges[0][0].rangeStart: 10.9.1.1 is outside subnet 10.9.0.0/24",
        ),
        (
            json!({"ranges": [[{"subnet": "10.9.0.0/24", "gateway": "10.8.0.1"}]]}),
            "ipam.ranges[0][0].gateway: 10.8.0.1 is outside subnet 10.9.0.0/24",
        ),
        (
            json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "10.9.0.0/16"}]]}),
            "ipam.ranges[1][0]: 10.9.0.0/16 (10.9.0.1-10.9.255.254) overlaps ipam.ranges[0][0]",
        ),
        (json!({"routes": []}), "ipam.ranges: required"),
        (
            json!({"ranges": [[{"gateway": "10.9.0.1"}]]}),
            "ipam.ranges[0][0].subnet: required",
        ),
    ];
    for (ipam, want) in cases {
        let net = Net::new(ipam).version("1.0.0");
        let r = net.call("ADD", "a", "eth0");
        let msg = r.err(7);
        assert!(msg.starts_with(want), "want {want:?}, got {msg:?}");
        assert_eq!(
            r.json["cniVersion"], "1.0.0",
            "errors answer in the caller's version"
        );
        assert!(
            !net.state_dir().exists(),
            "a refused config touches no state"
        );
    }
}
