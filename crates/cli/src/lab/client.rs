//! The built-in client: a kube-rs client for a running lab, the lab's resource catalog (from
//! discovery, with kubectl's names: plural, singular, short names, `kind.group`), and
//! API errors worded the way kubectl words them.

use anyhow::{Context, anyhow, bail};
use podnet_lab_daemon::{DaemonProcess, LabDir};

/// Short names the built-in client knows beyond the server's (upstream has none for
/// EndpointSlices; `eps` is what people type).
const EXTRA_SHORT_NAMES: &[(&str, &str)] = &[("eps", "endpointslices")];

/// One served resource type.
#[derive(Debug, Clone)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    /// Serves `list` (access reviews, for one, are only ever created).
    pub listable: bool,
}

/// Every resource type the lab serves.
pub struct Catalog(Vec<Resource>);

/// A client for the running lab `lab`.
pub async fn connect(lab: &LabDir) -> anyhow::Result<kube::Client> {
    if DaemonProcess::find(lab)?.is_none() {
        bail!(
            "lab {:?} is not running (`podnet lab up --name {}` restarts it with its objects)",
            lab.name,
            lab.name
        );
    }
    // The admin's kubeconfig the daemon writes (HTTPS, its client certificate), read as
    // every podnet component reads its own.
    let kubeconfig = lab.kubeconfig();
    if !kubeconfig.is_file() {
        bail!("lab {:?} has no kubeconfig yet", lab.name);
    }
    podnet_agent_app::client(Some(&kubeconfig))
        .await
        .context("building the API client")
}

/// A Kubernetes API error as kubectl prints it: `Error from server (Invalid): …`.
pub fn api_error(err: kube::Error) -> anyhow::Error {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                status.code.to_string()
            } else {
                status.reason.clone()
            };
            anyhow!("Error from server ({reason}): {}", status.message)
        }
        other => anyhow!(other),
    }
}

/// Whether `err` is the API's 404.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// A GET of `path`, answered as text; `accept` overrides the Accept header.
pub async fn get_text(client: &kube::Client, path: &str, accept: &str) -> kube::Result<String> {
    let req = http::Request::get(path)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .expect("a valid request");
    client.request_text(req).await
}

// === impl Resource ===

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pod`, `deployment.apps`: how kubectl names the type in its messages.
    pub fn type_name(&self) -> String {
        if self.group.is_empty() {
            self.singular.clone()
        } else {
            format!("{}.{}", self.singular, self.group)
        }
    }

    /// The REST path of a collection (`ns` None: all namespaces) or of one object.
    pub fn path(&self, ns: Option<&str>, name: Option<&str>) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let (true, Some(ns)) = (self.namespaced, ns) {
            p.push_str(&format!("/namespaces/{ns}"));
        }
        p.push('/');
        p.push_str(&self.plural);
        if let Some(name) = name {
            p.push('/');
            p.push_str(name);
        }
        p
    }

    pub fn api_resource(&self) -> kube::discovery::ApiResource {
        kube::discovery::ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// A dynamic API for this type in `ns` (ignored for cluster-scoped types).
    pub fn api(&self, client: &kube::Client, ns: &str) -> kube::Api<kube::api::DynamicObject> {
        let ar = self.api_resource();
        if self.namespaced {
            kube::Api::namespaced_with(client.clone(), ns, &ar)
        } else {
            kube::Api::all_with(client.clone(), &ar)
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        name == self.plural
            || name == self.singular
            || name == self.kind.to_lowercase()
            || self.short_names.iter().any(|s| s == name)
            || EXTRA_SHORT_NAMES.contains(&(name, self.plural.as_str()))
    }
}

// === impl Catalog ===

impl Catalog {
    /// Reads the lab's discovery documents (core v1 and each group's preferred version).
    pub async fn discover(client: &kube::Client) -> anyhow::Result<Self> {
        let mut lists = vec![
            client
                .list_core_api_resources("v1")
                .await
                .map_err(api_error)?,
        ];
        for group in client.list_api_groups().await.map_err(api_error)?.groups {
            let Some(v) = group
                .preferred_version
                .or_else(|| group.versions.first().cloned())
            else {
                continue;
            };
            lists.push(
                client
                    .list_api_group_resources(&v.group_version)
                    .await
                    .map_err(api_error)?,
            );
        }
        let mut out = Vec::new();
        for list in lists {
            let (group, version) = match list.group_version.split_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), list.group_version.clone()),
            };
            for r in list.resources.into_iter().filter(|r| !r.name.contains('/')) {
                let singular = if r.singular_name.is_empty() {
                    r.kind.to_lowercase()
                } else {
                    r.singular_name
                };
                out.push(Resource {
                    group: group.clone(),
                    version: version.clone(),
                    kind: r.kind,
                    plural: r.name,
                    singular,
                    short_names: r.short_names.unwrap_or_default(),
                    namespaced: r.namespaced,
                    listable: r.verbs.iter().any(|v| v == "list"),
                });
            }
        }
        Ok(Catalog(out))
    }

    pub fn all(&self) -> &[Resource] {
        &self.0
    }

    /// A type by any of kubectl's names for it, optionally qualified by group
    /// (`po`, `pods`, `Pod`, `deploy`, `deployments.apps`, `eps`).
    pub fn resolve(&self, arg: &str) -> anyhow::Result<&Resource> {
        let lower = arg.to_lowercase();
        let exact = self.0.iter().find(|r| r.answers_to(&lower));
        let qualified = || {
            let (name, group) = lower.split_once('.')?;
            self.0
                .iter()
                .find(|r| r.group == group && r.answers_to(name))
        };
        exact
            .or_else(qualified)
            .ok_or_else(|| anyhow!("the server doesn't have a resource type {arg:?}"))
    }

    /// The type of a manifest's object, by its apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> anyhow::Result<&Resource> {
        self.0
            .iter()
            .find(|r| r.api_version() == api_version && r.kind == kind)
            .ok_or_else(|| {
                anyhow!(
                    "no matches for kind {kind:?} in version {api_version:?} (is the apiVersion right?)"
                )
            })
    }
}
