use std::time::Duration;

use podnet_dns_records::PodMode;

use super::*;

#[test]
fn the_default_corefile_parses_as_coredns_reads_it() {
    let cf = Corefile::parse(
        DEFAULT_COREFILE
            .replace("/etc/resolv.conf", "127.0.0.53")
            .as_str(),
        53,
    )
    .unwrap();
    assert!(cf.warnings.is_empty(), "{:?}", cf.warnings);
    let s = &cf.servers[0];
    assert_eq!(s.port, 53);
    assert_eq!(s.zones, [Name::root()]);
    let k = s.kubernetes.as_ref().unwrap();
    assert_eq!(k.zone.pods, PodMode::Insecure);
    assert_eq!(k.zone.ttl, 30);
    assert_eq!(k.zone.zones, [Name::parse("cluster.local").unwrap()]);
    assert_eq!(k.zone.reverse.len(), 2);
    assert!(k.zone.falls_through(&Name::parse("in-addr.arpa").unwrap()));
    assert!(!k.zone.falls_through(&Name::parse("cluster.local").unwrap()));
    let f = s.forward.as_ref().unwrap();
    assert_eq!(f.to, ["127.0.0.53:53".parse().unwrap()]);
    assert_eq!(f.max_concurrent, 1000);
    let c = s.cache.as_ref().unwrap();
    assert_eq!(c.success.max_ttl, 30);
    assert_eq!(c.denial.max_ttl, 30);
    assert_eq!(c.success.capacity, 9984);
    assert_eq!(c.prefetch.unwrap().amount, 10);
    assert_eq!(s.health.unwrap().lameduck, Duration::from_secs(5));
    assert_eq!(s.health.unwrap().addr.port(), 8080);
    assert_eq!(s.ready.unwrap().port(), 8181);
    assert_eq!(s.prometheus.unwrap().port(), 9153);
    assert!(s.errors && s.loop_detect && s.loadbalance && s.reload.is_some());
}

#[test]
fn kubernetes_plugin_defaults_are_coredns_ones() {
    let cf = Corefile::parse("cluster.local:1053 {\n kubernetes\n}\n", 53).unwrap();
    let k = cf.kubernetes().unwrap();
    assert_eq!(k.zone.ttl, 5);
    assert_eq!(k.zone.pods, PodMode::Disabled);
    assert_eq!(k.zone.zones, [Name::parse("cluster.local").unwrap()]);
    assert_eq!(cf.servers[0].port, 1053);
}

#[test]
fn options_are_read() {
    let cf = Corefile::parse(
        r#"dns://.:5353 {
    bind 127.0.0.1
    kubernetes example.test 10.in-addr.arpa {
        pods verified
        ttl 7
        fallthrough
        endpoint_pod_names
        namespaces a b
    }
    forward . 192.0.2.1:5300 [2001:db8::1]:53 {
        except example.org
        policy sequential
        force_tcp
    }
    cache 60 example.com {
        success 100 40 2
        denial 50
        disable denial example.net
    }
    log
}"#,
        53,
    )
    .unwrap();
    let s = &cf.servers[0];
    assert_eq!(s.port, 5353);
    assert_eq!(s.bind, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    let k = &s.kubernetes.as_ref().unwrap().zone;
    assert_eq!(
        (k.pods, k.ttl, k.endpoint_pod_names),
        (PodMode::Verified, 7, true)
    );
    assert_eq!(k.fallthrough, Some(vec![]));
    assert_eq!(k.namespaces, ["a", "b"]);
    let f = s.forward.as_ref().unwrap();
    assert_eq!(f.to.len(), 2);
    assert_eq!(f.to[0].port(), 5300);
    assert_eq!(f.policy, Policy::Sequential);
    assert!(f.force_tcp);
    assert_eq!(f.except, [Name::parse("example.org").unwrap()]);
    let c = s.cache.as_ref().unwrap();
    assert_eq!(c.zones, [Name::parse("example.com").unwrap()]);
    assert_eq!(
        c.success,
        CacheClass {
            capacity: 100,
            max_ttl: 40,
            min_ttl: 2
        }
    );
    assert_eq!(c.denial.capacity, 50);
    assert_eq!(c.denial.max_ttl, 60);
    assert_eq!(c.disable_denial, [Name::parse("example.net").unwrap()]);
    assert!(s.log);
}

#[test]
fn unknown_plugins_are_warnings_naming_plugin_and_line() {
    let cf = Corefile::parse(
        ".:53 {\n  whoami\n  frobnicate 1 2\n  forward . 192.0.2.1\n}\n",
        53,
    )
    .unwrap();
    assert_eq!(cf.warnings.len(), 2, "{:?}", cf.warnings);
    assert!(
        cf.warnings[0].contains("line 2") && cf.warnings[0].contains("whoami"),
        "{:?}",
        cf.warnings
    );
    assert!(
        cf.warnings[1].contains("line 3") && cf.warnings[1].contains("frobnicate"),
        "{:?}",
        cf.warnings
    );
}

#[test]
fn invalid_values_are_errors_naming_line_and_directive() {
    for (text, line, directive) in [
        (
            ".:53 {\n kubernetes cluster.local {\n  ttl 99999\n }\n}",
            3,
            "kubernetes ttl",
        ),
        (
            ".:53 {\n kubernetes cluster.local {\n  pods maybe\n }\n}",
            3,
            "kubernetes pods",
        ),
        (
            ".:53 {\n kubernetes cluster.local {\n  colour blue\n }\n}",
            3,
            "kubernetes colour",
        ),
        (".:53 {\n forward . not-an-address\n}", 2, "forward"),
        (".:53 {\n forward .\n}", 2, "forward"),
        (
            ".:53 {\n cache 30 {\n  success lots\n }\n}",
            3,
            "cache success",
        ),
        (
            ".:53 {\n health {\n  lameduck soon\n }\n}",
            3,
            "health lameduck",
        ),
        (".:53 {\n prometheus nowhere:port\n}", 2, "prometheus"),
        (".:xx {\n}", 1, ".:xx"),
        (".:53 {\n errors\n", 1, "{"),
    ] {
        match Corefile::parse(text, 53) {
            Err(Error::Corefile {
                line: l,
                directive: d,
                ..
            }) => {
                assert_eq!((l, d.as_str()), (line, directive), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn forward_reads_nameservers_from_a_resolv_conf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resolv.conf");
    std::fs::write(
        &path,
        "search x\nnameserver 192.0.2.7\nnameserver 2001:db8::7\n",
    )
    .unwrap();
    let cf = Corefile::parse(&format!(".:53 {{\n forward . {}\n}}", path.display()), 53).unwrap();
    assert_eq!(cf.servers[0].forward.as_ref().unwrap().to.len(), 2);
}

#[test]
fn several_server_blocks_and_a_stub_domain() {
    let cf = Corefile::parse(
        "example.org {\n forward . 192.0.2.9\n}\n.:53 {\n kubernetes cluster.local\n forward . 192.0.2.1\n}\n",
        53,
    )
    .unwrap();
    assert_eq!(cf.servers.len(), 2);
    assert_eq!(cf.servers[0].port, 53, "default port");
    assert_eq!(cf.listeners().len(), 1, "one DNS address");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("5"), None);
}

/// The shipped manifest: its Corefile parses without warnings, its Service is the
/// cluster's DNS address with CoreDNS's port names, its probes hit the endpoints served.
#[test]
fn deploy_manifest_is_consistent() {
    let text = include_str!("../../../../../deploy/podnet-dns.yaml");
    let docs: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}"))
    };
    let corefile = find("ConfigMap")["data"]["Corefile"].as_str().unwrap();
    let cf = Corefile::parse(&corefile.replace("/etc/resolv.conf", "192.0.2.53"), 53).unwrap();
    assert!(cf.warnings.is_empty(), "{:?}", cf.warnings);
    let svc = find("Service");
    assert_eq!(svc["metadata"]["name"], "kube-dns");
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.10");
    let ports: Vec<(String, i64, String)> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["port"].as_i64().unwrap(),
                p["protocol"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            ("dns".into(), 53, "UDP".into()),
            ("dns-tcp".into(), 53, "TCP".into()),
            ("metrics".into(), 9153, "TCP".into())
        ]
    );
    let dep = find("Deployment");
    assert_eq!(dep["metadata"]["namespace"], "kube-system");
    let pod = &dep["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["k8s-app"], "kube-dns");
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/podnet/podnet:0.1.0");
    assert_eq!(c["args"][0], "dns");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(
        c["readinessProbe"]["httpGet"]["port"],
        cf.servers[0].ready.unwrap().port()
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(
        c["livenessProbe"]["httpGet"]["port"],
        cf.servers[0].health.unwrap().addr.port()
    );
}
