//! A container's environment and argv, as the kubelet builds them: a default PATH, HOSTNAME,
//! the `kubernetes` Service variables, then the spec's `env` in order (each value may use
//! `$(VAR)` of the ones before it), with the downward API's basic fieldRefs; `command` and
//! `args` are expanded with the result, then mapped to argv by [`super::image`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::ProcessSpec;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the environment is made from besides the spec.
#[derive(Clone, Debug)]
pub(crate) struct EnvContext<'a> {
    pub pod_ips: &'a [IpAddr],
    pub host_ip: IpAddr,
    pub hostname: &'a str,
    pub kubernetes_service: Option<(IpAddr, u16)>,
    pub podnet_exe: &'a Path,
}

impl<'a> EnvContext<'a> {
    /// The context of a pod on this node: the node's part comes from the kubelet's config.
    pub fn on_node(
        config: &'a crate::KubeletConfig,
        pod_ips: &'a [IpAddr],
        hostname: &'a str,
    ) -> Self {
        Self {
            pod_ips,
            host_ip: config.node_ip,
            hostname,
            kubernetes_service: config.kubernetes_service,
            podnet_exe: &config.podnet_exe,
        }
    }
}

/// The process a container runs, or the reason it cannot (upstream's
/// CreateContainerConfigError).
pub(crate) fn process_spec(
    pod: &Pod,
    c: &Container,
    ctx: &EnvContext<'_>,
) -> Result<ProcessSpec, String> {
    let env = environment(pod, c, ctx)?;
    let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expand_all = |v: &Option<Vec<String>>| -> Vec<String> {
        v.iter().flatten().map(|s| expand(s, &vars)).collect()
    };
    let (command, args) = (expand_all(&c.command), expand_all(&c.args));
    let mut env = env;
    let argv = super::image::argv(c, &command, &args, ctx.podnet_exe, &mut env)?;
    Ok(ProcessSpec {
        argv,
        env,
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
    })
}

/// The container's variables in order; a later one of the same name wins when exec'd.
fn environment(
    pod: &Pod,
    c: &Container,
    ctx: &EnvContext<'_>,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), ctx.hostname.into()),
    ];
    if let Some((ip, port)) = ctx.kubernetes_service {
        env.extend([
            ("KUBERNETES_SERVICE_HOST".into(), ip.to_string()),
            ("KUBERNETES_SERVICE_PORT".into(), port.to_string()),
            ("KUBERNETES_SERVICE_PORT_HTTPS".into(), port.to_string()),
            ("KUBERNETES_PORT".into(), format!("tcp://{ip}:{port}")),
        ]);
    }
    for var in c.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (_, Some(from)) => match &from.field_ref {
                Some(f) => field_ref(pod, &f.field_path, ctx).ok_or_else(|| {
                    format!("env {}: unsupported fieldRef {:?}", var.name, f.field_path)
                })?,
                // Resource limits are not enforced in the lab: report none set.
                None if from.resource_field_ref.is_some() => "0".to_owned(),
                None => {
                    return Err(format!(
                        "env {}: only value, fieldRef and resourceFieldRef are supported in the lab",
                        var.name
                    ));
                }
            },
            (Some(v), None) => {
                let vars: HashMap<&str, &str> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                expand(v, &vars)
            }
            (None, None) => String::new(),
        };
        env.push((var.name.clone(), value));
    }
    Ok(env)
}

/// The downward API's field paths the kubelet resolves for env.
fn field_ref(pod: &Pod, path: &str, ctx: &EnvContext<'_>) -> Option<String> {
    let meta = &pod.metadata;
    let join = |ips: &[IpAddr]| {
        ips.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let map_key = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_suffix("']")
            .map(str::to_owned)
    };
    Some(match path {
        "metadata.name" => meta.name.clone()?,
        "metadata.namespace" => meta.namespace.clone()?,
        "metadata.uid" => meta.uid.clone()?,
        "spec.nodeName" => pod.spec.as_ref()?.node_name.clone()?,
        "spec.serviceAccountName" => pod
            .spec
            .as_ref()?
            .service_account_name
            .clone()
            .unwrap_or_else(|| "default".into()),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.to_string(),
        "status.podIP" => ctx
            .pod_ips
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        "status.podIPs" => join(ctx.pod_ips),
        _ => {
            if let Some(key) = map_key("metadata.labels['") {
                meta.labels.as_ref()?.get(&key).cloned().unwrap_or_default()
            } else {
                let key = map_key("metadata.annotations['")?;
                meta.annotations
                    .as_ref()?
                    .get(&key)
                    .cloned()
                    .unwrap_or_default()
            }
        }
    })
}

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined reference
/// is kept as written, `$$` is a literal `$`.
pub(crate) fn expand(s: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&format!("$({name})")),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(container: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "ns1", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [container]}
        }))
        .unwrap();
        let c = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, c)
    }

    fn ctx<'a>(ips: &'a [IpAddr]) -> EnvContext<'a> {
        EnvContext {
            pod_ips: ips,
            host_ip: "172.18.0.3".parse().unwrap(),
            hostname: "web-0",
            kubernetes_service: Some(("10.96.0.1".parse().unwrap(), 443)),
            podnet_exe: Path::new("/usr/bin/podnet"),
        }
    }

    #[test]
    fn downward_api_fields_and_expansion_reach_env_and_args() {
        let ips = ["10.244.1.7".parse().unwrap()];
        let (p, c) = pod(json!({"name": "c", "image": "busybox",
            "command": ["sh", "-c", "echo $(MY_IP) $(NOPE) $$(MY_IP)"],
            "env": [
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "GREETING", "value": "hi $(POD_NAME)"}],
            "workingDir": "/tmp"}));
        let spec = process_spec(&p, &c, &ctx(&ips)).unwrap();
        assert_eq!(spec.argv, ["sh", "-c", "echo 10.244.1.7 $(NOPE) $(MY_IP)"]);
        let get = |k: &str| {
            spec.env
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("POD_NAME"), Some("web-0"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("NODE"), Some("node-1"));
        assert_eq!(get("GREETING"), Some("hi web-0"));
        assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.96.0.1"));
        assert_eq!(spec.working_dir.as_deref(), Some("/tmp"));
    }

    #[test]
    fn agnhost_runs_the_builtin_through_podnet_workload_with_info_logs() {
        let (p, c) = pod(
            json!({"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec", "--http-port=8080"]}),
        );
        let spec = process_spec(&p, &c, &ctx(&[])).unwrap();
        assert_eq!(
            spec.argv,
            ["/usr/bin/podnet", "workload", "netexec", "--http-port=8080"]
        );
        assert!(spec.env.contains(&("RUST_LOG".into(), "info".into())));
    }

    #[test]
    fn secret_refs_are_refused_with_the_variable_name() {
        let (p, c) = pod(json!({"name": "c", "image": "busybox", "command": ["true"],
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}));
        let err = process_spec(&p, &c, &ctx(&[])).unwrap_err();
        assert!(err.starts_with("env PW:"), "{err}");
    }
}
