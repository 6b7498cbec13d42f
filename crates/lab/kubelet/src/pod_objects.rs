//! The API objects a pod's environment and volumes are made from: the Services (for their
//! environment variables), and the ConfigMaps and Secrets the pod names in `env`, `envFrom`
//! and its volumes. Read through the kubelet's client when a container starts and when
//! volumes are refreshed; a missing object is remembered as missing, so that `optional`
//! references resolve and the others fail with upstream's words.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::ListParams;
use kube::{Api, Client};

use crate::error::{Error, Result, is_not_found};

/// The data of a ConfigMap or Secret: bytes by key.
pub(crate) type Data = BTreeMap<String, Vec<u8>>;

/// The objects a pod refers to, as read at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodObjects {
    /// The pod namespace's Services (when it uses service links) and `default/kubernetes`.
    pub services: Vec<Service>,
    /// By name in the pod's namespace; None when it does not exist.
    config_maps: BTreeMap<String, Option<ConfigMap>>,
    secrets: BTreeMap<String, Option<Secret>>,
}

// === impl PodObjects ===

impl PodObjects {
    /// Reads the objects `pod` refers to, and the Services when `with_services` (for env).
    pub async fn fetch(client: &Client, pod: &Pod, with_services: bool) -> Result<Self> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let (config_maps, secrets) = referenced(pod);
        let mut objects = PodObjects::default();
        let links = pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        if with_services && links {
            let api: Api<Service> = Api::namespaced(client.clone(), namespace);
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| Error::api(format!("list services in {namespace}"), e))?;
            objects.services = list.items;
        }
        if with_services && (namespace != "default" || !links) {
            let api: Api<Service> = Api::namespaced(client.clone(), "default");
            if let Some(svc) = get_opt(&api, "kubernetes", "service").await? {
                objects.services.push(svc);
            }
        }
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        for name in config_maps {
            let found = get_opt(&api, &name, "configmap").await?;
            objects.config_maps.insert(name, found);
        }
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for name in secrets {
            let found = get_opt(&api, &name, "secret").await?;
            objects.secrets.insert(name, found);
        }
        Ok(objects)
    }

    /// A ConfigMap's `data` for env, None when it is missing and `optional`; upstream's
    /// `configmap "NAME" not found` when it is missing and not.
    pub fn config_map_data(&self, name: &str, optional: bool) -> Result<Option<Data>, String> {
        match self.config_maps.get(name).cloned().flatten() {
            Some(cm) => Ok(Some(
                cm.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect(),
            )),
            None if optional => Ok(None),
            None => Err(format!("configmap \"{name}\" not found")),
        }
    }

    /// A ConfigMap's files for a volume: `data` and `binaryData`.
    pub fn config_map_files(&self, name: &str, optional: bool) -> Result<Option<Data>, String> {
        let Some(mut files) = self.config_map_data(name, optional)? else {
            return Ok(None);
        };
        if let Some(Some(cm)) = self.config_maps.get(name) {
            for (k, v) in cm.binary_data.iter().flatten() {
                files.insert(k.clone(), v.0.clone());
            }
        }
        Ok(Some(files))
    }

    /// A Secret's `data` (and `stringData`, should a server keep it), as
    /// [`Self::config_map_data`].
    pub fn secret_data(&self, name: &str, optional: bool) -> Result<Option<Data>, String> {
        match self.secrets.get(name).cloned().flatten() {
            Some(s) => {
                let mut data: Data = s
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                for (k, v) in s.string_data.unwrap_or_default() {
                    data.insert(k, v.into_bytes());
                }
                Ok(Some(data))
            }
            None if optional => Ok(None),
            None => Err(format!("secret \"{name}\" not found")),
        }
    }

    #[cfg(test)]
    pub fn for_test(
        services: Vec<Service>,
        config_maps: Vec<ConfigMap>,
        secrets: Vec<Secret>,
    ) -> Self {
        let by_name = |name: &Option<String>| name.clone().unwrap_or_default();
        Self {
            services,
            config_maps: config_maps
                .into_iter()
                .map(|c| (by_name(&c.metadata.name), Some(c)))
                .collect(),
            secrets: secrets
                .into_iter()
                .map(|s| (by_name(&s.metadata.name), Some(s)))
                .collect(),
        }
    }
}

async fn get_opt<K>(api: &Api<K>, name: &str, kind: &str) -> Result<Option<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(obj) => Ok(Some(obj)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(Error::api(format!("get {kind} {name}"), e)),
    }
}

/// The names of the ConfigMaps and Secrets `pod` refers to (containers' env and envFrom,
/// volumes, projected sources).
pub(crate) fn referenced(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    let Some(spec) = pod.spec.as_ref() else {
        return (cms, secrets);
    };
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    for c in containers {
        for from in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &from.config_map_key_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &from.secret_key_ref {
                secrets.insert(r.name.clone());
            }
        }
        for from in c.env_from.iter().flatten() {
            if let Some(r) = &from.config_map_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &from.secret_ref {
                secrets.insert(r.name.clone());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.insert(name);
        }
        let sources = v.projected.iter().flat_map(|p| p.sources.iter().flatten());
        for s in sources {
            if let Some(cm) = &s.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(secret) = &s.secret {
                secrets.insert(secret.name.clone());
            }
        }
    }
    (cms, secrets)
}
