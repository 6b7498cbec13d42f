//! A CNI plugin's stdin (the network config with its prevResult and runtimeConfig) and the
//! `CNI_ARGS` string into every decoder podnet-cni and podnet-ipam run on them: nothing
//! panics, every refusal says what is wrong, a prevResult read back from the result it
//! renders in 1.1.0 is the same result (and every older format reads back too), and
//! `CNI_ARGS` round-trips.

use podnet_cni_ipam::IpamConfig;
use podnet_cni_plugin::config::BridgeConf;
use podnet_cni_spec::{CniArgs, CniResult, CniVersion, NetConf};

/// One input; panics on what the input must not break.
pub fn cni_config(data: &[u8]) {
    // CNI_ARGS is the text up to the first NUL, the config what follows it.
    let (args_raw, stdin) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b""[..], data),
    };
    let args = match std::str::from_utf8(args_raw).map(CniArgs::parse) {
        Ok(Ok(args)) => {
            let again = CniArgs::parse(&args.render()).expect("rendered CNI_ARGS parse");
            assert_eq!(again, args, "CNI_ARGS round-trips");
            args
        }
        Ok(Err(e)) => {
            assert!(!e.msg.is_empty());
            CniArgs::default()
        }
        Err(_) => CniArgs::default(),
    };

    let conf = match NetConf::decode(stdin) {
        Ok((conf, _version)) => conf,
        Err(e) => {
            assert!(!e.msg.is_empty(), "a refused config says why");
            return;
        }
    };
    let _ = conf.ipam_type();
    let _ = conf.runtime_config_key("portMappings");
    match conf.prev_result() {
        Ok(Some(prev)) => round_trip(&prev),
        Ok(None) => {}
        Err(e) => assert!(
            e.msg.contains("prevResult"),
            "names the document: {}",
            e.msg
        ),
    }
    if let Err(e) = BridgeConf::decode(stdin) {
        assert!(!e.msg.is_empty(), "a refused bridge config says why");
    }
    if let Err(e) = IpamConfig::parse(stdin, &conf.name, &args) {
        assert!(!e.to_string().is_empty(), "a refused ipam config says why");
    }
    let _ = IpamConfig::parse_network_dir(stdin, &conf.name);
}

fn round_trip(prev: &CniResult) {
    let latest = prev.to_json(CniVersion::LATEST);
    let back: CniResult = serde_json::from_value(latest).expect("a rendered result reads back");
    assert_eq!(&back, prev, "a 1.1.0 result round-trips");
    for version in CniVersion::ALL {
        let doc = prev.to_json(version);
        let _: CniResult = serde_json::from_value(doc)
            .unwrap_or_else(|e| panic!("the {version} rendering reads back: {e}"));
    }
}
