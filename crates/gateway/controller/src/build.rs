//! The watched objects → one generation of the proxy's configuration (pure).

use std::collections::HashMap;

use podnet_gateway_proxy::{Certificates, CertifiedKey, Config, certified_key};
use podnet_gateway_router::http_route::HttpRoutes;
use podnet_gateway_router::ingress::IngressTable;
use podnet_gateway_router::{Backend, Table};

use crate::endpoints;
use crate::ingress::{self, Classes};
use crate::objects::{Key, Objects};

/// A configuration and the objects it serves (whose status the controller keeps).
#[derive(Debug, Default)]
pub struct Built {
    pub config: Config,
    /// The Ingresses of this gateway's classes.
    pub ingresses: Vec<Key>,
    /// The status each Gateway API object of this gateway should have.
    pub gateway_statuses: Vec<crate::gateway_api::StatusPatch>,
}

/// `addresses`: the gateway Service's LoadBalancer addresses (for Gateways' status).
pub fn build(objects: &Objects, controller: &str, addresses: &[String]) -> Built {
    let classes = Classes::of(objects.ingress_classes.values(), controller);
    let mut served: Vec<_> = objects
        .ingresses
        .iter()
        .filter(|(_, ing)| classes.serves(ing))
        .collect();
    // Older Ingresses first: their certificates win a host, as their rules do.
    served.sort_by_key(|(key, ing)| {
        (
            ing.metadata.creation_timestamp.as_ref().map(|t| t.0),
            (*key).clone(),
        )
    });

    let routes: Vec<_> = served.iter().map(|(_, ing)| ingress::route(ing)).collect();
    let gateway_api = crate::gateway_api::build(objects, controller, addresses);
    let mut backends: Vec<&Backend> = routes
        .iter()
        .flat_map(ingress::backends)
        .chain(&gateway_api.backends)
        .collect();
    backends.sort();
    backends.dedup();
    let endpoints: HashMap<Backend, _> = backends
        .into_iter()
        .map(|b| (b.clone(), endpoints::ready(objects, b)))
        .collect();

    let mut certificates = Certificates::default();
    for ((namespace, name), ing) in &served {
        for (hosts, secret) in ingress::tls(ing) {
            let Some(key) = secret_key(objects, namespace, &secret) else {
                tracing::warn!(ingress = %format!("{namespace}/{name}"), secret, "TLS Secret missing or invalid; its hosts get the fallback certificate");
                continue;
            };
            if hosts.is_empty() {
                certificates.add("", key.clone());
            }
            for host in hosts {
                certificates.add(&host, key.clone());
            }
        }
    }

    for (host, namespace, name) in &gateway_api.certificates {
        match secret_key(objects, namespace, name) {
            Some(key) => certificates.add(host, key),
            None => {
                tracing::warn!(secret = %format!("{namespace}/{name}"), "listener certificate missing or invalid")
            }
        }
    }

    Built {
        config: Config {
            table: Table {
                ingresses: IngressTable::new(routes),
                http_routes: gateway_api
                    .http_routes
                    .into_iter()
                    .map(|(port, routes)| (port, HttpRoutes::new(routes)))
                    .collect(),
            },
            endpoints,
            certificates,
            synced: true,
        },
        ingresses: served.into_iter().map(|(k, _)| k.clone()).collect(),
        gateway_statuses: gateway_api.statuses,
    }
}

/// The certificate of a `kubernetes.io/tls` Secret.
fn secret_key(
    objects: &Objects,
    namespace: &str,
    name: &str,
) -> Option<std::sync::Arc<CertifiedKey>> {
    let secret = objects
        .secrets
        .get(&(namespace.to_owned(), name.to_owned()))?;
    let data = secret.data.as_ref()?;
    let (crt, key) = (data.get("tls.crt")?, data.get("tls.key")?);
    match certified_key(&crt.0, &key.0, &format!("Secret {namespace}/{name}")) {
        Ok(k) => Some(k),
        Err(error) => {
            tracing::warn!(%error, "unusable TLS Secret");
            None
        }
    }
}
