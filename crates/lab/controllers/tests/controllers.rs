//! The controllers against the real lab API server (crates/apiserver), through kube-rs.

#[path = "support/lab.rs"]
mod support;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use support::{Lab, eventually};

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image,
                    "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    }))
    .unwrap()
}

async fn pods_of(client: &Client, ns: &str, app: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = api
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

fn hash(p: &Pod) -> String {
    p.labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default()
}

/// Waits until the deployment has exactly `n` live pods, all bound and of one hash.
async fn settled(client: &Client, app: &str, n: usize) -> Vec<Pod> {
    settled_away_from(client, app, n, "").await
}

/// Same, with a hash other than `old`.
async fn settled_away_from(client: &Client, app: &str, n: usize, old: &str) -> Vec<Pod> {
    eventually(&format!("{n} bound pods of {app}"), || async {
        let pods = pods_of(client, "default", app).await;
        let hashes: BTreeSet<String> = pods.iter().map(hash).collect();
        let bound = pods
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.is_some());
        let moved = !hashes.contains(old);
        (pods.len() == n && hashes.len() == 1 && bound && moved).then_some(pods)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_starts_with_system_namespaces_nodes_with_pod_cidrs_and_the_kubernetes_service() {
    let lab = Lab::start(false).await;
    let nodes: Api<Node> = Api::all(lab.client.clone());
    let cidrs = eventually("three nodes with pod CIDRs", || async {
        let list = nodes.list(&ListParams::default()).await.ok()?;
        let mut cidrs: Vec<(String, String)> = list
            .items
            .iter()
            .filter_map(|n| Some((n.name_any(), n.spec.as_ref()?.pod_cidr.clone()?)))
            .collect();
        cidrs.sort();
        (cidrs.len() == 3).then_some(cidrs)
    })
    .await;
    assert_eq!(
        cidrs,
        [
            ("lab-control-plane".to_string(), "10.244.0.0/24".to_string()),
            ("lab-worker".to_string(), "10.244.1.0/24".to_string()),
            ("lab-worker2".to_string(), "10.244.2.0/24".to_string()),
        ]
    );
    let namespaces: Api<Namespace> = Api::all(lab.client.clone());
    for ns in ["default", "kube-system", "kube-public"] {
        namespaces.get(ns).await.unwrap();
    }
    let svc = eventually("the kubernetes service", || async {
        Api::<Service>::namespaced(lab.client.clone(), "default")
            .get("kubernetes")
            .await
            .ok()
    })
    .await;
    assert_eq!(svc.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.1"));
    let slice = eventually("the kubernetes endpointslice", || async {
        Api::<EndpointSlice>::namespaced(lab.client.clone(), "default")
            .get("kubernetes")
            .await
            .ok()
    })
    .await;
    assert_eq!(
        slice.endpoints.unwrap()[0].addresses,
        [lab.config.api_server.ip().to_string()]
    );
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_gets_hashed_pods_spread_over_the_workers_and_scales() {
    let lab = Lab::start(true).await;
    let api: Api<Deployment> = Api::namespaced(lab.client.clone(), "default");
    api.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27"))
        .await
        .unwrap();
    let pods = settled(&lab.client, "web", 3).await;
    assert!(
        pods.iter()
            .all(|p| p.name_any().starts_with(&format!("web-{}-", hash(p))))
    );
    let nodes: BTreeSet<String> = pods
        .iter()
        .map(|p| p.spec.clone().unwrap().node_name.unwrap())
        .collect();
    assert_eq!(
        nodes,
        ["lab-worker".to_string(), "lab-worker2".to_string()].into(),
        "spread, never on the control plane"
    );
    let owner = &pods[0].owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("ReplicaSet", Some(true))
    );
    assert_eq!(owner.name, format!("web-{}", hash(&pods[0])));

    let scale = |n: i32| json!({"spec": {"replicas": n}});
    api.patch_scale("web", &PatchParams::default(), &Patch::Merge(&scale(5)))
        .await
        .unwrap();
    settled(&lab.client, "web", 5).await;
    api.patch_scale("web", &PatchParams::default(), &Patch::Merge(&scale(1)))
        .await
        .unwrap();
    settled(&lab.client, "web", 1).await;
    let d = eventually("status of one ready replica", || async {
        let d = api.get("web").await.ok()?;
        let s = d.status.clone()?;
        (s.ready_replicas == Some(1) && s.replicas == Some(1)).then_some(d)
    })
    .await;
    assert_eq!(d.status.unwrap().observed_generation, d.metadata.generation);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_change_rolls_to_pods_of_the_new_hash() {
    let lab = Lab::start(true).await;
    let api: Api<Deployment> = Api::namespaced(lab.client.clone(), "default");
    api.create(&PostParams::default(), &deployment("web", 4, "nginx:1.27"))
        .await
        .unwrap();
    let before = hash(&settled(&lab.client, "web", 4).await[0]);
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28",
        "ports": [{"name": "http", "containerPort": 8080}]}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let after = settled_away_from(&lab.client, "web", 4, &before).await;
    let image = after[0].spec.as_ref().unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.28"));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_gets_an_endpointslice_with_conditions_and_named_ports() {
    let lab = Lab::start(true).await;
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2, "nginx"))
        .await
        .unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.5.5",
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    .unwrap();
    Api::<Service>::namespaced(lab.client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(lab.client.clone(), "default");
    let slice = eventually("a slice with two ready endpoints", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?;
        let s = list.items.into_iter().next()?;
        let eps = s.endpoints.as_deref().unwrap_or_default();
        let ready = eps
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .count();
        (eps.len() == 2 && ready == 2).then_some(s)
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(
        slice.labels()["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port),
        (Some("http"), Some(8080)),
        "named targetPort resolved"
    );
    let e = &slice.endpoints.as_ref().unwrap()[0];
    assert!(e.node_name.as_deref().unwrap().starts_with("lab-worker"));
    assert_eq!(e.target_ref.as_ref().unwrap().kind.as_deref(), Some("Pod"));
    assert!(e.addresses[0].starts_with("10.244."));
    let c = e.conditions.as_ref().unwrap();
    assert_eq!((c.serving, c.terminating), (Some(true), Some(false)));

    // A pod turning unready is reported as not ready and not serving.
    let name = e.target_ref.as_ref().unwrap().name.clone().unwrap();
    let unready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    Api::<Pod>::namespaced(lab.client.clone(), "default")
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&unready))
        .await
        .unwrap();
    eventually("the endpoint to turn unready", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?;
        let eps: Vec<_> = list
            .items
            .into_iter()
            .flat_map(|s| s.endpoints.unwrap_or_default())
            .collect();
        eps.iter()
            .any(|e| {
                e.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
                    && e.conditions.as_ref().map(|c| (c.ready, c.serving))
                        == Some((Some(false), Some(false)))
            })
            .then_some(())
    })
    .await;
    // Deleting the Service takes its slices with it (garbage collection).
    Api::<Service>::namespaced(lab.client.clone(), "default")
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the slices to go", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_empties_it_and_deleting_a_deployment_its_pods() {
    let lab = Lab::start(true).await;
    let namespaces: Api<Namespace> = Api::all(lab.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), "team-a");
    deployments
        .create(&PostParams::default(), &deployment("app", 2, "nginx"))
        .await
        .unwrap();
    eventually("two pods in team-a", || async {
        (pods_of(&lab.client, "team-a", "app").await.len() == 2).then_some(())
    })
    .await;

    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    eventually("team-a to be gone with its content", || async {
        let gone = namespaces.get_opt("team-a").await.ok()?.is_none();
        let pods = Api::<Pod>::namespaced(lab.client.clone(), "team-a")
            .list(&ListParams::default())
            .await
            .ok()?;
        (gone && pods.items.is_empty()).then_some(())
    })
    .await;

    let default: Api<Deployment> = Api::namespaced(lab.client.clone(), "default");
    default
        .create(&PostParams::default(), &deployment("web", 2, "nginx"))
        .await
        .unwrap();
    settled(&lab.client, "web", 2).await;
    default
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    eventually("the deployment's pods to go", || async {
        let pods = Api::<Pod>::namespaced(lab.client.clone(), "default")
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        pods.items.is_empty().then_some(())
    })
    .await;
    lab.stop().await;
}
