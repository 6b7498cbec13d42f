//! The files a pod sees as its own: `/etc/resolv.conf` per dnsPolicy and dnsConfig, and the
//! kubelet-managed `/etc/hosts`, plus the pod's hostname. Pure: pod spec in, text out, in the
//! upstream kubelet's layout.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

/// Kubernetes' limits on resolv.conf (glibc's, and the kubelet's validation).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// What a ClusterFirst resolv.conf needs to know about the cluster.
#[derive(Clone, Debug)]
pub struct ClusterDns {
    pub nameserver: IpAddr,
    pub domain: String,
}

/// A parsed resolv.conf: the three directives pods care about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

// === impl ResolvConf ===

impl ResolvConf {
    /// Reads `nameserver`, `search`/`domain` and `options` lines; other lines are dropped.
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => out.nameservers.extend(words.next().map(str::to_owned)),
                Some("search" | "domain") => {
                    out.searches = words.map(str::to_owned).collect();
                }
                Some("options") => out.options.extend(words.map(str::to_owned)),
                _ => {}
            }
        }
        out
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

/// The pod's resolv.conf: ClusterFirst (the cluster's DNS, the namespace's search path,
/// `ndots:5`), Default (the node's `node_resolv`), None (dnsConfig alone); dnsConfig is merged
/// into each. A hostNetwork pod with ClusterFirst gets Default, as upstream; only
/// ClusterFirstWithHostNet gives it the cluster's DNS.
pub fn resolv_conf(pod: &Pod, cluster: &ClusterDns, node_resolv: &str) -> String {
    let spec = pod.spec.as_ref();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let cluster_first = ResolvConf {
        nameservers: vec![cluster.nameserver.to_string()],
        searches: vec![
            format!("{namespace}.svc.{}", cluster.domain),
            format!("svc.{}", cluster.domain),
            cluster.domain.clone(),
        ],
        options: vec!["ndots:5".to_owned()],
    };
    let mut conf = match policy {
        "None" => ResolvConf::default(),
        "ClusterFirstWithHostNet" => cluster_first,
        "ClusterFirst" if !host_network => cluster_first,
        _ => ResolvConf::parse(node_resolv),
    };
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        for ns in extra.nameservers.iter().flatten() {
            if !conf.nameservers.contains(ns) {
                conf.nameservers.push(ns.clone());
            }
        }
        for s in extra.searches.iter().flatten() {
            if !conf.searches.contains(s) {
                conf.searches.push(s.clone());
            }
        }
        for opt in extra.options.iter().flatten() {
            let Some(name) = opt.name.as_deref() else {
                continue;
            };
            let rendered = match &opt.value {
                Some(v) => format!("{name}:{v}"),
                None => name.to_owned(),
            };
            // An option given again replaces the earlier one of the same name.
            conf.options.retain(|o| o.split(':').next() != Some(name));
            conf.options.push(rendered);
        }
    }
    conf.nameservers.truncate(MAX_NAMESERVERS);
    conf.searches.truncate(MAX_SEARCHES);
    conf.render()
}

/// The pod's hostname (`spec.hostname`, else its name, at most 63 bytes) and, with a
/// `spec.subdomain`, its FQDN `<hostname>.<subdomain>.<ns>.svc.<domain>`.
pub fn hostname(pod: &Pod, domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.as_ref();
    let name = spec
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    // Upstream truncates long pod names and drops a trailing '-' or '.'.
    let mut short: String = name.chars().take(63).collect();
    while short.ends_with(['-', '.']) {
        short.pop();
    }
    let fqdn = spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())
        .map(|sub| {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            format!("{short}.{sub}.{ns}.svc.{domain}")
        });
    (short, fqdn)
}

/// The name set in the pod's UTS namespace: the FQDN with `setHostnameAsFQDN`, else the
/// short hostname.
pub fn uts_hostname(pod: &Pod, domain: &str) -> String {
    let (short, fqdn) = hostname(pod, domain);
    let as_fqdn = pod
        .spec
        .as_ref()
        .and_then(|s| s.set_hostname_as_fqdn)
        .unwrap_or(false);
    match fqdn {
        Some(f) if as_fqdn => f,
        _ => short,
    }
}

/// The kubelet-managed `/etc/hosts`: localhost lines, the pod's IPs with its hostname (and
/// FQDN), then the hostAliases. Without an IP yet, only the fixed part.
pub fn hosts(pod: &Pod, pod_ips: &[IpAddr], domain: &str) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    let (short, fqdn) = hostname(pod, domain);
    for ip in pod_ips {
        match &fqdn {
            Some(f) => out.push_str(&format!("{ip}\t{f}\t{short}\n")),
            None => out.push_str(&format!("{ip}\t{short}\n")),
        }
    }
    let aliases = pod.spec.as_ref().and_then(|s| s.host_aliases.as_ref());
    if let Some(aliases) = aliases.filter(|a| !a.is_empty()) {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.clone().unwrap_or_default();
            if !names.is_empty() {
                out.push_str(&format!("{}\t{}\n", alias.ip, names.join("\t")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "ns1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn cluster() -> ClusterDns {
        ClusterDns {
            nameserver: "10.96.0.10".parse().unwrap(),
            domain: "cluster.local".into(),
        }
    }

    const NODE: &str = "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n";

    #[test]
    fn cluster_first_points_at_kube_dns_with_the_namespace_search_path() {
        let p = pod(json!({"containers": []}));
        assert_eq!(
            resolv_conf(&p, &cluster(), NODE),
            "nameserver 10.96.0.10\n\
             search ns1.svc.cluster.local svc.cluster.local cluster.local\n\
             options ndots:5\n"
        );
    }

    #[test]
    fn default_and_host_network_cluster_first_get_the_node_file() {
        let p = pod(json!({"containers": [], "dnsPolicy": "Default"}));
        assert_eq!(resolv_conf(&p, &cluster(), NODE), NODE);
        let p = pod(json!({"containers": [], "hostNetwork": true}));
        assert_eq!(resolv_conf(&p, &cluster(), NODE), NODE);
        let p = pod(
            json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}),
        );
        assert!(resolv_conf(&p, &cluster(), NODE).starts_with("nameserver 10.96.0.10\n"));
    }

    #[test]
    fn none_takes_dns_config_and_options_override_by_name() {
        let p = pod(json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["1.2.3.4"], "searches": ["a.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}));
        assert_eq!(
            resolv_conf(&p, &cluster(), NODE),
            "nameserver 1.2.3.4\nsearch a.example\noptions ndots:2 edns0\n"
        );
        let p = pod(json!({"containers": [], "dnsConfig": {
            "options": [{"name": "ndots", "value": "1"}]}}));
        assert!(resolv_conf(&p, &cluster(), NODE).ends_with("options ndots:1\n"));
    }

    #[test]
    fn hosts_has_the_pod_ip_fqdn_and_aliases() {
        let p = pod(
            json!({"containers": [], "hostname": "h1", "subdomain": "sub",
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]}),
        );
        let text = hosts(&p, &["10.244.1.5".parse().unwrap()], "cluster.local");
        assert!(text.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(text.contains("10.244.1.5\th1.sub.ns1.svc.cluster.local\th1\n"));
        assert!(
            text.ends_with("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")
        );
        assert_eq!(uts_hostname(&p, "cluster.local"), "h1");
    }

    #[test]
    fn hostname_defaults_to_the_pod_name_and_fqdn_on_request() {
        let p = pod(json!({"containers": []}));
        assert_eq!(hostname(&p, "cluster.local"), ("web-0".into(), None));
        let p = pod(json!({"containers": [], "subdomain": "s", "setHostnameAsFQDN": true}));
        assert_eq!(
            uts_hostname(&p, "cluster.local"),
            "web-0.s.ns1.svc.cluster.local"
        );
    }
}
