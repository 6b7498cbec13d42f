//! The pools as objects: `LoadBalancerIPPool` (podnet.io/v1alpha1, cluster-scoped; the
//! definition is `deploy/loadbalancerippools.podnet.io.yaml`), read into the allocator's
//! [`Pool`]s; and, for the lab, the definition and its configured pools created at start.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use podnet_lab_controllers_alloc::Pool;
use podnet_lab_controllers_alloc::lb::AddressRange;

use crate::error::{Error, is_conflict};

/// The definition, as a user applies it in a real cluster.
pub const DEFINITION: &str =
    include_str!("../../../../../deploy/loadbalancerippools.podnet.io.yaml");

/// How often the lab retries creating its pools while the new kind is not served yet.
const RETRY: Duration = Duration::from_millis(100);

/// `podnet.io/v1alpha1` `LoadBalancerIPPool`.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("podnet.io", "v1alpha1", "LoadBalancerIPPool"),
        "loadbalancerippools",
    )
}

/// The allocator's pool from an object: `spec.addresses` (ranges and CIDRs),
/// `spec.serviceSelector.matchLabels`, `spec.autoAssign` (default true).
pub fn pool_of(obj: &DynamicObject) -> Result<Pool, String> {
    let spec = &obj.data["spec"];
    let addresses = spec["addresses"]
        .as_array()
        .ok_or("spec.addresses: Required value")?;
    let mut ranges = Vec::with_capacity(addresses.len());
    for (i, a) in addresses.iter().enumerate() {
        let text = a.as_str().unwrap_or_default();
        let range = AddressRange::parse(text).ok_or_else(|| {
            format!("spec.addresses[{i}]: Invalid value: {text:?}: not a range or a CIDR")
        })?;
        ranges.push(range);
    }
    let service_selector: BTreeMap<String, String> = spec["serviceSelector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Ok(Pool {
        name: obj.name_any(),
        ranges,
        service_selector,
        auto_assign: spec["autoAssign"].as_bool().unwrap_or(true),
    })
}

/// The object for a configured pool.
pub fn object_of(pool: &Pool) -> DynamicObject {
    let mut obj = DynamicObject::new(&pool.name, &resource());
    let addresses: Vec<String> = pool.ranges.iter().map(ToString::to_string).collect();
    let mut spec = json!({"addresses": addresses, "autoAssign": pool.auto_assign});
    if !pool.service_selector.is_empty() {
        spec["serviceSelector"] = json!({"matchLabels": pool.service_selector});
    }
    obj.data = json!({"spec": spec});
    obj
}

/// The lab's start: the definition, then each configured pool unless one of that name is
/// there (a pool edited with kubectl stays as edited across restarts).
pub async fn ensure(
    client: &Client,
    pools: &[Pool],
    stop: &CancellationToken,
) -> Result<(), Error> {
    if pools.is_empty() {
        return Ok(());
    }
    let crd: CustomResourceDefinition = serde_yaml_ng::from_str(DEFINITION)
        .map_err(|e| Error::Config(format!("the LoadBalancerIPPool definition: {e}")))?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => tracing::info!(crd = %crd.name_any(), "definition created"),
        Err(e) if is_conflict(&e) => {}
        Err(e) => return Err(Error::on("customresourcedefinition", crd.name_any())(e)),
    }
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource());
    for pool in pools {
        loop {
            match api.create(&PostParams::default(), &object_of(pool)).await {
                Ok(_) => tracing::info!(pool = %pool.name, "LoadBalancerIPPool created"),
                Err(e) if is_conflict(&e) => {}
                // The new kind is served a moment after its definition is stored.
                Err(error) => {
                    tracing::debug!(pool = %pool.name, %error, "pool not created yet");
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        () = tokio::time::sleep(RETRY) => continue,
                    }
                }
            }
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_lab_controllers_alloc::LbAllocator;

    #[test]
    fn the_definition_parses_and_names_the_resource_it_serves() {
        let crd: CustomResourceDefinition = serde_yaml_ng::from_str(DEFINITION).unwrap();
        let ar = resource();
        assert_eq!(crd.spec.group, ar.group);
        assert_eq!(crd.spec.names.plural, ar.plural);
        assert_eq!(crd.spec.names.kind, ar.kind);
        assert_eq!(crd.spec.scope, "Cluster");
    }

    #[test]
    fn a_pool_survives_the_round_trip_through_its_object() {
        let mut pool = LbAllocator::lab_pool();
        pool.ranges
            .push(AddressRange::parse("10.9.0.0/30").unwrap());
        pool.service_selector.insert("tier".into(), "public".into());
        pool.auto_assign = false;
        assert_eq!(pool_of(&object_of(&pool)).unwrap(), pool);
    }

    #[test]
    fn a_bad_address_names_its_field() {
        let mut obj = object_of(&LbAllocator::lab_pool());
        obj.data["spec"]["addresses"] = json!(["172.18.255.200-172.18.255.250", "nope"]);
        assert_eq!(
            pool_of(&obj).unwrap_err(),
            "spec.addresses[1]: Invalid value: \"nope\": not a range or a CIDR"
        );
        obj.data["spec"] = json!({"autoAssign": true});
        assert!(pool_of(&obj).unwrap_err().contains("Required value"));
    }

    #[test]
    fn auto_assign_defaults_to_true() {
        let mut obj = object_of(&LbAllocator::lab_pool());
        obj.data["spec"] = json!({"addresses": ["10.0.0.1-10.0.0.2"]});
        assert!(pool_of(&obj).unwrap().auto_assign);
    }
}
