//! kube-apiserver's ServiceAccount admission plugin, for pod creates: `serviceAccountName`
//! defaults to `default`; a pod naming a ServiceAccount that does not exist is refused
//! (Forbidden, upstream's words); and unless `automountServiceAccountToken` is false on the
//! pod (or, when the pod does not say, on the ServiceAccount) every container that has
//! nothing at `/var/run/secrets/kubernetes.io/serviceaccount` gets the `kube-api-access-XXXXX`
//! projected volume there, read-only: a bound token (3607 s), the cluster CA from the
//! `kube-root-ca.crt` ConfigMap, and the namespace.

use ring::rand::SecureRandom as _;
use serde_json::{Value, json};

use crate::App;
use crate::error::ApiError;
use crate::resources::ResourceType;
use podnet_apiserver_store::meta;

/// Where the token volume is mounted (upstream's `DefaultAPITokenMountPath`).
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token volume's name prefix (upstream's `ServiceAccountVolumeName`).
const VOLUME_PREFIX: &str = "kube-api-access-";
/// Upstream's `WarnOnlyBoundTokenExpirationSeconds`: one hour and seven seconds.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// The characters of generated name suffixes (`utilrand.String`: no vowels, no 0, 1, 3).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Admits a pod about to be created in `namespace`.
pub fn admit(app: &App, namespace: &str, pod: &mut Value) -> Result<(), ApiError> {
    // Mirror pods (static pods of a kubelet) are left alone, as upstream.
    if pod["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string() {
        return Ok(());
    }
    let spec = &mut pod["spec"];
    let account = match spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        Some(name) => name.to_owned(),
        None => "default".to_owned(),
    };
    spec["serviceAccountName"] = json!(account);
    spec["serviceAccount"] = json!(account);
    let rt = ResourceType::find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    let found = app
        .store
        .get(&rt.store_resource().key(namespace, &account))
        .map_err(|_| {
            ApiError::Forbidden(format!(
                "pods \"{}\" is forbidden: error looking up service account {namespace}/{account}: \
                 serviceaccount \"{account}\" not found",
                meta::name(pod)
            ))
        })?;
    let automount = pod["spec"]["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| found["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(&mut pod["spec"], &random_suffix());
    }
    Ok(())
}

/// Adds the token volume (named `kube-api-access-{suffix}` unless the pod already has one)
/// to every container without a mount at [`TOKEN_MOUNT_PATH`], and the volume itself when
/// any container took it.
pub fn mount_token(spec: &mut Value, suffix: &str) {
    let existing = spec["volumes"].as_array().and_then(|vs| {
        vs.iter()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with(VOLUME_PREFIX))
            .map(str::to_owned)
    });
    let name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec[list].as_array_mut() else {
            continue;
        };
        for c in containers {
            let taken = c["volumeMounts"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH));
            if taken {
                continue;
            }
            let mount = json!({"name": name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
            match c["volumeMounts"].as_array_mut() {
                Some(ms) => ms.push(mount),
                None => c["volumeMounts"] = json!([mount]),
            }
            needed = true;
        }
    }
    if needed && existing.is_none() {
        let volume = json!({"name": name, "projected": {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}});
        match spec["volumes"].as_array_mut() {
            Some(vs) => vs.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
}

/// Five characters of upstream's name alphabet.
fn random_suffix() -> String {
    let mut bytes = [0u8; 5];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system RNG works");
    bytes
        .iter()
        .map(|b| NAME_ALPHABET[*b as usize % NAME_ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_without_a_mount_there_gets_the_token_volume() {
        let mut spec = json!({
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "b", "volumeMounts": [{"name": "own", "mountPath": TOKEN_MOUNT_PATH}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]});
        mount_token(&mut spec, "x7k2q");
        let mount = json!({"name": "kube-api-access-x7k2q", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(spec["containers"][0]["volumeMounts"][1], mount);
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let volume = &spec["volumes"][1];
        assert_eq!(volume["name"], "kube-api-access-x7k2q");
        assert_eq!(volume["projected"]["defaultMode"], 420);
        let sources = &volume["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        assert_eq!(
            sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
    }

    #[test]
    fn an_existing_token_volume_is_reused_and_nothing_is_added_when_no_container_needs_it() {
        let mut spec = json!({
            "containers": [{"name": "a"}],
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": []}}]});
        mount_token(&mut spec, "zzzzz");
        assert_eq!(
            spec["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-abcde"
        );
        assert_eq!(spec["volumes"].as_array().unwrap().len(), 1);
        let mut spec = json!({"containers": [{"name": "a", "volumeMounts": [{"name": "t", "mountPath": TOKEN_MOUNT_PATH}]}]});
        mount_token(&mut spec, "zzzzz");
        assert!(spec["volumes"].is_null());
    }

    #[test]
    fn suffixes_use_upstreams_alphabet() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| NAME_ALPHABET.contains(&b)), "{s}");
    }
}
