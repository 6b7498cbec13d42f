//! Against the real kernel, each test in a network namespace of its own.

use podnet_iptables::{
    Error, Family, Ipset, Iptables, IpvsSupport, Position, Table, Variant, ipvs_support, probe_ipvs,
};
use podnet_test_util::Netns;

fn iptables(ns: &Netns) -> Iptables {
    Iptables::new(Some(ns.path()), Family::V4, Variant::Nft)
}

#[test]
fn kernel_iptables_restore_commits_each_table_atomically_inside_the_netns() {
    let ns = Netns::new("ipt-restore");
    let ipt = iptables(&ns);
    ipt.restore(
        "*filter\n:KUBE-T - [0:0]\n-A KUBE-T -p tcp --dport 80 -j REJECT\nCOMMIT\n\
         *nat\n:KUBE-T - [0:0]\n-A KUBE-T -p tcp -j DNAT --to-destination 10.1.0.2:80\nCOMMIT\n",
    )
    .unwrap();
    assert!(ipt.chains(Table::Filter).unwrap().contains("KUBE-T"));
    let nat = ipt.save(Table::Nat).unwrap();
    assert!(nat.contains("--to-destination 10.1.0.2:80"), "{nat}");
    // The namespace's own view agrees, and nothing leaked into ours.
    assert!(
        ns.exec(&["iptables-nft-save", "-t", "nat"])
            .contains("KUBE-T")
    );
    let (_, own, _) = podnet_test_util::run(&["iptables-nft-save", "-t", "nat"]);
    assert!(!own.contains("KUBE-T"), "{own}");

    // A rejected line leaves its table untouched, and the error quotes it.
    let err = ipt
        .restore("*nat\n:KUBE-T - [0:0]\n:KUBE-U - [0:0]\n-A KUBE-U -j KUBE-MISSING\nCOMMIT\n")
        .unwrap_err();
    let Error::Rejected { line, lines, .. } = &err else {
        panic!("{err}")
    };
    // nf_tables only finds the dangling jump when the table commits, so the tool names the
    // COMMIT line; the neighbours shown make the culprit visible.
    assert_eq!(*line, 5, "{err}");
    assert!(lines.contains("KUBE-MISSING"), "{lines}");
    let nat = ipt.save(Table::Nat).unwrap();
    assert!(!nat.contains("KUBE-U"), "{nat}");
    assert!(
        nat.contains("--to-destination 10.1.0.2:80"),
        "flushed anyway:\n{nat}"
    );

    // Each table's section commits on its own: a later table's failure does not undo an
    // earlier table (which is why the proxy writes filter before nat, as kube-proxy does,
    // and retries with a full sync after any failure).
    ipt.restore("*filter\n:KUBE-T - [0:0]\nCOMMIT\n*nat\n-A KUBE-T -j KUBE-MISSING\nCOMMIT\n")
        .unwrap_err();
    let filter = ipt.save(Table::Filter).unwrap();
    assert!(!filter.contains("--dport 80 -j REJECT"), "{filter}");
}

#[test]
fn kernel_iptables_noflush_keeps_chains_the_input_does_not_name_and_deletes_flushed_ones() {
    let ns = Netns::new("ipt-noflush");
    let ipt = iptables(&ns);
    ipt.restore("*nat\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n-A KUBE-A -j RETURN\n-A KUBE-B -j RETURN\nCOMMIT\n")
        .unwrap();
    // Only KUBE-B is named: flushed and removed; KUBE-A keeps its rule.
    ipt.restore("*nat\n:KUBE-B - [0:0]\n-X KUBE-B\nCOMMIT\n")
        .unwrap();
    let nat = ipt.save(Table::Nat).unwrap();
    assert!(nat.contains("-A KUBE-A -j RETURN"), "{nat}");
    assert!(!nat.contains("KUBE-B"), "{nat}");
}

#[test]
fn kernel_iptables_ensure_rule_adds_once_and_delete_rule_removes() {
    let ns = Netns::new("ipt-ensure");
    let ipt = iptables(&ns);
    assert!(ipt.ensure_chain(Table::Nat, "KUBE-SERVICES").unwrap());
    assert!(!ipt.ensure_chain(Table::Nat, "KUBE-SERVICES").unwrap());
    let jump = [
        "-m",
        "comment",
        "--comment",
        "kubernetes service portals",
        "-j",
        "KUBE-SERVICES",
    ];
    ns.exec(&["iptables-nft", "-t", "nat", "-A", "OUTPUT", "-j", "ACCEPT"]);
    assert!(
        ipt.ensure_rule(Position::Prepend, Table::Nat, "OUTPUT", &jump)
            .unwrap()
    );
    assert!(
        !ipt.ensure_rule(Position::Prepend, Table::Nat, "OUTPUT", &jump)
            .unwrap()
    );
    let rules = ns.exec(&["iptables-nft", "-t", "nat", "-S", "OUTPUT"]);
    let lines: Vec<&str> = rules.lines().collect();
    assert_eq!(
        lines,
        [
            "-P OUTPUT ACCEPT",
            "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -j ACCEPT",
        ]
    );
    assert!(ipt.delete_rule(Table::Nat, "OUTPUT", &jump).unwrap());
    assert!(!ipt.delete_rule(Table::Nat, "OUTPUT", &jump).unwrap());
    // A rule into a chain that does not exist is simply absent.
    assert!(!ipt.delete_rule(Table::Nat, "KUBE-NOPE", &jump).unwrap());
}

#[test]
fn kernel_variant_detect_picks_nf_tables_in_a_fresh_namespace_without_creating_legacy_tables() {
    let ns = Netns::new("ipt-variant");
    assert_eq!(Variant::detect(Some(ns.path())).unwrap(), Variant::Nft);
    let (_, _, stderr) = ns.try_exec(&["iptables-nft-save"]);
    assert!(!stderr.contains("legacy tables present"), "{stderr}");
    // A namespace whose rules are all in the legacy backend stays legacy.
    ns.exec(&[
        "iptables-legacy",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-j",
        "MASQUERADE",
    ]);
    assert_eq!(Variant::detect(Some(ns.path())).unwrap(), Variant::Legacy);
}

#[test]
fn kernel_ipset_restore_creates_and_fills_sets_and_quotes_a_bad_line() {
    let ns = Netns::new("ipset");
    let ipset = Ipset::new(Some(ns.path()));
    ipset
        .restore(
            "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n\
             add KUBE-CLUSTER-IP 10.96.0.10,udp:53\n\
             add KUBE-CLUSTER-IP 10.96.0.10,tcp:53\n",
        )
        .unwrap();
    assert_eq!(ipset.names().unwrap(), ["KUBE-CLUSTER-IP"]);
    let saved = ipset.save().unwrap();
    assert!(
        saved.contains("add KUBE-CLUSTER-IP 10.96.0.10,udp:53"),
        "{saved}"
    );
    // Re-applying the same batch is not an error (-exist).
    ipset
        .restore("create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n")
        .unwrap();
    let err = ipset
        .restore("add KUBE-CLUSTER-IP 10.96.0.1,tcp:443\nadd KUBE-NOPE 10.96.0.1\n")
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { line: 2, .. }), "{err}");
    assert!(ipset.names().unwrap() == ["KUBE-CLUSTER-IP"]);
    // Nothing leaked into the test's own namespace.
    let (_, own, _) = podnet_test_util::run(&["ipset", "list", "-n"]);
    assert!(!own.contains("KUBE-CLUSTER-IP"), "{own}");
}

#[test]
fn kernel_without_ipvs_is_refused_with_the_missing_kernel_feature_named() {
    // This machine's kernel is built without IPVS (see FACTS.md); on one with it, the probe
    // must say present and the refusal path is not reachable.
    let support = ipvs_support().unwrap();
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        assert_eq!(support, IpvsSupport::Present);
        return;
    }
    assert!(matches!(support, IpvsSupport::Missing(_)), "{support:?}");
    let err = probe_ipvs(None).unwrap_err().to_string();
    let ns = Netns::new("ipvs");
    assert_eq!(probe_ipvs(Some(ns.path())).unwrap_err().to_string(), err);
    assert!(err.contains("CONFIG_IP_VS"), "{err}");
    assert!(err.contains("ip_vs"), "{err}");
    assert!(err.contains("\"IPVS\""), "{err}");
}

#[test]
fn kernel_local_addresses_lists_the_namespace_s_own() {
    let ns = Netns::new("addrs");
    ns.exec(&["ip", "link", "add", "d0", "type", "bridge"]);
    ns.exec(&["ip", "addr", "add", "10.77.0.1/24", "dev", "d0"]);
    let ips = podnet_iptables::local_addresses(Some(ns.path())).unwrap();
    let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
    assert!(ips.contains(&"10.77.0.1".to_owned()), "{ips:?}");
    assert!(ips.contains(&"127.0.0.1".to_owned()), "{ips:?}");
}
