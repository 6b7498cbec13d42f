//! Building one plugin's stdin from the list, as libcni's `buildOneConfig` does.

use podnet_cni_spec::{CniResult, CniVersion};
use serde_json::{Map, Value};

/// The plugin's own config with the list's `name` and `cniVersion` injected (overriding
/// whatever the plugin entry says), `prevResult` rendered in the list's version, and a
/// `runtimeConfig` holding only the capability arguments the plugin declared.
pub(crate) fn build(
    plugin: &Value,
    name: &str,
    version: CniVersion,
    prev_result: Option<&CniResult>,
    capability_args: Option<&Map<String, Value>>,
) -> Vec<u8> {
    let mut conf = inject_common(plugin, name, version);
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.to_json(version));
    }
    if let Some(caps) = capability_args {
        let runtime_config = declared_capabilities(plugin, caps);
        if !runtime_config.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(runtime_config));
        }
    }
    serde_json::to_vec(&conf).expect("json serializes")
}

/// The plugin's config with only `name` and `cniVersion` injected (GC and STATUS), plus
/// `extra` keys.
pub(crate) fn build_plain(
    plugin: &Value,
    name: &str,
    version: CniVersion,
    extra: impl IntoIterator<Item = (String, Value)>,
) -> Vec<u8> {
    let mut conf = inject_common(plugin, name, version);
    conf.extend(extra);
    serde_json::to_vec(&conf).expect("json serializes")
}

fn inject_common(plugin: &Value, name: &str, version: CniVersion) -> Map<String, Value> {
    let mut conf = plugin.as_object().cloned().unwrap_or_default();
    conf.insert("name".into(), Value::String(name.to_owned()));
    conf.insert("cniVersion".into(), Value::String(version.to_string()));
    conf
}

/// The capability arguments whose key the plugin lists as `true` in `capabilities`.
fn declared_capabilities(plugin: &Value, caps: &Map<String, Value>) -> Map<String, Value> {
    let Some(declared) = plugin.get("capabilities").and_then(Value::as_object) else {
        return Map::new();
    };
    caps.iter()
        .filter(|(k, _)| declared.get(*k).and_then(Value::as_bool) == Some(true))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps() -> Map<String, Value> {
        json!({
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
            "bandwidth": {"ingressRate": 1000000},
            "mac": "aa:bb:cc:dd:ee:ff",
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn decode(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn injects_name_and_version_over_the_plugin_entry() {
        let plugin =
            json!({"type": "bridge", "name": "stale", "cniVersion": "0.3.1", "bridge": "br0"});
        let conf = decode(&build(&plugin, "pods", CniVersion::V1_0_0, None, None));
        assert_eq!(conf["name"], "pods");
        assert_eq!(conf["cniVersion"], "1.0.0");
        assert_eq!(conf["bridge"], "br0");
        assert!(conf.get("prevResult").is_none());
        assert!(conf.get("runtimeConfig").is_none());
    }

    #[test]
    fn runtime_config_holds_only_declared_capabilities() {
        let plugin =
            json!({"type": "portmap", "capabilities": {"portMappings": true, "mac": false}});
        let conf = decode(&build(
            &plugin,
            "n",
            CniVersion::V1_0_0,
            None,
            Some(&caps()),
        ));
        assert_eq!(
            conf["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
        );
    }

    #[test]
    fn no_declared_capability_means_no_runtime_config() {
        let plugin = json!({"type": "bridge", "runtimeConfig": {"keep": 1}});
        let conf = decode(&build(
            &plugin,
            "n",
            CniVersion::V1_0_0,
            None,
            Some(&caps()),
        ));
        // A static runtimeConfig in the file is left as it is when nothing is injected.
        assert_eq!(conf["runtimeConfig"], json!({"keep": 1}));
    }

    #[test]
    fn prev_result_is_rendered_in_the_list_version() {
        let prev: CniResult = serde_json::from_value(json!({
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "eth0", "sandbox": "/run/netns/p", "mtu": 1400}],
            "ips": [{"address": "10.0.0.2/24", "interface": 0}]
        }))
        .unwrap();
        let conf = decode(&build(
            &json!({"type": "x"}),
            "n",
            CniVersion::V0_4_0,
            Some(&prev),
            None,
        ));
        assert_eq!(conf["prevResult"]["cniVersion"], "0.4.0");
        assert_eq!(conf["prevResult"]["ips"][0]["version"], "4");
        assert!(conf["prevResult"]["interfaces"][0].get("mtu").is_none());
    }
}
