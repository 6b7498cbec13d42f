//! A container's environment and argv, as the kubelet builds them (`makeEnvironmentVariables`):
//! a default PATH and HOSTNAME, then `envFrom` (ConfigMaps and Secrets, with a prefix), then
//! `env` in order — a later one of the same name replaces an earlier one, and each value may
//! use `$(VAR)` of the variables before it and of the Service variables — then the Service
//! variables not already set. `command` and `args` are expanded with the result, then mapped
//! to argv by [`super::image`].

use std::collections::HashMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, EnvVarSource, Pod};

use super::ProcessSpec;
use super::service_env::service_env;
use crate::downward::{self, PodRuntime};
use crate::pod_objects::PodObjects;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the environment is made from besides the container's spec.
#[derive(Clone, Debug)]
pub(crate) struct EnvContext<'a> {
    pub runtime: PodRuntime<'a>,
    pub hostname: &'a str,
    pub podnet_exe: &'a Path,
    /// The Services, ConfigMaps and Secrets the pod refers to, read at container start.
    pub objects: &'a PodObjects,
}

// === impl EnvContext ===

impl<'a> EnvContext<'a> {
    /// The context of a pod on this node: the node's part comes from the kubelet's config.
    pub fn on_node(
        config: &'a crate::KubeletConfig,
        runtime: PodRuntime<'a>,
        hostname: &'a str,
        objects: &'a PodObjects,
    ) -> Self {
        Self {
            runtime,
            hostname,
            podnet_exe: &config.podnet_exe,
            objects,
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

/// Variables in order, each name once.
#[derive(Default)]
struct Vars(Vec<(String, String)>);

impl Vars {
    fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The container's variables, each name once.
fn environment(
    pod: &Pod,
    c: &Container,
    ctx: &EnvContext<'_>,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let services = service_env(&ctx.objects.services, namespace, links);
    let mut env = Vars::default();
    env.set("PATH", DEFAULT_PATH.into());
    env.set("HOSTNAME", ctx.hostname.into());
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let entries = if let Some(r) = &from.config_map_ref {
            ctx.objects
                .config_map_data(&r.name, r.optional.unwrap_or(false))?
        } else if let Some(r) = &from.secret_ref {
            ctx.objects
                .secret_data(&r.name, r.optional.unwrap_or(false))?
        } else {
            None
        };
        for (key, value) in entries.into_iter().flatten() {
            let name = format!("{prefix}{key}");
            if !is_env_var_name(&name) {
                tracing::warn!(container = %c.name, variable = %name, "skipping an envFrom key that is not a valid variable name");
                continue;
            }
            env.set(&name, String::from_utf8_lossy(&value).into_owned());
        }
    }
    for var in c.env.iter().flatten() {
        let value = match (
            var.value.as_deref().filter(|v| !v.is_empty()),
            &var.value_from,
        ) {
            (Some(v), _) => {
                let mut vars: HashMap<&str, &str> = services
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                vars.extend(env.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                expand(v, &vars)
            }
            (None, Some(from)) => match value_from(pod, c, from, namespace, ctx)? {
                Some(v) => v,
                // An optional reference to something missing sets nothing.
                None => continue,
            },
            (None, None) => String::new(),
        };
        env.set(&var.name, value);
    }
    for (name, value) in services {
        if env.get(&name).is_none() {
            env.set(&name, value);
        }
    }
    Ok(env.0)
}

/// A `valueFrom`'s value; None when an optional source is missing.
fn value_from(
    pod: &Pod,
    c: &Container,
    from: &EnvVarSource,
    namespace: &str,
    ctx: &EnvContext<'_>,
) -> Result<Option<String>, String> {
    let objects = ctx.objects;
    if let Some(f) = &from.field_ref {
        return downward::field(pod, &f.field_path, &ctx.runtime).map(Some);
    }
    if let Some(r) = &from.resource_field_ref {
        return downward::resource(c, r, &ctx.runtime).map(Some);
    }
    let (data, key, optional, kind) = if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional.unwrap_or(false);
        let data = objects.config_map_data(&r.name, optional)?;
        (data, &r.key, optional, ("ConfigMap", &r.name))
    } else if let Some(r) = &from.secret_key_ref {
        let optional = r.optional.unwrap_or(false);
        let data = objects.secret_data(&r.name, optional)?;
        (data, &r.key, optional, ("Secret", &r.name))
    } else {
        return Ok(Some(String::new()));
    };
    let Some(data) = data else {
        return Ok(None);
    };
    match data.get(key.as_str()) {
        Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
        None if optional => Ok(None),
        None => Err(format!(
            "couldn't find key {key} in {} {namespace}/{}",
            kind.0, kind.1
        )),
    }
}

/// Upstream's `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_var_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    name.chars()
        .next()
        .is_some_and(|c| ok(c) && !c.is_ascii_digit())
        && name.chars().all(ok)
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
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use serde_json::json;

    use super::*;

    fn pod(container: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "ns1", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [container]}
        }))
        .unwrap();
        let c = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, c)
    }

    fn objects() -> PodObjects {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "kubernetes", "namespace": "default"},
             "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}},
            {"metadata": {"name": "db", "namespace": "ns1"},
             "spec": {"clusterIP": "10.96.3.3", "ports": [{"port": 5432}]}}]))
        .unwrap();
        let cms: Vec<ConfigMap> = serde_json::from_value(json!([
            {"metadata": {"name": "settings"}, "data": {"MODE": "fast", "1bad": "x", "level": "3"}}]))
        .unwrap();
        let secrets: Vec<Secret> = serde_json::from_value(json!([
            {"metadata": {"name": "creds"}, "data": {"password": "czNjcjN0"}}]))
        .unwrap();
        PodObjects::for_test(services, cms, secrets)
    }

    fn run(p: &Pod, c: &Container, ips: &[IpAddr]) -> Result<ProcessSpec, String> {
        let objects = objects();
        let allocatable: BTreeMap<String, Quantity> = BTreeMap::new();
        let ctx = EnvContext {
            runtime: PodRuntime {
                pod_ips: ips,
                host_ip: "172.18.0.3".parse().unwrap(),
                allocatable: &allocatable,
            },
            hostname: "web-0",
            podnet_exe: Path::new("/usr/bin/podnet"),
            objects: &objects,
        };
        process_spec(p, c, &ctx)
    }

    fn get<'a>(spec: &'a ProcessSpec, k: &str) -> Option<&'a str> {
        assert!(
            spec.env.iter().filter(|(n, _)| n == k).count() <= 1,
            "{k} twice"
        );
        spec.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
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
        let spec = run(&p, &c, &ips).unwrap();
        assert_eq!(spec.argv, ["sh", "-c", "echo 10.244.1.7 $(NOPE) $(MY_IP)"]);
        assert_eq!(get(&spec, "POD_NAME"), Some("web-0"));
        assert_eq!(get(&spec, "APP"), Some("web"));
        assert_eq!(get(&spec, "NODE"), Some("node-1"));
        assert_eq!(get(&spec, "GREETING"), Some("hi web-0"));
        assert_eq!(spec.working_dir.as_deref(), Some("/tmp"));
    }

    #[test]
    fn service_variables_come_last_and_env_may_use_them() {
        let (p, c) = pod(json!({"name": "c", "image": "busybox", "command": ["true"],
            "env": [
                {"name": "DB_URL", "value": "postgres://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)"},
                {"name": "DB_SERVICE_PORT", "value": "6543"}]}));
        let spec = run(&p, &c, &[]).unwrap();
        assert_eq!(get(&spec, "DB_URL"), Some("postgres://10.96.3.3:5432"));
        assert_eq!(get(&spec, "DB_SERVICE_PORT"), Some("6543"), "env wins");
        assert_eq!(get(&spec, "KUBERNETES_SERVICE_HOST"), Some("10.96.0.1"));
        assert_eq!(
            get(&spec, "KUBERNETES_PORT_443_TCP_ADDR"),
            Some("10.96.0.1")
        );
        let (mut p, c) = pod(json!({"name": "c", "image": "busybox", "command": ["true"]}));
        p.spec.as_mut().unwrap().enable_service_links = Some(false);
        let spec = run(&p, &c, &[]).unwrap();
        assert_eq!(get(&spec, "DB_SERVICE_HOST"), None);
        assert_eq!(get(&spec, "KUBERNETES_SERVICE_PORT"), Some("443"));
    }

    #[test]
    fn config_maps_and_secrets_fill_env_and_env_from_with_prefix() {
        let (p, c) = pod(json!({"name": "c", "image": "busybox", "command": ["true"],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                        {"secretRef": {"name": "creds"}}],
            "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                {"name": "APP_level", "value": "override"},
                {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                {"name": "NOKEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k", "optional": true}}}]}));
        let spec = run(&p, &c, &[]).unwrap();
        assert_eq!(get(&spec, "PW"), Some("s3cr3t"));
        assert_eq!(get(&spec, "password"), Some("s3cr3t"));
        assert_eq!(get(&spec, "MODE"), Some("fast"));
        assert_eq!(get(&spec, "APP_MODE"), Some("fast"));
        assert_eq!(get(&spec, "APP_level"), Some("override"));
        assert_eq!(get(&spec, "APP_1bad"), Some("x"), "valid once prefixed");
        assert_eq!(get(&spec, "GONE"), None);
        assert_eq!(get(&spec, "NOKEY"), None);
    }

    #[test]
    fn missing_objects_and_keys_fail_with_upstreams_words() {
        let failing = |env: serde_json::Value| {
            let (p, c) =
                pod(json!({"name": "c", "image": "busybox", "command": ["true"], "env": [env]}));
            run(&p, &c, &[]).unwrap_err()
        };
        assert_eq!(
            failing(
                json!({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}})
            ),
            "configmap \"nope\" not found"
        );
        assert_eq!(
            failing(
                json!({"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}})
            ),
            "couldn't find key user in Secret ns1/creds"
        );
        assert_eq!(
            failing(
                json!({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}})
            ),
            "couldn't find key k in ConfigMap ns1/settings"
        );
        let (p, c) = pod(json!({"name": "c", "image": "busybox", "command": ["true"],
            "envFrom": [{"secretRef": {"name": "absent"}}]}));
        assert_eq!(run(&p, &c, &[]).unwrap_err(), "secret \"absent\" not found");
    }

    #[test]
    fn agnhost_runs_the_builtin_through_podnet_workload_with_info_logs() {
        let (p, c) = pod(
            json!({"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec", "--http-port=8080"]}),
        );
        let spec = run(&p, &c, &[]).unwrap();
        assert_eq!(
            spec.argv,
            ["/usr/bin/podnet", "workload", "netexec", "--http-port=8080"]
        );
        assert!(spec.env.contains(&("RUST_LOG".into(), "info".into())));
    }
}
