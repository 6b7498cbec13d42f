//! The `kube-root-ca.crt` ConfigMap in every namespace, holding the cluster CA that signs
//! the API server's certificate, as kube-controller-manager's root-ca-cert-publisher keeps
//! it: in-cluster clients read it (projected as `ca.crt`) to trust the API server.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::per_namespace::{self, Keep};

pub const NAME: &str = "kube-root-ca.crt";
pub const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver \
    when using internal endpoints such as the internal service IP or kubernetes.default.svc. \
    No other usage is guaranteed across distributions of Kubernetes clusters.";

pub fn config_map(namespace: &str, ca_pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(namespace.into()),
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/description".to_string(),
                DESCRIPTION.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(KEY.to_string(), ca_pem.to_string())])),
        ..Default::default()
    }
}

/// Only the bundle matters: other keys or annotations someone added are overwritten with it.
pub fn drifted(have: &ConfigMap, want: &ConfigMap) -> bool {
    have.data != want.data || have.binary_data.is_some()
}

pub async fn run(client: Client, ca_pem: String, shutdown: CancellationToken) -> Result<(), Error> {
    let keep = Keep {
        what: "root-ca-cert-publisher",
        name: NAME,
        want: Box::new(move |ns| config_map(ns, &ca_pem)),
        drifted,
    };
    per_namespace::run(client, keep, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_bundle_or_an_extra_key_is_drift_an_annotation_is_not() {
        let want = config_map("team-a", "PEM");
        let mut have = want.clone();
        have.metadata.annotations = None;
        assert!(!drifted(&have, &want));
        have.data = Some(BTreeMap::from([(KEY.into(), "OLD".into())]));
        assert!(drifted(&have, &want));
        let mut extra = want.clone();
        extra
            .data
            .as_mut()
            .unwrap()
            .insert("more".into(), "x".into());
        assert!(drifted(&extra, &want));
    }
}
