//! Status the gateway owns: an Ingress it serves gets `status.loadBalancer.ingress` set to
//! the address of the gateway's own Service (`--publish-service`), as ingress-nginx does.

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::objects::{Key, Objects};

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
