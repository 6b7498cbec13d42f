//! What `podnet install` applies, in order: CRDs first (so that a later object of their
//! kinds finds them), then deploy/'s files, then the gateway's. The files are built into
//! the binary; `--set` rewrites keys of the podnet-config ConfigMap.

use anyhow::{Context, bail};
use serde_json::Value;

use crate::lab::gateway::{GATEWAY, GATEWAY_API_CRDS};
use crate::lab::manifest::{self, Object};

/// deploy/, in the order they are applied.
const DEPLOY: &[(&str, &str)] = &[
    (
        "loadbalancerippools.podnet.io.yaml",
        include_str!("../../../../deploy/loadbalancerippools.podnet.io.yaml"),
    ),
    (
        crate::lab::network_policy_api::FILE,
        crate::lab::network_policy_api::CRD,
    ),
    (
        "podnet-config.yaml",
        include_str!("../../../../deploy/podnet-config.yaml"),
    ),
    (
        "podnet-agent.yaml",
        include_str!("../../../../deploy/podnet-agent.yaml"),
    ),
    ("podnet-dns.yaml", crate::lab::addons::KUBE_DNS),
];

/// Every object to apply, with `sets` (`proxy-mode=iptables`) written into podnet-config.
pub fn objects(sets: &[String], gateway: bool) -> anyhow::Result<Vec<Object>> {
    let mut out = Vec::new();
    for (file, text) in DEPLOY {
        out.extend(manifest::parse(file, text)?);
    }
    if gateway {
        for (file, text) in GATEWAY_API_CRDS {
            out.extend(manifest::parse(file, text)?);
        }
        out.extend(manifest::parse("gateway.yaml", GATEWAY)?);
    }
    let config = out
        .iter_mut()
        .find(|o| o.kind() == "ConfigMap" && o.name() == "podnet-config")
        .context("deploy/ has no podnet-config ConfigMap")?;
    for set in sets {
        apply_set(&mut config.value["data"], set)?;
    }
    // CRDs before everything else, keeping each group's order.
    out.sort_by_key(|o| o.kind() != "CustomResourceDefinition");
    Ok(out)
}

/// `proxy-mode=iptables` (or `PODNET_PROXY_MODE=iptables`) into the ConfigMap's data,
/// refusing keys it does not have.
fn apply_set(data: &mut Value, set: &str) -> anyhow::Result<()> {
    let Some((key, value)) = set.split_once('=') else {
        bail!("--set {set:?}: expected KEY=VALUE");
    };
    let env = if key.starts_with("PODNET_") {
        key.to_owned()
    } else {
        format!("PODNET_{}", key.replace('-', "_").to_uppercase())
    };
    let Some(slot) = data.get_mut(&env) else {
        let known: Vec<String> = data
            .as_object()
            .map(|m| {
                m.keys()
                    .map(|k| {
                        k.trim_start_matches("PODNET_")
                            .replace('_', "-")
                            .to_lowercase()
                    })
                    .collect()
            })
            .unwrap_or_default();
        bail!("--set {key}: not an option (options: {})", known.join(", "));
    };
    *slot = Value::String(value.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_come_first_and_no_lab_placeholder_is_left() {
        let objects = objects(&[], true).unwrap();
        let first_other = objects
            .iter()
            .position(|o| o.kind() != "CustomResourceDefinition")
            .unwrap();
        assert!(
            objects[first_other..]
                .iter()
                .all(|o| o.kind() != "CustomResourceDefinition")
        );
        for o in &objects {
            let text = o.value.to_string();
            assert!(!text.contains("{{"), "{} keeps a placeholder", o.source);
        }
        for kind in [
            "DaemonSet",
            "Deployment",
            "Service",
            "ClusterRole",
            "PodDisruptionBudget",
        ] {
            assert!(objects.iter().any(|o| o.kind() == kind), "{kind}");
        }
    }

    #[test]
    fn sets_write_the_configmap_and_unknown_keys_are_refused() {
        let objects = objects(
            &["proxy-mode=iptables".into(), "PODNET_MTU=1400".into()],
            false,
        )
        .unwrap();
        let config = objects
            .iter()
            .find(|o| o.name() == "podnet-config")
            .unwrap();
        assert_eq!(config.value["data"]["PODNET_PROXY_MODE"], "iptables");
        assert_eq!(config.value["data"]["PODNET_MTU"], "1400");
        assert!(!objects.iter().any(|o| o.name() == "podnet-gateway"));
        let Err(err) = super::objects(&["proxy=ipvs".into()], false) else {
            panic!("an unknown key was taken");
        };
        assert!(err.to_string().contains("proxy-mode"), "{err}");
        assert!(super::objects(&["mtu".into()], false).is_err());
    }
}
