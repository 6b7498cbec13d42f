//! Service environment variables (pure), as the kubelet computes them at container start:
//! every Service of the pod's namespace when `enableServiceLinks` (the default), and always
//! the `kubernetes` Service of `default`; Services without a cluster IP (headless,
//! ExternalName) are skipped. For each: `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT` (the first
//! port), `{SVC}_SERVICE_PORT_{NAME}` per named port, and Docker's link variables
//! (`{SVC}_PORT`, `{SVC}_PORT_{port}_{PROTO}` with `_PROTO`, `_PORT`, `_ADDR`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

/// The Services whose variables are always given, from the `default` namespace.
const MASTER_SERVICES: &[&str] = &["kubernetes"];

/// The variables of `services` (any namespaces; those that do not apply are skipped) for a
/// pod in `namespace`, by name.
pub(crate) fn service_env(
    services: &[Service],
    namespace: &str,
    enable_service_links: bool,
) -> BTreeMap<String, String> {
    let mut chosen: BTreeMap<&str, &Service> = BTreeMap::new();
    for svc in services.iter().filter(|s| cluster_ip(s).is_some()) {
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
        if ns == "default" && MASTER_SERVICES.contains(&name) {
            chosen.entry(name).or_insert(svc);
        } else if ns == namespace && enable_service_links {
            chosen.insert(name, svc);
        }
    }
    chosen.values().flat_map(|s| variables(s)).collect()
}

/// The ClusterIP when it is set (not empty, not `None`).
fn cluster_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .as_ref()?
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

/// Upstream's `makeEnvVariableName`.
fn env_name(s: &str) -> String {
    s.replace('-', "_").to_uppercase()
}

fn variables(svc: &Service) -> Vec<(String, String)> {
    let (Some(ip), Some(spec)) = (cluster_ip(svc), svc.spec.as_ref()) else {
        return vec![];
    };
    let ports = spec.ports.as_deref().unwrap_or_default();
    let Some(first) = ports.first() else {
        return vec![];
    };
    let prefix = env_name(svc.metadata.name.as_deref().unwrap_or_default());
    let mut out = vec![
        (format!("{prefix}_SERVICE_HOST"), ip.to_owned()),
        (format!("{prefix}_SERVICE_PORT"), first.port.to_string()),
    ];
    for p in ports {
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((
                format!("{prefix}_SERVICE_PORT_{}", env_name(name)),
                p.port.to_string(),
            ));
        }
    }
    let host = |port: i32| match ip.contains(':') {
        true => format!("[{ip}]:{port}"),
        false => format!("{ip}:{port}"),
    };
    for (i, p) in ports.iter().enumerate() {
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        let (lower, upper) = (protocol.to_lowercase(), protocol.to_uppercase());
        let url = format!("{lower}://{}", host(p.port));
        if i == 0 {
            // Docker special-cases the first port.
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{}_{upper}", p.port);
        out.extend([
            (format!("{port_prefix}_PROTO"), lower),
            (format!("{port_prefix}_PORT"), p.port.to_string()),
            (format!("{port_prefix}_ADDR"), ip.to_owned()),
            (port_prefix, url),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(ns: &str, name: &str, spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec}))
            .unwrap()
    }

    fn cluster() -> Vec<Service> {
        vec![
            svc(
                "default",
                "kubernetes",
                json!({"clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}),
            ),
            svc(
                "ns1",
                "my-web",
                json!({"clusterIP": "10.96.5.5", "ports": [
                {"name": "http", "port": 80},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"}]}),
            ),
            svc(
                "ns1",
                "headless",
                json!({"clusterIP": "None", "ports": [{"port": 80}]}),
            ),
            svc(
                "ns1",
                "outside",
                json!({"type": "ExternalName", "externalName": "example.com"}),
            ),
            svc(
                "ns2",
                "elsewhere",
                json!({"clusterIP": "10.96.9.9", "ports": [{"port": 80}]}),
            ),
        ]
    }

    #[test]
    fn namespace_services_and_kubernetes_give_upstreams_variables() {
        let env = service_env(&cluster(), "ns1", true);
        let expected: BTreeMap<String, String> = [
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
            ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
            ("KUBERNETES_PORT_443_TCP_PORT", "443"),
            ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
            ("MY_WEB_SERVICE_HOST", "10.96.5.5"),
            ("MY_WEB_SERVICE_PORT", "80"),
            ("MY_WEB_SERVICE_PORT_HTTP", "80"),
            ("MY_WEB_SERVICE_PORT_DNS_UDP", "53"),
            ("MY_WEB_PORT", "tcp://10.96.5.5:80"),
            ("MY_WEB_PORT_80_TCP", "tcp://10.96.5.5:80"),
            ("MY_WEB_PORT_80_TCP_PROTO", "tcp"),
            ("MY_WEB_PORT_80_TCP_PORT", "80"),
            ("MY_WEB_PORT_80_TCP_ADDR", "10.96.5.5"),
            ("MY_WEB_PORT_53_UDP", "udp://10.96.5.5:53"),
            ("MY_WEB_PORT_53_UDP_PROTO", "udp"),
            ("MY_WEB_PORT_53_UDP_PORT", "53"),
            ("MY_WEB_PORT_53_UDP_ADDR", "10.96.5.5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn without_service_links_only_kubernetes_remains() {
        let env = service_env(&cluster(), "ns1", false);
        assert!(env.keys().all(|k| k.starts_with("KUBERNETES_")), "{env:?}");
        assert_eq!(env.len(), 8);
    }

    #[test]
    fn a_kubernetes_service_of_the_pods_namespace_wins_over_defaults() {
        let mut services = cluster();
        services.push(svc(
            "ns1",
            "kubernetes",
            json!({"clusterIP": "10.96.7.7", "ports": [{"port": 8080}]}),
        ));
        let env = service_env(&services, "ns1", true);
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.96.7.7");
        let ipv6 = vec![svc(
            "ns1",
            "v6",
            json!({"clusterIP": "fd00::5", "ports": [{"port": 80}]}),
        )];
        assert_eq!(
            service_env(&ipv6, "ns1", true)["V6_PORT"],
            "tcp://[fd00::5]:80"
        );
    }
}
