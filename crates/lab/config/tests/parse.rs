//! kind's v1alpha4 cluster config as the lab reads it: defaults, every field, and errors that
//! name the field's path.

use podnet_lab_config::{
    Bgp, ConfigError, IpFamily, KubeProxyMode, Protocol, Role, RoutingMode, parse,
};

const HEAD: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";

fn ok(body: &str) -> podnet_lab_config::Parsed {
    parse(&format!("{HEAD}{body}")).unwrap_or_else(|e| panic!("{e}"))
}

/// Every error message, `path: message`.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ConfigError::Invalid(errs)) => errs.iter().map(ToString::to_string).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn body_errors(body: &str) -> Vec<String> {
    errors(&format!("{HEAD}{body}"))
}

#[test]
fn empty_document_is_one_control_plane_and_two_workers() {
    let p = parse("").unwrap();
    assert_eq!(
        p.cluster.roles(),
        [Role::ControlPlane, Role::Worker, Role::Worker]
    );
    let net = &p.cluster.networking;
    assert_eq!(net.pod_subnets, ["10.244.0.0/16".parse().unwrap()]);
    assert_eq!(net.service_subnets, ["10.96.0.0/16".parse().unwrap()]);
    assert_eq!(net.kube_proxy_mode, KubeProxyMode::Nftables);
    assert_eq!(net.ip_family, IpFamily::Ipv4);
    assert_eq!(net.api_server_port, None);
    assert_eq!(net.api_server_address.to_string(), "127.0.0.1");
    assert!(!net.disable_default_cni);
    assert!(p.notes.is_empty());
}

#[test]
fn config_without_nodes_is_kinds_single_control_plane() {
    let p = ok("name: dev\n");
    assert_eq!(p.cluster.name.as_deref(), Some("dev"));
    assert_eq!(p.cluster.roles(), [Role::ControlPlane]);
}

#[test]
fn every_networking_field_is_read() {
    let p = ok(r#"
networking:
  ipFamily: ipv4
  apiServerAddress: 127.0.0.2
  apiServerPort: 16443
  podSubnet: 10.100.0.0/16
  serviceSubnet: 10.200.0.0/20
  disableDefaultCNI: true
  kubeProxyMode: iptables
  dnsSearch: [corp.example, example]
"#);
    let net = p.cluster.networking;
    assert_eq!(net.api_server_address.to_string(), "127.0.0.2");
    assert_eq!(net.api_server_port, Some(16443));
    assert_eq!(net.pod_subnets, ["10.100.0.0/16".parse().unwrap()]);
    assert_eq!(net.service_subnets, ["10.200.0.0/20".parse().unwrap()]);
    assert!(net.disable_default_cni);
    assert_eq!(net.kube_proxy_mode, KubeProxyMode::Iptables);
    assert_eq!(
        net.dns_search,
        Some(vec!["corp.example".into(), "example".into()])
    );
}

#[test]
fn each_kube_proxy_mode_is_accepted() {
    for (s, mode) in [
        ("nftables", KubeProxyMode::Nftables),
        ("iptables", KubeProxyMode::Iptables),
        ("ipvs", KubeProxyMode::Ipvs),
        ("none", KubeProxyMode::None),
    ] {
        let p = ok(&format!("networking:\n  kubeProxyMode: {s}\n"));
        assert_eq!(p.cluster.networking.kube_proxy_mode, mode);
    }
}

#[test]
fn routing_mode_is_podnets_own_key_defaulting_to_vxlan() {
    assert_eq!(ok("").cluster.networking.routing_mode, RoutingMode::Vxlan);
    let p = ok("networking:\n  routingMode: host-gw\n");
    assert_eq!(p.cluster.networking.routing_mode, RoutingMode::HostGw);
    assert_eq!(
        body_errors("networking:\n  routingMode: wireguard\n"),
        [
            "networking.routingMode: Unsupported value: \"wireguard\": supported values: \"vxlan\", \"host-gw\", \"bgp\""
        ]
    );
}

#[test]
fn routing_mode_bgp_brings_the_router_with_default_autonomous_systems() {
    let net = ok("networking:\n  routingMode: bgp\n").cluster.networking;
    assert_eq!(net.routing_mode, RoutingMode::Bgp);
    assert_eq!(
        net.bgp,
        Some(Bgp {
            router_asn: 64512,
            node_asn: 64513
        })
    );
    assert_eq!(ok("").cluster.networking.bgp, None);
}

#[test]
fn bgp_alone_asks_for_the_router_beside_any_routing_mode() {
    let net = ok("networking:\n  bgp:\n    routerASN: 65000\n    nodeASN: 4200000000\n")
        .cluster
        .networking;
    assert_eq!(net.routing_mode, RoutingMode::Vxlan);
    assert_eq!(
        net.bgp,
        Some(Bgp {
            router_asn: 65000,
            node_asn: 4_200_000_000
        })
    );
    assert_eq!(
        ok("networking:\n  bgp: {}\n").cluster.networking.bgp,
        Some(Bgp::default())
    );
}

#[test]
fn bgp_fields_are_checked_strictly() {
    assert_eq!(
        body_errors("networking:\n  bgp:\n    routerAsn: 1\n    nodeASN: 0\n"),
        [
            "networking.bgp.routerAsn: unknown field (did you mean \"routerASN\"?)",
            "networking.bgp.nodeASN: Invalid value: 0: must be between 1 and 4294967295, inclusive",
        ]
    );
    assert_eq!(
        body_errors("networking:\n  bgp:\n    routerASN: 64513\n"),
        [
            "networking.bgp.nodeASN: must differ from routerASN: the nodes peer with the router over eBGP"
        ]
    );
}

#[test]
fn ip_family_picks_kinds_default_subnets() {
    let v6 = ok("networking:\n  ipFamily: ipv6\n").cluster.networking;
    assert_eq!(v6.pod_subnets, ["fd00:10:244::/56".parse().unwrap()]);
    assert_eq!(v6.service_subnets, ["fd00:10:96::/112".parse().unwrap()]);
    let dual = ok("networking:\n  ipFamily: dual\n").cluster.networking;
    assert_eq!(dual.pod_subnets.len(), 2);
    assert_eq!(dual.service_subnets[0], "10.96.0.0/16".parse().unwrap());
    let given = ok("networking:\n  ipFamily: dual\n  podSubnet: 10.1.0.0/16,fd00:1::/56\n");
    assert_eq!(
        given.cluster.networking.pod_subnets[1],
        "fd00:1::/56".parse().unwrap()
    );
}

#[test]
fn api_server_port_zero_or_minus_one_means_pick_one() {
    for v in ["0", "-1"] {
        let p = ok(&format!("networking:\n  apiServerPort: {v}\n"));
        assert_eq!(p.cluster.networking.api_server_port, None);
    }
}

#[test]
fn nodes_roles_labels_and_port_mappings() {
    let p = ok(r#"
nodes:
- role: control-plane
  labels:
    ingress-ready: "true"
    topology.kubernetes.io/zone: a
- role: worker
  extraPortMappings:
  - containerPort: 30080
    hostPort: 8080
    listenAddress: 127.0.0.1
    protocol: UDP
- role: worker
"#);
    let nodes = &p.cluster.nodes;
    assert_eq!(
        p.cluster.roles(),
        [Role::ControlPlane, Role::Worker, Role::Worker]
    );
    assert_eq!(nodes[0].labels["ingress-ready"], "true");
    assert_eq!(nodes[0].labels["topology.kubernetes.io/zone"], "a");
    let m = &nodes[1].extra_port_mappings[0];
    assert_eq!((m.container_port, m.host_port), (30080, Some(8080)));
    assert_eq!(m.protocol, Protocol::Udp);
    assert_eq!(m.listen_address.to_string(), "127.0.0.1");
    let paths: Vec<_> = p.notes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, ["nodes[1].extraPortMappings"]);
}

#[test]
fn kind_only_keys_are_accepted_and_noted() {
    let p = ok(r#"
featureGates:
  InPlacePodVerticalScaling: true
runtimeConfig:
  api/alpha: "false"
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
containerdConfigPatches:
- |
  [plugins]
nodes:
- role: control-plane
  image: kindest/node:v1.33.1
  extraMounts:
  - hostPath: /tmp
    containerPath: /data
"#);
    let paths: Vec<_> = p.notes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "kubeadmConfigPatches",
            "containerdConfigPatches",
            "featureGates",
            "runtimeConfig",
            "nodes[0].image",
            "nodes[0].extraMounts",
        ]
    );
    assert!(
        p.notes[0].message.starts_with("ignored: "),
        "{:?}",
        p.notes[0]
    );
}

#[test]
fn unknown_field_is_reported_with_its_path() {
    assert_eq!(
        body_errors("networking:\n  podSubnt: 10.244.0.0/16\n"),
        ["networking.podSubnt: unknown field (did you mean \"podSubnet\"?)"]
    );
    assert_eq!(
        body_errors("nodes:\n- role: control-plane\n  taints: []\n"),
        ["nodes[0].taints: unknown field"]
    );
    assert_eq!(
        body_errors(
            "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    nodePort: 1\n"
        ),
        ["nodes[0].extraPortMappings[0].nodePort: unknown field"]
    );
    assert_eq!(
        body_errors("clusterName: x\n"),
        ["clusterName: unknown field"]
    );
}

#[test]
fn bad_values_are_named() {
    assert_eq!(
        body_errors("nodes:\n- role: master\n"),
        [
            "nodes[0].role: Unsupported value: \"master\": supported values: \"control-plane\", \"worker\""
        ]
    );
    assert_eq!(
        body_errors("networking:\n  kubeProxyMode: userspace\n"),
        [
            "networking.kubeProxyMode: Unsupported value: \"userspace\": supported values: \"nftables\", \"iptables\", \"ipvs\", \"none\""
        ]
    );
    assert_eq!(
        body_errors("networking:\n  apiServerPort: 70000\n"),
        ["networking.apiServerPort: Invalid value: 70000: must be between -1 and 65535, inclusive"]
    );
    assert_eq!(
        body_errors("networking:\n  apiServerPort: \"6443\"\n"),
        ["networking.apiServerPort: Invalid value: \"6443\": must be an integer"]
    );
    assert_eq!(
        body_errors("networking:\n  podSubnet: 10.244.0.0/33\n"),
        [
            "networking.podSubnet: Invalid value: \"10.244.0.0/33\": \"10.244.0.0/33\" is not a valid CIDR"
        ]
    );
    assert_eq!(
        body_errors("networking:\n  podSubnet: fd00::/56\n"),
        [
            "networking.podSubnet: Invalid value: \"fd00::/56\": must be one IPv4 CIDR for ipFamily ipv4"
        ]
    );
    assert_eq!(
        body_errors("networking:\n  serviceSubnet: 10.244.0.0/20\n"),
        [
            "networking.serviceSubnet: Invalid value: \"10.244.0.0/20\": overlaps podSubnet 10.244.0.0/16"
        ]
    );
    assert_eq!(
        body_errors("networking:\n  serviceSubnet: 10.0.0.0/8\n")[0],
        "networking.serviceSubnet: Invalid value: \"10.0.0.0/8\": too large: at most 20 bits of host part (/12 for this family)"
    );
    assert_eq!(
        body_errors("networking:\n  apiServerAddress: 0.0.0.0\n"),
        [
            "networking.apiServerAddress: Invalid value: \"0.0.0.0\": must be a loopback address: the lab's API server listens on this host only"
        ]
    );
    assert_eq!(
        body_errors("networking:\n  disableDefaultCNI: yes-please\n"),
        ["networking.disableDefaultCNI: Invalid value: \"yes-please\": must be true or false"]
    );
    assert_eq!(
        body_errors("name: My_Lab\n")[0],
        "name: Invalid value: \"My_Lab\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    );
    assert!(
        body_errors("nodes:\n- role: control-plane\n  labels:\n    bad key!: x\n")[0]
            .starts_with("nodes[0].labels.bad key!: Invalid value: \"bad key!\": name part")
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let errs = body_errors("nodes:\n- role: boss\n- rol: worker\nnetworking:\n  ipFamly: ipv4\n");
    assert_eq!(
        errs,
        [
            "nodes[0].role: Unsupported value: \"boss\": supported values: \"control-plane\", \"worker\"",
            "nodes[1].rol: unknown field (did you mean \"role\"?)",
            "nodes[1].role: Required value",
            "networking.ipFamly: unknown field (did you mean \"ipFamily\"?)",
        ]
    );
}

#[test]
fn kind_and_api_version_are_required_and_checked() {
    assert_eq!(
        errors("nodes: []\n"),
        [
            "kind: Required value: must be \"Cluster\"",
            "apiVersion: Required value: must be \"kind.x-k8s.io/v1alpha4\"",
        ]
    );
    assert_eq!(
        errors("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n"),
        [
            "apiVersion: Invalid value: \"kind.x-k8s.io/v1alpha3\": must be \"kind.x-k8s.io/v1alpha4\""
        ]
    );
}

#[test]
fn a_cluster_needs_a_control_plane_node() {
    assert_eq!(
        body_errors("nodes:\n- role: worker\n"),
        ["nodes: Required value: at least one node must have role \"control-plane\""]
    );
}

#[test]
fn pod_subnet_must_hold_a_node_cidr_per_node() {
    assert_eq!(
        body_errors("networking:\n  podSubnet: 10.244.0.0/25\n"),
        [
            "networking.podSubnet: Invalid value: \"10.244.0.0/25\": must be /24 or larger: each node gets a /24"
        ]
    );
    let errs = body_errors(
        "nodes:\n- role: control-plane\n- role: worker\n- role: worker\nnetworking:\n  podSubnet: 10.244.0.0/23\n",
    );
    assert_eq!(
        errs,
        [
            "networking.podSubnet: Invalid value: \"10.244.0.0/23\": holds fewer than 3 node CIDRs of /24"
        ]
    );
}

#[test]
fn invalid_yaml_is_a_yaml_error() {
    assert!(matches!(parse("kind: [Cluster"), Err(ConfigError::Yaml(_))));
}

#[test]
fn load_balancer_pool_is_podnets_own_key_on_the_node_network() {
    assert_eq!(
        ok("").cluster.networking.load_balancer_pool,
        ["172.18.255.200-172.18.255.250"]
    );
    let p = ok("networking:\n  loadBalancerPool: 172.18.254.0/28,172.18.253.1-172.18.253.9\n");
    assert_eq!(
        p.cluster.networking.load_balancer_pool,
        ["172.18.254.0/28", "172.18.253.1-172.18.253.9"]
    );
    assert_eq!(
        body_errors("networking:\n  loadBalancerPool: 10.0.0.0/28\n"),
        [
            "networking.loadBalancerPool: Invalid value: \"10.0.0.0/28\": \"10.0.0.0/28\" must be on the node network 172.18.0.0/16 outside 172.18.0.0/24 (the nodes answer ARP for it there)"
        ]
    );
}
