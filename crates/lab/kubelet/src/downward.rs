//! The downward API's values (pure), shared by `env` (`fieldRef`, `resourceFieldRef`) and
//! by downwardAPI volumes: the pod's own fields as the kubelet resolves them
//! (`podFieldSelectorRuntimeValue`, then `fieldpath.ExtractFieldPathAsString`), and a
//! container's resources in units of a divisor, its unset limits defaulting to the node's
//! allocatable as upstream.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// What a pod's fields resolve against besides its object: its IPs and its node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PodRuntime<'a> {
    pub pod_ips: &'a [IpAddr],
    pub host_ip: IpAddr,
    /// The node's allocatable resources: the value of a limit the container does not set.
    pub allocatable: &'a BTreeMap<String, Quantity>,
}

/// The value of `fieldRef.fieldPath`, or upstream's error for a path it does not support.
pub(crate) fn field(pod: &Pod, path: &str, rt: &PodRuntime<'_>) -> Result<String, String> {
    let spec = pod.spec.as_ref();
    let join = |ips: &[IpAddr]| {
        ips.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let meta = &pod.metadata;
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_suffix("']")
            .map(str::to_owned)
    };
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);
    Ok(match path {
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" => rt.host_ip.to_string(),
        "status.hostIPs" => rt.host_ip.to_string(),
        "status.podIP" => rt
            .pod_ips
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        "status.podIPs" => join(rt.pod_ips),
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(labels),
        "metadata.annotations" => format_map(annotations),
        _ => {
            if let Some(key) = subscript("metadata.labels['") {
                labels.get(&key).cloned().unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations['") {
                annotations.get(&key).cloned().unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldPath: {path}"));
            }
        }
    })
}

/// Upstream's `FormatMap`: `key="value"` lines in key order, values quoted as Go's `%q`.
pub(crate) fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `strconv.Quote` for the characters labels and annotations hold.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of `resourceFieldRef` for container `c`: the resource in units of the divisor,
/// rounded up (cpu in millicores before dividing, as upstream).
pub(crate) fn resource(
    c: &Container,
    selector: &ResourceFieldSelector,
    rt: &PodRuntime<'_>,
) -> Result<String, String> {
    let (kind, name) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", selector.resource))?;
    let resources = c.resources.as_ref();
    let limit = |n: &str| {
        resources
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get(n))
            .or_else(|| rt.allocatable.get(n))
    };
    let quantity = match kind {
        "limits" => limit(name),
        // An unset request is the limit's (API defaulting) or, without one either, zero.
        "requests" => resources
            .and_then(|r| r.requests.as_ref())
            .and_then(|q| q.get(name))
            .or_else(|| resources.and_then(|r| r.limits.as_ref()?.get(name))),
        _ => None,
    };
    let unsupported = || format!("unsupported container resource : {}", selector.resource);
    if !matches!(kind, "limits" | "requests") {
        return Err(unsupported());
    }
    let value = match quantity {
        Some(q) => parse_quantity(&q.0).ok_or_else(unsupported)?,
        None => 0.0,
    };
    let divisor = match &selector.divisor {
        Some(d) => parse_quantity(&d.0)
            .filter(|d| *d > 0.0)
            .ok_or_else(unsupported)?,
        None => 1.0,
    };
    let units = if name == "cpu" {
        // Upstream divides millicores by the divisor's millicores.
        (value * 1000.0).ceil() / (divisor * 1000.0).ceil()
    } else {
        value / divisor
    };
    Ok(format!("{}", units.ceil() as i64))
}

/// A Kubernetes quantity (`500m`, `1.5`, `64Mi`, `2G`, `1e3`) as a number.
pub(crate) fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "ns1", "uid": "u-1",
                "labels": {"tier": "front", "app": "web"},
                "annotations": {"note": "say \"hi\"\nthere"}},
            "spec": {"nodeName": "node-1", "serviceAccountName": "builder", "containers": [
                {"name": "c", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}]}
        }))
        .unwrap()
    }

    fn allocatable() -> BTreeMap<String, Quantity> {
        [("cpu", "2"), ("memory", "8Gi")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
            .collect()
    }

    #[test]
    fn pod_fields_resolve_as_the_kubelet_does() {
        let ips = ["10.244.1.7".parse().unwrap(), "fd00::7".parse().unwrap()];
        let alloc = allocatable();
        let rt = PodRuntime {
            pod_ips: &ips,
            host_ip: "172.18.0.3".parse().unwrap(),
            allocatable: &alloc,
        };
        let p = pod();
        let f = |path: &str| field(&p, path, &rt);
        assert_eq!(f("metadata.name").unwrap(), "web-0");
        assert_eq!(f("metadata.uid").unwrap(), "u-1");
        assert_eq!(f("spec.serviceAccountName").unwrap(), "builder");
        assert_eq!(f("status.podIP").unwrap(), "10.244.1.7");
        assert_eq!(f("status.podIPs").unwrap(), "10.244.1.7,fd00::7");
        assert_eq!(f("status.hostIP").unwrap(), "172.18.0.3");
        assert_eq!(f("metadata.labels['app']").unwrap(), "web");
        assert_eq!(f("metadata.labels['absent']").unwrap(), "");
        assert_eq!(f("metadata.labels").unwrap(), "app=\"web\"\ntier=\"front\"");
        assert_eq!(
            f("metadata.annotations").unwrap(),
            "note=\"say \\\"hi\\\"\\nthere\""
        );
        assert_eq!(
            f("spec.hostname").unwrap_err(),
            "unsupported fieldPath: spec.hostname"
        );
    }

    #[test]
    fn resources_divide_rounding_up_and_unset_limits_are_the_nodes() {
        let alloc = allocatable();
        let rt = PodRuntime {
            pod_ips: &[],
            host_ip: "172.18.0.3".parse().unwrap(),
            allocatable: &alloc,
        };
        let p = pod();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let r = |name: &str, divisor: Option<&str>| {
            let sel = ResourceFieldSelector {
                resource: name.into(),
                divisor: divisor.map(|d| Quantity(d.into())),
                container_name: None,
            };
            resource(c, &sel, &rt).unwrap()
        };
        assert_eq!(r("limits.memory", Some("1Mi")), "64");
        assert_eq!(r("limits.memory", None), "67108864");
        assert_eq!(r("requests.cpu", Some("1m")), "250");
        assert_eq!(r("requests.cpu", None), "1", "0.25 cores round up to 1");
        assert_eq!(r("limits.cpu", None), "2", "the node's allocatable");
        assert_eq!(r("requests.memory", None), "67108864", "the limit's");
    }

    #[test]
    fn quantities_parse_with_decimal_and_binary_suffixes() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("2Ki"), Some(2048.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("3G"), Some(3e9));
        assert_eq!(parse_quantity("x"), None);
    }
}
