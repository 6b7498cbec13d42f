//! Status the gateway owns: an Ingress it serves gets `status.loadBalancer.ingress` set to
//! the address of the gateway's own Service (`--publish-service`), as ingress-nginx does.

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::objects::{Key, Objects};

/// The publish Service's LoadBalancer addresses (IPs or host names).
pub(crate) fn addresses(objects: &Objects, service: &Key) -> Vec<String> {
    published(objects, service)
        .into_iter()
        .filter_map(|i| i.ip.or(i.hostname))
        .collect()
}

/// Writes Gateway API statuses that differ from the objects'.
pub(crate) async fn gateway_api(
    client: &kube::Client,
    objects: &Objects,
    patches: &[crate::gateway_api::StatusPatch],
) {
    use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
    for p in patches {
        let (kind, held) = match p.resource {
            "gatewayclasses" => ("GatewayClass", &objects.gateway_classes),
            "gateways" => ("Gateway", &objects.gateways),
            _ => ("HTTPRoute", &objects.http_routes),
        };
        let key = (p.namespace.clone().unwrap_or_default(), p.name.clone());
        let current = held
            .get(&key)
            .map(|o| o["status"].clone())
            .unwrap_or_default();
        if !crate::gateway_api::changed(&current, &p.status) {
            continue;
        }
        let gvk = GroupVersionKind::gvk(crate::gateway_api::GROUP, "v1", kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, p.resource);
        let api: Api<DynamicObject> = match &p.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let patch = serde_json::json!({"status": p.status});
        match api
            .patch_status(&p.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::info!(kind, namespace = key.0, name = key.1, "status updated"),
            Err(error) => {
                tracing::warn!(kind, namespace = key.0, name = key.1, %error, "status not updated")
            }
        }
    }
}

/// The publish Service's LoadBalancer addresses, as an Ingress lists them.
fn published(objects: &Objects, service: &Key) -> Vec<IngressLoadBalancerIngress> {
    objects
        .services
        .get(service)
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .map(|i| IngressLoadBalancerIngress {
            ip: i.ip.clone(),
            hostname: i.hostname.clone(),
            ports: None,
        })
        .collect()
}

/// Writes the address of every served Ingress whose status differs.
pub(crate) async fn ingresses(
    client: &kube::Client,
    objects: &Objects,
    served: &[Key],
    service: &Key,
) {
    let want = published(objects, service);
    if want.is_empty() {
        return;
    }
    for key in served {
        let Some(ing) = objects.ingresses.get(key) else {
            continue;
        };
        let have = ing
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.clone())
            .unwrap_or_default();
        if have == want {
            continue;
        }
        let api: Api<Ingress> = Api::namespaced(client.clone(), &key.0);
        let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": want}}});
        match api
            .patch_status(&key.1, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::info!(namespace = key.0, name = key.1, "ingress status updated"),
            Err(error) => {
                tracing::warn!(namespace = key.0, name = key.1, %error, "ingress status not updated")
            }
        }
    }
}
