//! LoadBalancer addresses against the real lab API server: assigned from the lab pool,
//! requests honoured, conflicts told in an event and a condition, released on delete.

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::core::v1::{Event, Service};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::json;
use support::{Lab, eventually};

fn load_balancer(name: &str, requested: Option<&str>) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": requested,
            "selector": {"app": name}, "ports": [{"port": 80}]},
    }))
    .unwrap()
}

async fn ingress_ip(api: &Api<Service>, name: &str) -> String {
    eventually(&format!("an EXTERNAL-IP for {name}"), || async {
        let svc = api.get(name).await.ok()?;
        let ingress = svc.status?.load_balancer?.ingress?;
        ingress.first()?.ip.clone()
    })
    .await
}

async fn event_of(lab: &Lab, name: &str, reason: &str) -> Event {
    let events: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let selector =
        format!("involvedObject.kind=Service,involvedObject.name={name},reason={reason}");
    eventually(&format!("a {reason} event about {name}"), || async {
        let list = events
            .list(&ListParams::default().fields(&selector))
            .await
            .ok()?;
        list.items.into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_get_addresses_from_the_pool_and_conflicts_are_told() {
    let lab = Lab::start(false).await;
    let api: Api<Service> = Api::namespaced(lab.client.clone(), "default");
    let pp = PostParams::default();

    api.create(&pp, &load_balancer("first", None))
        .await
        .unwrap();
    assert_eq!(ingress_ip(&api, "first").await, "172.18.255.200");
    let allocated = event_of(&lab, "first", "IPAllocated").await;
    assert_eq!(
        allocated.message.as_deref(),
        Some("Assigned IP [\"172.18.255.200\"]")
    );

    api.create(&pp, &load_balancer("asked", Some("172.18.255.240")))
        .await
        .unwrap();
    assert_eq!(ingress_ip(&api, "asked").await, "172.18.255.240");

    api.create(&pp, &load_balancer("clash", Some("172.18.255.240")))
        .await
        .unwrap();
    let failed = event_of(&lab, "clash", "AllocationFailed").await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let message = failed.message.unwrap_or_default();
    assert!(
        message.contains("already allocated to default/asked"),
        "{message}"
    );
    let clash = api.get("clash").await.unwrap();
    let status = clash.status.unwrap_or_default();
    assert!(
        status
            .load_balancer
            .and_then(|lb| lb.ingress)
            .is_none_or(|i| i.is_empty())
    );
    let condition = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "lbipam.podnet.io/RequestSatisfied")
        .expect("the condition says why");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "AddressInUse")
    );

    // Deleting the holder frees the address for the one waiting for it.
    api.delete("asked", &DeleteParams::default()).await.unwrap();
    assert_eq!(ingress_ip(&api, "clash").await, "172.18.255.240");

    // Deleting a Service frees its address for the next one.
    api.delete("first", &DeleteParams::default()).await.unwrap();
    api.create(&pp, &load_balancer("next", None)).await.unwrap();
    assert_eq!(ingress_ip(&api, "next").await, "172.18.255.200");

    lab.stop().await;
}

/// The pools are LoadBalancerIPPool objects: the lab's `default` is created at start, a
/// pool added later serves a Service that asked for one of its addresses, and the single
/// allocator holds the lb-ipam Lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_are_objects_and_one_leader_allocates() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::DynamicObject;
    use podnet_lab_controllers::lb_ipam::pools;

    let lab = Lab::start(false).await;
    let api: Api<Service> = Api::namespaced(lab.client.clone(), "default");
    let pool_api: Api<DynamicObject> = Api::all_with(lab.client.clone(), &pools::resource());
    let default = eventually("the default pool", || async {
        pool_api.get_opt("default").await.ok().flatten()
    })
    .await;
    assert_eq!(
        default.data["spec"]["addresses"],
        json!(["172.18.255.200-172.18.255.250"])
    );
    let leases: Api<Lease> = Api::namespaced(lab.client.clone(), "kube-system");
    let holder = eventually("the lb-ipam lease", || async {
        let lease = leases.get_opt("podnet-lb-ipam").await.ok().flatten()?;
        lease.spec?.holder_identity
    })
    .await;
    assert_eq!(holder, "podnet-lab-controllers");

    api.create(
        &PostParams::default(),
        &load_balancer("later", Some("172.18.254.3")),
    )
    .await
    .unwrap();
    event_of(&lab, "later", "AllocationFailed").await;
    let mut public: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "podnet.io/v1alpha1", "kind": "LoadBalancerIPPool",
        "metadata": {"name": "public"},
        "spec": {"addresses": ["172.18.254.0/29"], "autoAssign": false},
    }))
    .unwrap();
    public = pool_api
        .create(&PostParams::default(), &public)
        .await
        .unwrap();
    assert_eq!(public.data["spec"]["autoAssign"], json!(false));
    assert_eq!(ingress_ip(&api, "later").await, "172.18.254.3");
    // autoAssign false: a Service that asks for nothing still gets the default pool's.
    api.create(&PostParams::default(), &load_balancer("plain", None))
        .await
        .unwrap();
    assert_eq!(ingress_ip(&api, "plain").await, "172.18.255.200");
    lab.stop().await;
}
