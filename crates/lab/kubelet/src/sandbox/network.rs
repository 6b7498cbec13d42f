//! The pod's network through the CNI runtime library and the node's network list (the first
//! by file name in the conf dir, as the CRI runtimes pick it), attached as `eth0` with the
//! CNI_ARGS the kubelet's runtime passes and `portMappings` for the containers' hostPorts.

use std::net::IpAddr;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use podnet_base::IfName;
use podnet_cni_runtime::{CniConfig, NetworkList, RuntimeConf};
use podnet_cni_spec::CniArgs;
use serde_json::{Map, Value, json};

use crate::config::KubeletConfig;
use crate::error::{Error, Result};
use crate::state::PodRecord;

pub(crate) const POD_IFNAME: &str = "eth0";

/// The node's CNI setup.
#[derive(Clone, Debug)]
pub(crate) struct Network {
    cni: CniConfig,
    conf_dir: PathBuf,
}

/// One pod's attachment: what CNI ADD and DEL are called with.
#[derive(Clone, Debug)]
pub(crate) struct Attachment {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub netns: Option<PathBuf>,
    pub port_mappings: Vec<Value>,
}

// === impl Network ===

impl Network {
    pub fn new(config: &KubeletConfig) -> Self {
        Self {
            cni: CniConfig::new(config.cni_bin_path.clone()).with_cache_dir(&config.cni_cache_dir),
            conf_dir: config.cni_conf_dir.clone(),
        }
    }

    /// The node's network list, read at each use so that a conflist written after the
    /// kubelet started is picked up.
    fn list(&self) -> Result<NetworkList> {
        let lists = podnet_cni_runtime::conf::load_all(&self.conf_dir).map_err(|e| {
            Error::NetworkConfig {
                dir: self.conf_dir.clone(),
                reason: e.to_string(),
            }
        })?;
        lists
            .into_iter()
            .next()
            .ok_or_else(|| Error::NetworkConfig {
                dir: self.conf_dir.clone(),
                reason: "no network config found".to_owned(),
            })
    }

    /// CNI ADD; returns the pod's IPs. Blocking: call from a blocking thread.
    pub fn add(&self, at: &Attachment) -> Result<Vec<IpAddr>> {
        let list = self.list()?;
        let rt = at.runtime_conf();
        match self.cni.add_network_list(&list, &rt) {
            Ok(result) => Ok(result.ips.iter().map(|ip| ip.address.addr()).collect()),
            Err(source) => {
                // libcni leaves the cleanup of a partial ADD to its caller.
                if let Err(error) = self.cni.del_network_list(&list, &rt) {
                    tracing::warn!(pod = %at.key(), %error, "CNI DEL after a failed ADD");
                }
                Err(Error::Cni {
                    pod: at.key(),
                    verb: "ADD",
                    source: Box::new(source),
                })
            }
        }
    }

    /// CNI DEL. Blocking: call from a blocking thread.
    pub fn del(&self, at: &Attachment) -> Result<()> {
        let list = self.list()?;
        self.cni
            .del_network_list(&list, &at.runtime_conf())
            .map_err(|source| Error::Cni {
                pod: at.key(),
                verb: "DEL",
                source: Box::new(source),
            })
    }
}

// === impl Attachment ===

impl Attachment {
    /// The attachment of a pod's sandbox as its record names it.
    pub fn of(record: &PodRecord) -> Self {
        Self {
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            uid: record.uid.clone(),
            netns: record.netns.as_deref().map(podnet_netns::path_of),
            port_mappings: record.port_mappings.clone(),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn runtime_conf(&self) -> RuntimeConf {
        let args = CniArgs(
            [
                ("IgnoreUnknown", "1"),
                ("K8S_POD_NAMESPACE", &self.namespace),
                ("K8S_POD_NAME", &self.name),
                ("K8S_POD_INFRA_CONTAINER_ID", &self.uid),
                ("K8S_POD_UID", &self.uid),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        let mut caps = Map::new();
        if !self.port_mappings.is_empty() {
            caps.insert(
                "portMappings".into(),
                Value::Array(self.port_mappings.clone()),
            );
        }
        // The pod's UID is its sandbox id: one sandbox per pod in the lab.
        RuntimeConf::new(
            &self.uid,
            self.netns.clone(),
            IfName::new(POD_IFNAME).expect("eth0 is a valid interface name"),
        )
        .with_args(args)
        .with_capability_args(caps)
    }
}

/// The `portMappings` capability argument: one entry per container port with a hostPort.
pub(crate) fn port_mappings(pod: &Pod) -> Vec<Value> {
    let containers = pod.spec.iter().flat_map(|s| &s.containers);
    containers
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let host_port = p.host_port.filter(|h| *h > 0)?;
            let mut m = json!({
                "hostPort": host_port,
                "containerPort": p.container_port,
                "protocol": p.protocol.as_deref().unwrap_or("TCP").to_lowercase(),
            });
            if let Some(ip) = p.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
                m["hostIP"] = ip.into();
            }
            Some(m)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_become_port_mappings_and_kubernetes_cni_args_are_passed() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns1", "uid": "u-1"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "172.18.0.2"},
                {"containerPort": 9090}]}]}
        }))
        .unwrap();
        let mut record = PodRecord::new("ns1", "web", "u-1");
        record.netns = Some("x".into());
        record.port_mappings = port_mappings(&pod);
        let at = Attachment::of(&record);
        assert_eq!(
            at.netns.as_deref(),
            Some(std::path::Path::new("/run/netns/x"))
        );
        assert_eq!(
            Value::Array(at.port_mappings.clone()),
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                   {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "172.18.0.2"}])
        );
        let rt = at.runtime_conf();
        assert_eq!(
            rt.args.render(),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=u-1;K8S_POD_UID=u-1"
        );
        assert_eq!(rt.container_id, "u-1");
        assert!(rt.capability_args.contains_key("portMappings"));
    }
}
