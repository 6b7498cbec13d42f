//! StatefulSets through kubectl against the real API server and controllers: the
//! Kubernetes documentation's `web` StatefulSet and headless Service `nginx`, applied
//! unchanged (its volumeClaimTemplates are stored; the lab makes no claims).

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use podnet_test_util::Kubectl;
use support::{Lab, eventually};

const MANIFEST: &str = include_str!("../../../../examples/manifests/statefulset.yaml");

/// The live pods of `web`: (name, hostname, subdomain, image), by name.
async fn pods(lab: &Lab) -> Vec<(String, String, String, String)> {
    let api: Api<Pod> = Api::namespaced(lab.client.clone(), "default");
    let list = api
        .list(&ListParams::default().labels("app=nginx"))
        .await
        .unwrap()
        .items;
    let mut out: Vec<_> = list
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let spec = p.spec.clone().unwrap();
            (
                p.name_any(),
                spec.hostname.unwrap_or_default(),
                spec.subdomain.unwrap_or_default(),
                spec.containers[0].image.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn rolled_out(k: &Kubectl, n: usize) {
    let out = k
        .run(&["rollout", "status", "sts/web", "--timeout=60s"])
        .await;
    assert!(
        out.contains(&format!(
            "partitioned roll out complete: {n} new pods have been updated..."
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documentation_stateful_set_gets_ordinal_pods_with_stable_dns_names() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write("web.yaml", MANIFEST);
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(out.contains("statefulset.apps/web created"), "{out}");
    rolled_out(&k, 3).await;
    let got = pods(&lab).await;
    let names: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(n, h, s, _)| (n.as_str(), h.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("web-0", "web-0", "nginx"),
            ("web-1", "web-1", "nginx"),
            ("web-2", "web-2", "nginx")
        ]
    );
    let out = k.run(&["get", "sts"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "AGE"]);
    assert!(out.contains("3/3"), "{out}");

    // The headless Service's endpoints carry the hostnames the DNS serves as web-N.nginx.
    let slices: Api<EndpointSlice> = Api::namespaced(lab.client.clone(), "default");
    let hostnames = eventually("hostnames in the nginx EndpointSlice", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=nginx"))
            .await
            .ok()?;
        let mut hosts: Vec<String> = list
            .items
            .iter()
            .flat_map(|s| s.endpoints.iter().flatten())
            .filter_map(|e| e.hostname.clone())
            .collect();
        hosts.sort();
        (hosts.len() == 3).then_some(hosts)
    })
    .await;
    assert_eq!(hostnames, ["web-0", "web-1", "web-2"]);

    k.run(&["scale", "sts", "web", "--replicas=2"]).await;
    eventually("web-2 gone", || async {
        let names: Vec<String> = pods(&lab).await.into_iter().map(|p| p.0).collect();
        (names == ["web-0", "web-1"]).then_some(())
    })
    .await;

    k.run(&[
        "set",
        "image",
        "sts/web",
        "nginx=registry.k8s.io/nginx-slim:0.27",
    ])
    .await;
    rolled_out(&k, 2).await;
    let images: Vec<String> = pods(&lab).await.into_iter().map(|p| p.3).collect();
    assert_eq!(
        images,
        [
            "registry.k8s.io/nginx-slim:0.27",
            "registry.k8s.io/nginx-slim:0.27"
        ]
    );
    lab.stop().await;
}
