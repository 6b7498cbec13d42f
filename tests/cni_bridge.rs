//! podnet-cni end to end: the real binary, invoked as the CNI spec says, inside a "node"
//! namespace, with pods in namespaces of their own; each behaviour checked in the kernel.
//! Every test runs twice: with Debian's host-local and with podnet-ipam as IPAM.

#[path = "cni_bridge/harness.rs"]
mod harness;

use harness::{BRIDGE, HOST_LOCAL, Node, PODNET_IPAM, addresses, bridge_ports, link, routes};
use podnet_cni_plugin::names::host_veth_name;
use podnet_test_util::Netns;
use serde_json::{Value, json};

const CNI: &str = "podnet-cni";
const V4: &str = "10.77.1.0/24";
const V6: &str = "fd77:1::/64";

macro_rules! with_both_ipams {
    ($($name:ident),* $(,)?) => {
        mod host_local { $( #[test] fn $name() { super::$name(super::HOST_LOCAL) } )* }
        mod podnet_ipam { $( #[test] fn $name() { super::$name(super::PODNET_IPAM) } )* }
    };
}

with_both_ipams!(
    kernel_add_configures_pod_bridge_and_host,
    kernel_two_pods_on_one_bridge_reach_each_other,
    kernel_ipv6_only_and_dual_stack,
    kernel_del_is_idempotent,
    kernel_check_fails_when_address_or_route_is_removed,
    kernel_gc_removes_stale_veths_and_keeps_valid_ones,
    kernel_every_result_version,
    kernel_errors_carry_spec_codes,
    kernel_failed_add_leaves_no_veth_and_no_allocation,
    kernel_ip_masq_in_podnets_own_table,
    kernel_force_address_replaces_a_conflicting_bridge_address,
    kernel_status_and_dns,
    kernel_promisc_mode_makes_the_bridge_promiscuous,
);

fn kernel_promisc_mode_makes_the_bridge_promiscuous(ipam: &'static str) {
    let node = Node::new("br-promisc", ipam);
    let pod = Netns::new("br-promisc-pod");
    let mut conf = node.conf(
        "1.1.0",
        CNI,
        &[V4],
        json!({"promiscMode": true, "hairpinMode": true}),
    );
    let out = node.call(CNI, "ADD", "c1", Some(pod.path()), "eth0", &conf);
    assert_eq!(
        out.json["code"], 7,
        "hairpin and promisc together are refused: {}",
        out.json
    );
    conf["hairpinMode"] = json!(false);
    add_ok(&node, "c1", &pod, &conf);
    assert_eq!(link(&node.ns, BRIDGE).unwrap()["promiscuity"], 1);
    let port = link(&node.ns, &host_veth_name("c1", "eth0")).unwrap();
    assert_eq!(port["linkinfo"]["info_slave_data"]["hairpin"], false);
}

fn full_conf(node: &Node, version: &str, subnets: &[&str]) -> Value {
    node.conf(
        version,
        CNI,
        subnets,
        json!({"isDefaultGateway": true, "mtu": 1400, "hairpinMode": true}),
    )
}

fn add_ok(node: &Node, id: &str, pod: &Netns, conf: &Value) -> Value {
    let out = node.call(CNI, "ADD", id, Some(pod.path()), "eth0", conf);
    assert!(out.ok, "ADD {id}: {:?} {}", out.json, out.stderr);
    out.json
}

fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

fn kernel_add_configures_pod_bridge_and_host(ipam: &'static str) {
    let node = Node::new("br-add", ipam);
    let pod = Netns::new("br-add-pod");
    let conf = full_conf(&node, "1.1.0", &[V4]);
    let res = add_ok(&node, "c1", &pod, &conf);

    // Result: bridge, host veth, container interface with its sandbox; IPs point at it.
    let veth = host_veth_name("c1", "eth0");
    assert_eq!(res["interfaces"][0]["name"], BRIDGE);
    assert_eq!(res["interfaces"][1]["name"], veth.as_str());
    assert_eq!(res["interfaces"][2]["name"], "eth0");
    assert_eq!(
        res["interfaces"][2]["sandbox"],
        pod.path().to_str().unwrap()
    );
    assert_eq!(res["interfaces"][2]["mtu"], 1400);
    assert_eq!(res["ips"][0]["address"], "10.77.1.2/24");
    assert_eq!(res["ips"][0]["gateway"], "10.77.1.1");
    assert_eq!(res["ips"][0]["interface"], 2);
    assert_eq!(
        res["routes"][0],
        json!({"dst": "0.0.0.0/0", "gw": "10.77.1.1"})
    );

    // Pod: address, default route via the gateway, MTU, lo up, MAC as reported.
    assert_eq!(addresses(&pod, "eth0"), ["10.77.1.2/24"]);
    assert_eq!(routes(&pod), ["10.77.1.0/24", "default via 10.77.1.1"]);
    let eth0 = link(&pod, "eth0").unwrap();
    assert_eq!(eth0["mtu"], 1400);
    assert_eq!(eth0["address"], res["interfaces"][2]["mac"]);
    assert!(eth0["flags"].as_array().unwrap().contains(&json!("UP")));
    assert!(
        link(&pod, "lo").unwrap()["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("UP"))
    );

    // Node: bridge with gateway and MTU; host veth on it with hairpin; forwarding.
    let br = link(&node.ns, BRIDGE).unwrap();
    assert_eq!(br["promiscuity"], 0, "{br}");
    assert_eq!(br["mtu"], 1400);
    assert_eq!(addresses(&node.ns, BRIDGE), ["10.77.1.1/24"]);
    let host = link(&node.ns, &veth).unwrap();
    assert_eq!(host["master"], BRIDGE);
    assert_eq!(host["mtu"], 1400);
    assert_eq!(
        host["linkinfo"]["info_slave_data"]["hairpin"], true,
        "{host}"
    );
    assert_eq!(node.sysctl("net.ipv4.ip_forward"), "1");
    assert!(
        link(&node.ns, "eth0").is_none(),
        "the pod end must not appear on the node"
    );
}

fn kernel_two_pods_on_one_bridge_reach_each_other(ipam: &'static str) {
    let node = Node::new("br-ping", ipam);
    let (a, b) = (Netns::new("br-ping-a"), Netns::new("br-ping-b"));
    let conf = full_conf(&node, "1.0.0", &[V4, V6]);
    add_ok(&node, "ca", &a, &conf);
    let rb = add_ok(&node, "cb", &b, &conf);
    let b4 = rb["ips"][0]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let b6 = rb["ips"][1]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    a.exec(&["ping", "-c1", "-W2", b4]);
    a.exec(&["ping", "-6", "-c1", "-W2", b6]);
    // And the gateway on the bridge answers (the node is the pods' router).
    a.exec(&["ping", "-c1", "-W2", "10.77.1.1"]);
    assert_eq!(bridge_ports(&node.ns, BRIDGE).len(), 2);
}

fn kernel_ipv6_only_and_dual_stack(ipam: &'static str) {
    let node = Node::new("br-v6", ipam);
    let (p6, pd) = (Netns::new("br-v6-only"), Netns::new("br-v6-dual"));
    let v6conf = full_conf(&node, "1.1.0", &[V6]);
    let res = add_ok(&node, "c6", &p6, &v6conf);
    assert_eq!(res["ips"][0]["address"], "fd77:1::2/64");
    assert_eq!(addresses(&p6, "eth0"), ["fd77:1::2/64"]);
    assert_eq!(routes(&p6), ["default via fd77:1::1", "fd77:1::/64"]);
    // No DAD: the address is usable at once.
    let shown = p6.exec(&["ip", "-6", "addr", "show", "dev", "eth0", "scope", "global"]);
    assert!(!shown.contains("tentative"), "{shown}");
    assert_eq!(node.sysctl("net.ipv6.conf.all.forwarding"), "1");

    let del = node.call(harness_cni(), "DEL", "c6", Some(p6.path()), "eth0", &v6conf);
    assert!(del.ok, "{:?}", del.json);
    let dual = full_conf(&node, "1.1.0", &[V4, V6]);
    add_ok(&node, "cd", &pd, &dual);
    assert_eq!(addresses(&pd, "eth0").len(), 2);
    assert_eq!(
        routes(&pd),
        [
            "10.77.1.0/24",
            "default via 10.77.1.1",
            "default via fd77:1::1",
            "fd77:1::/64"
        ]
    );
    let mut br = addresses(&node.ns, BRIDGE);
    br.sort();
    assert_eq!(br, ["10.77.1.1/24", "fd77:1::1/64"]);
}

fn harness_cni() -> &'static str {
    CNI
}

fn kernel_del_is_idempotent(ipam: &'static str) {
    let node = Node::new("br-del", ipam);
    let conf = full_conf(&node, "1.1.0", &[V4]);
    // Never added.
    let never = Netns::new("br-del-never");
    assert!(
        node.call(CNI, "DEL", "nope", Some(never.path()), "eth0", &conf)
            .ok
    );
    assert!(node.call(CNI, "DEL", "nope", None, "eth0", &conf).ok);
    // Added, then the pod's namespace vanished before DEL.
    let pod = Netns::new("br-del-pod");
    let path = pod.path().to_owned();
    let res = add_ok(&node, "gone", &pod, &conf);
    let veth = host_veth_name("gone", "eth0");
    drop(pod);
    let out = node.call(
        CNI,
        "DEL",
        "gone",
        Some(&path),
        "eth0",
        &with_prev(&conf, &res),
    );
    assert!(out.ok, "{:?} {}", out.json, out.stderr);
    assert!(link(&node.ns, &veth).is_none(), "host veth must be gone");
    assert!(
        node.allocated_to("gone").is_empty(),
        "the address must be released"
    );
    let again = Netns::new("br-del-again");
    add_ok(&node, "again", &again, &conf);
    assert_eq!(node.allocated_to("again").len(), 1);
    // And DEL twice is fine.
    for _ in 0..2 {
        assert!(
            node.call(CNI, "DEL", "again", Some(again.path()), "eth0", &conf)
                .ok
        );
    }
    assert!(link(&again, "eth0").is_none());
    assert!(node.allocated_to("again").is_empty());
}

fn kernel_check_fails_when_address_or_route_is_removed(ipam: &'static str) {
    let node = Node::new("br-check", ipam);
    let pod = Netns::new("br-check-pod");
    let conf = full_conf(&node, "1.1.0", &[V4]);
    let res = add_ok(&node, "c1", &pod, &conf);
    let checked = with_prev(&conf, &res);
    let ok = node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &checked);
    assert!(ok.ok, "{:?} {}", ok.json, ok.stderr);

    pod.exec(&["ip", "route", "del", "default"]);
    let out = node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &checked);
    assert!(!out.ok);
    assert_eq!(out.json["code"], 110);
    assert!(
        out.json["msg"].as_str().unwrap().contains("0.0.0.0/0"),
        "{}",
        out.json
    );

    pod.exec(&["ip", "route", "add", "default", "via", "10.77.1.1"]);
    assert!(
        node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &checked)
            .ok
    );
    pod.exec(&["ip", "addr", "del", "10.77.1.2/24", "dev", "eth0"]);
    let out = node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &checked);
    assert!(!out.ok);
    assert!(
        out.json["msg"].as_str().unwrap().contains("10.77.1.2/24"),
        "{}",
        out.json
    );

    // The host veth taken off the bridge is noticed too.
    node.exec(&[
        "ip",
        "link",
        "set",
        &host_veth_name("c1", "eth0"),
        "nomaster",
    ]);
    let out = node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &checked);
    assert!(
        out.json["msg"].as_str().unwrap().contains("not a port"),
        "{}",
        out.json
    );
    // Without prevResult CHECK cannot work.
    let out = node.call(CNI, "CHECK", "c1", Some(pod.path()), "eth0", &conf);
    assert_eq!(out.json["code"], 7);
}

fn kernel_gc_removes_stale_veths_and_keeps_valid_ones(ipam: &'static str) {
    let node = Node::new("br-gc", ipam);
    let (keep, stale) = (Netns::new("br-gc-keep"), Netns::new("br-gc-stale"));
    let conf = full_conf(&node, "1.1.0", &[V4]);
    add_ok(&node, "keep", &keep, &conf);
    add_ok(&node, "stale", &stale, &conf);
    // A link on the bridge that podnet did not make is not podnet's to collect.
    node.exec(&[
        "ip", "link", "add", "other0", "master", BRIDGE, "type", "veth", "peer", "other1",
    ]);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    let out = node.call(CNI, "GC", "", None, "", &gc);
    assert!(out.ok, "{:?} {}", out.json, out.stderr);
    assert!(link(&node.ns, &host_veth_name("keep", "eth0")).is_some());
    assert!(link(&node.ns, &host_veth_name("stale", "eth0")).is_none());
    assert!(link(&stale, "eth0").is_none());
    assert!(link(&node.ns, "other0").is_some());
    assert_eq!(node.allocated_to("keep").len(), 1);
    // podnet-ipam speaks 1.1.0 and is asked to collect too; host-local predates GC.
    assert_eq!(node.allocated_to("stale").is_empty(), ipam == PODNET_IPAM);
}

fn kernel_every_result_version(ipam: &'static str) {
    let node = Node::new("br-ver", ipam);
    for (i, version) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        .into_iter()
        .enumerate()
    {
        let pod = Netns::new("br-ver-pod");
        let id = format!("v{i}");
        let conf = full_conf(&node, version, &[V4, V6]);
        let res = add_ok(&node, &id, &pod, &conf);
        assert_eq!(res["cniVersion"], version);
        let pre_1 = version < "1.0.0";
        assert_eq!(
            res["ips"][0].get("version").is_some(),
            pre_1,
            "{version}: {res}"
        );
        if pre_1 {
            assert_eq!(res["ips"][1]["version"], "6");
        }
        assert_eq!(
            res["interfaces"][2].get("mtu").is_some(),
            version == "1.1.0",
            "{res}"
        );
        assert_eq!(res["ips"][0]["interface"], 2);
        if version >= "0.4.0" {
            let out = node.call(
                CNI,
                "CHECK",
                &id,
                Some(pod.path()),
                "eth0",
                &with_prev(&conf, &res),
            );
            assert!(out.ok, "{version}: {:?}", out.json);
        }
        assert!(
            node.call(CNI, "DEL", &id, Some(pod.path()), "eth0", &conf)
                .ok
        );
    }
}

fn kernel_errors_carry_spec_codes(ipam: &'static str) {
    let node = Node::new("br-err", ipam);
    let pod = Netns::new("br-err-pod");
    let mut conf = full_conf(&node, "1.1.0", &[V4]);
    conf["mtu"] = json!(20);
    let out = node.call(CNI, "ADD", "c1", Some(pod.path()), "eth0", &conf);
    assert_eq!((out.ok, out.json["code"].clone()), (false, json!(7)));
    assert!(
        out.json["msg"].as_str().unwrap().contains("\"mtu\""),
        "{}",
        out.json
    );
    assert_eq!(out.json["cniVersion"], "1.1.0");

    let mut conf = full_conf(&node, "1.1.0", &[V4]);
    conf["bridge"] = json!("bridge-name-too-long");
    let out = node.call(CNI, "ADD", "c1", Some(pod.path()), "eth0", &conf);
    assert_eq!(out.json["code"], 7);
    assert!(
        out.json["msg"].as_str().unwrap().contains("\"bridge\""),
        "{}",
        out.json
    );

    let conf = full_conf(&node, "1.1.0", &[V4]);
    let out = node.call(CNI, "ADD", "c1", None, "eth0", &conf);
    assert_eq!(out.json["code"], 4, "{}", out.json);
    assert!(out.json["msg"].as_str().unwrap().contains("CNI_NETNS"));
    let out = node.call(
        CNI,
        "ADD",
        "c1",
        Some("/run/netns/no-such-ns".as_ref()),
        "eth0",
        &conf,
    );
    assert_eq!(out.json["code"], 4, "{}", out.json);

    let out = node.call(
        CNI,
        "ADD",
        "c1",
        Some(pod.path()),
        "eth0",
        &json!("not a config"),
    );
    assert_eq!(out.json["code"], 6, "{}", out.json);
    // Errors go to stdout as JSON; logs never do.
    assert!(out.json.is_object());
    assert!(link(&pod, "eth0").is_none());
}

fn kernel_failed_add_leaves_no_veth_and_no_allocation(ipam: &'static str) {
    let node = Node::new("br-fail", ipam);
    // A /30 has one address left after the gateway.
    let conf = full_conf(&node, "1.1.0", &["10.77.9.0/30"]);
    let first = Netns::new("br-fail-1");
    add_ok(&node, "first", &first, &conf);
    let second = Netns::new("br-fail-2");
    let out = node.call(CNI, "ADD", "second", Some(second.path()), "eth0", &conf);
    assert!(!out.ok, "the range is exhausted");
    assert!(link(&node.ns, &host_veth_name("second", "eth0")).is_none());
    assert!(link(&second, "eth0").is_none());
    assert_eq!(bridge_ports(&node.ns, BRIDGE).len(), 1);
    assert!(node.allocated_to("second").is_empty());

    // The interface name is taken in the pod: refused, and the address is given back.
    let node = Node::new("br-fail-name", ipam);
    let conf = full_conf(&node, "1.1.0", &[V4]);
    let taken = Netns::new("br-fail-taken");
    taken.exec(&["ip", "link", "add", "eth0", "type", "veth", "peer", "eth9"]);
    let out = node.call(CNI, "ADD", "taken", Some(taken.path()), "eth0", &conf);
    assert!(!out.ok);
    assert_eq!(out.json["code"], 4, "{}", out.json);
    assert!(
        out.json["msg"].as_str().unwrap().contains("CNI_IFNAME"),
        "{}",
        out.json
    );
    assert!(link(&node.ns, &host_veth_name("taken", "eth0")).is_none());
    assert!(
        node.allocated_to("taken").is_empty(),
        "the failed ADD's address was released"
    );
}

fn kernel_ip_masq_in_podnets_own_table(ipam: &'static str) {
    let node = Node::new("br-masq", ipam);
    let pod = Netns::new("br-masq-pod");
    let mut conf = full_conf(&node, "1.1.0", &[V4, V6]);
    conf["ipMasq"] = json!(true);
    let res = add_ok(&node, "c1", &pod, &conf);
    let table = node.exec(&["nft", "list", "table", "inet", "podnet-cni"]);
    assert!(table.contains("10.77.1.2 . 10.77.1.0/24"), "{table}");
    assert!(table.contains("fd77:1::2 . fd77:1::/64"), "{table}");
    assert!(table.contains("ip saddr @masq4 masquerade"), "{table}");
    assert!(table.contains("hook postrouting"), "{table}");
    // Nothing but podnet's table.
    let tables = node.exec(&["nft", "list", "tables"]);
    assert_eq!(tables.trim(), "table inet podnet-cni", "{tables}");
    let out = node.call(
        CNI,
        "DEL",
        "c1",
        Some(pod.path()),
        "eth0",
        &with_prev(&conf, &res),
    );
    assert!(out.ok, "{:?} {}", out.json, out.stderr);
    let table = node.exec(&["nft", "list", "table", "inet", "podnet-cni"]);
    assert!(!table.contains("10.77.1.2"), "{table}");
    // DEL again (elements already gone) still succeeds.
    assert!(
        node.call(
            CNI,
            "DEL",
            "c1",
            Some(pod.path()),
            "eth0",
            &with_prev(&conf, &res)
        )
        .ok
    );
}

fn kernel_force_address_replaces_a_conflicting_bridge_address(ipam: &'static str) {
    let node = Node::new("br-force", ipam);
    node.exec(&["ip", "link", "add", BRIDGE, "type", "bridge"]);
    node.exec(&["ip", "addr", "add", "10.99.0.1/24", "dev", BRIDGE]);
    let pod = Netns::new("br-force-pod");
    let mut conf = full_conf(&node, "1.1.0", &[V4]);
    let out = node.call(CNI, "ADD", "c1", Some(pod.path()), "eth0", &conf);
    assert!(!out.ok);
    assert_eq!(out.json["code"], 7, "{}", out.json);
    assert!(
        out.json["msg"].as_str().unwrap().contains("forceAddress"),
        "{}",
        out.json
    );
    assert!(link(&pod, "eth0").is_none(), "rolled back");
    conf["forceAddress"] = json!(true);
    add_ok(&node, "c1", &pod, &conf);
    assert_eq!(addresses(&node.ns, BRIDGE), ["10.77.1.1/24"]);
}

fn kernel_status_and_dns(ipam: &'static str) {
    let node = Node::new("br-status", ipam);
    let mut conf = full_conf(&node, "1.1.0", &["10.77.9.0/30"]);
    conf["dns"] = json!({"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]});
    assert!(node.call(CNI, "STATUS", "", None, "", &conf).ok);
    let pod = Netns::new("br-status-pod");
    let res = add_ok(&node, "c1", &pod, &conf);
    assert_eq!(res["dns"]["nameservers"], json!(["10.96.0.10"]));
    assert_eq!(res["dns"]["search"], json!(["svc.cluster.local"]));
    let out = node.call(CNI, "STATUS", "", None, "", &conf);
    if ipam == PODNET_IPAM {
        // The range is exhausted: podnet-ipam's code 50 comes through.
        assert_eq!(out.json["code"], 50, "{:?}", out);
    } else {
        assert!(out.ok, "host-local predates STATUS: taken as ready");
    }
}
