use podnet_cni_spec::{CniArgs, ErrorCode};
use serde_json::json;

use super::*;

fn parse(ipam: serde_json::Value) -> Result<IpamConfig, Error> {
    parse_with(json!({ "ipam": ipam }), "")
}

fn parse_with(mut conf: serde_json::Value, cni_args: &str) -> Result<IpamConfig, Error> {
    conf["cniVersion"] = json!("1.1.0");
    conf["name"] = json!("net1");
    let stdin = serde_json::to_vec(&conf).unwrap();
    IpamConfig::parse(&stdin, "net1", &CniArgs::parse(cni_args).unwrap())
}

/// The error's message, asserting it is the spec's "invalid network config".
fn config_error(ipam: serde_json::Value) -> String {
    let err = parse(ipam).unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_NETWORK_CONFIG, "{err}");
    err.to_string()
}

#[test]
fn defaults_follow_host_local() {
    let c = parse(json!({"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}]]})).unwrap();
    let r = &c.range_sets[0].ranges[0];
    assert_eq!(r.start.to_string(), "10.1.0.1");
    assert_eq!(r.end.to_string(), "10.1.0.254");
    assert_eq!(r.gateway.to_string(), "10.1.0.1");
    assert_eq!(c.network_dir, Path::new("/var/lib/cni/networks/net1"));
    assert_eq!(c.range_sets[0].field, "ipam.ranges[0]");
}

#[test]
fn legacy_range_becomes_the_first_set() {
    let c = parse(json!({
        "subnet": "10.2.0.0/16", "rangeStart": "10.2.1.10", "rangeEnd": "10.2.1.20", "gateway": "10.2.0.254",
        "ranges": [[{"subnet": "fd00::/64"}]], "dataDir": "/tmp/x"
    }))
    .unwrap();
    assert_eq!(c.range_sets.len(), 2);
    assert_eq!(c.range_sets[0].field, "ipam");
    let r = &c.range_sets[0].ranges[0];
    assert_eq!(
        (r.start.to_string(), r.end.to_string()),
        ("10.2.1.10".into(), "10.2.1.20".into())
    );
    assert_eq!(r.gateway.to_string(), "10.2.0.254");
    assert_eq!(c.network_dir, Path::new("/tmp/x/net1"));
}

#[test]
fn a_bad_address_names_its_field() {
    let msg = config_error(
        json!({"ranges": [[{"subnet": "10.9.0.0/24"}, {"subnet": "10.9.1.0/24", "rangeStart": "10.9.0.300"}]]}),
    );
    assert_eq!(
        msg,
        "ipam.ranges[0][1].rangeStart: 10.9.0.300 is not an IP address"
    );
}

#[test]
fn range_bounds_and_gateway_must_lie_in_the_subnet() {
    let msg =
        config_error(json!({"ranges": [[{"subnet": "10.9.0.0/24", "rangeStart": "10.9.1.5"}]]}));
    assert_eq!(
        msg,
        "ipam.ranges[0][0].rangeStart: 10.9.1.5 is outside subnet 10.9.0.0/24"
    );
    let msg = config_error(json!({"ranges": [[{"subnet": "10.9.0.0/24", "gateway": "10.8.0.1"}]]}));
    assert_eq!(
        msg,
        "ipam.ranges[0][0].gateway: 10.8.0.1 is outside subnet 10.9.0.0/24"
    );
    let msg = config_error(json!({"ranges": [[{"subnet": "10.9.0.0/24", "rangeEnd": "fd00::1"}]]}));
    assert!(
        msg.starts_with("ipam.ranges[0][0].rangeEnd: fd00::1 is IPv6"),
        "{msg}"
    );
    let msg = config_error(
        json!({"subnet": "10.9.0.0/24", "rangeStart": "10.9.0.50", "rangeEnd": "10.9.0.40"}),
    );
    assert_eq!(
        msg,
        "ipam.rangeEnd: 10.9.0.40 is before rangeStart 10.9.0.50"
    );
}

#[test]
fn subnets_are_checked() {
    let msg = config_error(json!({"ranges": [[{"subnet": "10.9.0.5/24"}]]}));
    assert_eq!(
        msg,
        "ipam.ranges[0][0].subnet: 10.9.0.5/24 has host bits set: the network is 10.9.0.0/24"
    );
    let msg = config_error(json!({"ranges": [[{"subnet": "10.9.0.0/31"}]]}));
    assert!(
        msg.starts_with("ipam.ranges[0][0].subnet: 10.9.0.0/31 is too small"),
        "{msg}"
    );
    let msg = config_error(json!({"ranges": [[{"subnet": "10.9.0.0"}]]}));
    assert!(
        msg.starts_with("ipam.ranges[0][0].subnet: 10.9.0.0 is not a subnet"),
        "{msg}"
    );
    let msg = config_error(json!({"ranges": [[{"rangeStart": "10.9.0.5"}]]}));
    assert_eq!(msg, "ipam.ranges[0][0].subnet: required");
}

#[test]
fn missing_ranges_are_named() {
    assert_eq!(
        config_error(json!({"type": "podnet-ipam"})),
        "ipam.ranges: required: at least one range set (or the legacy ipam.subnet)"
    );
    assert_eq!(
        config_error(json!({"ranges": [[]]})),
        "ipam.ranges[0]: a range set needs at least one range"
    );
    assert!(config_error(json!({"rangeStart": "10.0.0.4"})).starts_with("ipam.subnet: required"));
    let err = parse_with(json!({"type": "x"}), "").unwrap_err();
    assert_eq!(err.to_string(), "ipam: required");
}

#[test]
fn overlapping_ranges_are_refused_within_and_across_sets() {
    let msg =
        config_error(json!({"ranges": [[{"subnet": "10.9.0.0/24"}, {"subnet": "10.9.0.0/16"}]]}));
    assert!(
        msg.starts_with(
            "ipam.ranges[0][1]: 10.9.0.0/16 (10.9.0.1-10.9.255.254) overlaps ipam.ranges[0][0]"
        ),
        "{msg}"
    );
    let msg =
        config_error(json!({"subnet": "10.9.0.0/24", "ranges": [[{"subnet": "10.9.0.0/25"}]]}));
    assert!(
        msg.starts_with(
            "ipam.ranges[0][0]: 10.9.0.0/25 (10.9.0.1-10.9.0.126) overlaps ipam 10.9.0.0/24"
        ),
        "{msg}"
    );
    // Disjoint ranges of one subnet are fine.
    parse(json!({"ranges": [
        [{"subnet": "10.9.0.0/24", "rangeEnd": "10.9.0.100"}],
        [{"subnet": "10.9.0.0/24", "rangeStart": "10.9.0.101"}]
    ]}))
    .unwrap();
}

#[test]
fn a_range_set_holds_one_family() {
    let msg =
        config_error(json!({"ranges": [[{"subnet": "10.9.0.0/24"}, {"subnet": "fd00::/64"}]]}));
    assert_eq!(
        msg,
        "ipam.ranges[0][1]: fd00::/64 is IPv6 but ipam.ranges[0][0] is IPv4: a range set holds one address family"
    );
}

#[test]
fn type_errors_are_decode_failures_with_a_path() {
    let err = parse(json!({"ranges": [[{"subnet": 5}]]})).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DECODE_FAILURE);
    assert!(
        err.to_string().contains("ipam.ranges[0][0].subnet"),
        "{err}"
    );
}

#[test]
fn requested_ips_come_from_every_source_and_match_their_set() {
    let conf = json!({
        "ipam": {"ranges": [[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]]},
        "args": {"cni": {"ips": ["fd00::9/64"]}},
        "runtimeConfig": {"ips": ["10.1.0.7"]}
    });
    let c = parse_with(conf.clone(), "IgnoreUnknown=1;IP=10.1.0.7").unwrap();
    assert_eq!(c.requested.len(), 2);
    assert_eq!(c.requested_in(0).unwrap().source, "CNI_ARGS IP");
    assert_eq!(c.requested_in(1).unwrap().ip.to_string(), "fd00::9");
    assert_eq!(c.requested_in(1).unwrap().source, "args.cni.ips[0]");

    let err = parse_with(conf.clone(), "IP=10.1.0.8").unwrap_err();
    assert_eq!(
        err.to_string(),
        "runtimeConfig.ips[0]: requested IP 10.1.0.7 and 10.1.0.8 (from CNI_ARGS IP) are both in ipam.ranges[0]: one address per range set"
    );
    let err = parse_with(conf.clone(), "IP=10.2.0.1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "CNI_ARGS IP: requested IP 10.2.0.1 is outside every range (ipam.ranges[0], ipam.ranges[1])"
    );
    let err = parse_with(conf, "IP=nonsense").unwrap_err();
    assert_eq!(
        err.to_string(),
        "CNI_ARGS IP: nonsense is not an IP address"
    );
}

#[test]
fn the_store_location_needs_no_valid_ranges() {
    let stdin = br#"{"cniVersion":"1.1.0","name":"n","type":"x","ipam":{"ranges":"broken","dataDir":"/d"}}"#;
    assert_eq!(
        IpamConfig::parse_network_dir(stdin, "n").unwrap(),
        Path::new("/d/n")
    );
}
