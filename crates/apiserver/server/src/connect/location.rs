//! Where a streaming request goes (upstream's `ExecLocation`, `AttachLocation`,
//! `PortForwardLocation`, `LogLocation`): the container it names, checked against the pod
//! with kube-apiserver's errors, and the kubelet path and query on the pod's node. Pure.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use crate::error::ApiError;

/// The kubelet's port when a Node reports none.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// The streaming subresources of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Attach,
    PortForward,
    Log,
}

/// A request for a pod's streaming subresource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub kind: Kind,
    pub namespace: String,
    pub pod: String,
}

// === impl Stream ===

impl Stream {
    /// `/api/v1/namespaces/NS/pods/NAME/{exec,attach,portforward,log}`, else None.
    pub fn of_path(path: &str) -> Option<Stream> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let ["api", "v1", "namespaces", namespace, "pods", pod, sub] = segs.as_slice() else {
            return None;
        };
        let kind = match *sub {
            "exec" => Kind::Exec,
            "attach" => Kind::Attach,
            "portforward" => Kind::PortForward,
            "log" => Kind::Log,
            _ => return None,
        };
        Some(Stream {
            kind,
            namespace: namespace.to_string(),
            pod: pod.to_string(),
        })
    }

    /// The kubelet's path and query for this request on `pod`, given the client's query.
    pub fn kubelet_path(
        &self,
        pod: &Value,
        query: &[(String, String)],
    ) -> Result<String, ApiError> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (ns, name) = (&self.namespace, &self.pod);
        let mut out = form_urlencoded::Serializer::new(String::new());
        let path = match self.kind {
            Kind::Exec | Kind::Attach => {
                let container = container(pod, name, param("container"))?;
                for flag in ["stdin", "stdout", "stderr", "tty"] {
                    if matches!(param(flag), Some("true" | "1")) {
                        out.append_pair(flag, "1");
                    }
                }
                if self.kind == Kind::Exec {
                    for (_, c) in query.iter().filter(|(k, _)| k == "command") {
                        out.append_pair("command", c);
                    }
                }
                let sub = if self.kind == Kind::Exec {
                    "exec"
                } else {
                    "attach"
                };
                format!("/{sub}/{ns}/{name}/{container}")
            }
            Kind::PortForward => {
                for (_, p) in query.iter().filter(|(k, _)| k == "ports") {
                    out.append_pair("port", p);
                }
                format!("/portForward/{ns}/{name}")
            }
            Kind::Log => {
                let container = container(pod, name, param("container"))?;
                for key in [
                    "follow",
                    "previous",
                    "timestamps",
                    "sinceSeconds",
                    "sinceTime",
                    "tailLines",
                    "limitBytes",
                ] {
                    if let Some(v) = param(key) {
                        out.append_pair(key, v);
                    }
                }
                format!("/containerLogs/{ns}/{name}/{container}")
            }
        };
        if pod["spec"]["nodeName"].as_str().unwrap_or("").is_empty() {
            return Err(ApiError::BadRequest(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let query = out.finish();
        Ok(if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        })
    }
}

/// The container a request means: the one given (it must be the pod's, an init or an
/// ephemeral container), else the pod's only container.
fn container(pod: &Value, name: &str, given: Option<&str>) -> Result<String, ApiError> {
    let names = |field: &str| -> Vec<&str> {
        pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    match given.filter(|g| !g.is_empty()) {
        Some(c)
            if containers.contains(&c)
                || init.contains(&c)
                || names("ephemeralContainers").contains(&c) =>
        {
            Ok(c.to_owned())
        }
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => match containers.as_slice() {
            [only] => Ok((*only).to_owned()),
            [] => Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}"
            ))),
            many => {
                let mut message = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    many.join(" ")
                );
                if !init.is_empty() {
                    message += &format!(" or one of the init containers: [{}]", init.join(" "));
                }
                Err(ApiError::BadRequest(message))
            }
        },
    }
}

/// The kubelet's address from its Node: the InternalIP (else the first address that is
/// an IP) and `status.daemonEndpoints.kubeletEndpoint.Port`.
pub fn kubelet_addr(node: &Value) -> Result<SocketAddr, ApiError> {
    let name = node["metadata"]["name"].as_str().unwrap_or("");
    let addresses: Vec<(&str, IpAddr)> = node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["type"].as_str()?, a["address"].as_str()?.parse().ok()?)))
        .collect();
    let ip = addresses
        .iter()
        .find(|(t, _)| *t == "InternalIP")
        .or_else(|| addresses.first())
        .map(|(_, ip)| *ip)
        .ok_or_else(|| ApiError::BadRequest(format!("node {name} has no address")))?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"metadata": {"name": "web"}, "spec": {"nodeName": "kind-worker",
            "containers": list(containers), "initContainers": list(init)}})
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn streaming_paths_are_recognised() {
        let s = Stream::of_path("/api/v1/namespaces/ns1/pods/web/exec").unwrap();
        assert_eq!((s.kind, &*s.namespace, &*s.pod), (Kind::Exec, "ns1", "web"));
        assert_eq!(
            Stream::of_path("/api/v1/namespaces/ns1/pods/web/log")
                .unwrap()
                .kind,
            Kind::Log
        );
        assert_eq!(
            Stream::of_path("/api/v1/namespaces/ns1/pods/web/status"),
            None
        );
        assert_eq!(Stream::of_path("/api/v1/namespaces/ns1/pods/web"), None);
    }

    #[test]
    fn exec_goes_to_the_kubelet_with_upstream_params() {
        let s = Stream::of_path("/api/v1/namespaces/ns1/pods/web/exec").unwrap();
        let path = s
            .kubelet_path(
                &pod(&["c"], &[]),
                &q(&[
                    ("command", "sh"),
                    ("command", "-c"),
                    ("command", "exit 3"),
                    ("stdin", "true"),
                    ("stdout", "true"),
                    ("tty", "false"),
                ]),
            )
            .unwrap();
        assert_eq!(
            path,
            "/exec/ns1/web/c?stdin=1&stdout=1&command=sh&command=-c&command=exit+3"
        );
    }

    #[test]
    fn the_container_must_be_named_when_there_are_several() {
        let s = Stream::of_path("/api/v1/namespaces/ns1/pods/web/log").unwrap();
        let err = s
            .kubelet_path(&pod(&["a", "b"], &["init"]), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [init]"
        );
        let err = s
            .kubelet_path(&pod(&["a"], &[]), &q(&[("container", "x")]))
            .unwrap_err();
        assert_eq!(err.to_string(), "container x is not valid for pod web");
        let ok = s
            .kubelet_path(
                &pod(&["a", "b"], &[]),
                &q(&[("container", "b"), ("follow", "true")]),
            )
            .unwrap();
        assert_eq!(ok, "/containerLogs/ns1/web/b?follow=true");
    }

    #[test]
    fn an_unscheduled_pod_has_no_kubelet() {
        let s = Stream::of_path("/api/v1/namespaces/ns1/pods/web/exec").unwrap();
        let mut p = pod(&["c"], &[]);
        p["spec"]["nodeName"] = json!(null);
        let err = s.kubelet_path(&p, &q(&[("command", "ls")])).unwrap_err();
        assert_eq!(err.to_string(), "pod web does not have a host assigned");
    }

    #[test]
    fn kubelet_address_from_the_node_status() {
        let node = json!({"metadata": {"name": "n"}, "status": {
            "addresses": [{"type": "Hostname", "address": "n"},
                          {"type": "InternalIP", "address": "172.18.0.3"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        assert_eq!(
            kubelet_addr(&node).unwrap(),
            "172.18.0.3:10250".parse().unwrap()
        );
        let bare = json!({"metadata": {"name": "n"}, "status": {}});
        assert_eq!(
            kubelet_addr(&bare).unwrap_err().to_string(),
            "node n has no address"
        );
    }
}
