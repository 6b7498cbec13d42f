//! Ingress v1 objects into the router's model: which Ingresses are this gateway's (by
//! class), their rules and paths (ImplementationSpecific read as Prefix), backends by port
//! number or name, and their `spec.tls`.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressClass};
use podnet_gateway_router::host::IngressHost;
use podnet_gateway_router::ingress::{Ingress as RouteIngress, IngressRule};
use podnet_gateway_router::path::PathMatch;
use podnet_gateway_router::{Backend, RouteId, ServicePort};

/// The annotation that makes an IngressClass the cluster's default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
/// The class annotation that preceded `spec.ingressClassName` (still honoured).
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// This gateway's IngressClasses.
#[derive(Clone, Debug, Default)]
pub struct Classes {
    pub names: BTreeSet<String>,
    /// One of ours is marked default: Ingresses without a class are ours.
    pub default: bool,
}

impl Classes {
    pub fn of(
        classes: impl IntoIterator<Item = impl std::borrow::Borrow<IngressClass>>,
        controller: &str,
    ) -> Self {
        let mut out = Classes::default();
        for class in classes {
            let class = class.borrow();
            if class.spec.as_ref().and_then(|s| s.controller.as_deref()) != Some(controller) {
                continue;
            }
            out.names
                .insert(class.metadata.name.clone().unwrap_or_default());
            let annotations = class.metadata.annotations.as_ref();
            if annotations
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .map(String::as_str)
                == Some("true")
            {
                out.default = true;
            }
        }
        out
    }

    /// Whether an Ingress is served here: its class is ours, or it names none and ours is
    /// the default. Ingresses of other classes are left alone.
    pub fn serves(&self, ing: &Ingress) -> bool {
        let named = ing
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            .or_else(|| {
                ing.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(CLASS_ANNOTATION))
                    .map(String::as_str)
            });
        match named {
            Some(class) => self.names.contains(class),
            None => self.default,
        }
    }
}

/// The Service port an Ingress backend names; `None` for resource backends.
fn backend(namespace: &str, b: &IngressBackend) -> Option<Backend> {
    let svc = b.service.as_ref()?;
    let port = svc.port.as_ref()?;
    let port = match (port.number, &port.name) {
        (Some(n), _) => ServicePort::Number(u16::try_from(n).ok()?),
        (None, Some(name)) => ServicePort::Name(name.clone()),
        (None, None) => return None,
    };
    Some(Backend {
        namespace: namespace.to_owned(),
        service: svc.name.clone(),
        port,
    })
}

fn path_match(path_type: &str, path: Option<&str>) -> PathMatch {
    let path = path.filter(|p| !p.is_empty()).unwrap_or("/").to_owned();
    match path_type {
        "Exact" => PathMatch::Exact(path),
        // Prefix, and ImplementationSpecific, which podnet reads as Prefix.
        _ => PathMatch::Prefix(path),
    }
}

/// An Ingress as the router takes it.
pub fn route(ing: &Ingress) -> RouteIngress {
    let namespace = ing.metadata.namespace.clone().unwrap_or_default();
    let spec = ing.spec.clone().unwrap_or_default();
    let rules = spec
        .rules
        .iter()
        .flatten()
        .map(|rule| IngressRule {
            host: IngressHost::parse(rule.host.as_deref()),
            paths: rule
                .http
                .iter()
                .flat_map(|http| &http.paths)
                .filter_map(|p| {
                    let to = backend(&namespace, &p.backend)?;
                    Some((path_match(&p.path_type, p.path.as_deref()), to))
                })
                .collect(),
        })
        .collect();
    RouteIngress {
        id: RouteId {
            kind: "Ingress",
            namespace: namespace.clone(),
            name: ing.metadata.name.clone().unwrap_or_default(),
        },
        created: ing
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
        rules,
        default_backend: spec
            .default_backend
            .as_ref()
            .and_then(|b| backend(&namespace, b)),
    }
}

/// Every Service port an Ingress routes to.
pub fn backends(ing: &RouteIngress) -> impl Iterator<Item = &Backend> {
    ing.rules
        .iter()
        .flat_map(|r| r.paths.iter().map(|(_, b)| b))
        .chain(ing.default_backend.as_ref())
}

/// `spec.tls`: (hosts, Secret name in the Ingress's namespace).
pub fn tls(ing: &Ingress) -> Vec<(Vec<String>, String)> {
    ing.spec
        .iter()
        .flat_map(|s| s.tls.iter().flatten())
        .filter_map(|t| Some((t.hosts.clone().unwrap_or_default(), t.secret_name.clone()?)))
        .collect()
}
