//! `podnet dns` against the lab's API server (in-process, on 127.0.0.1) through kube-rs
//! watchers: a Service created is resolvable within a second and gone within a second of
//! its deletion; EndpointSlices give headless records; namespaces give NODATA names; the
//! `coredns` ConfigMap's Corefile is applied while serving; /ready waits for the lists.

mod dns {
    pub mod support;
}

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dns::support::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{DeleteParams, PostParams};

fn from<T: k8s_openapi::serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// Polls until `check` holds, returning how long it took; fails after `limit`.
async fn within<F: Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> Duration {
    let began = Instant::now();
    loop {
        if check().await {
            return began.elapsed();
        }
        assert!(began.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_slices_namespaces_and_the_configmap_through_watchers() {
    let state = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let dir = state.path().to_path_buf();
    let apiserver = tokio::spawn(async move {
        podnet_apiserver::serve(listener, &dir, async {
            let _ = api_stopped.await;
        })
        .await
        .unwrap();
    });
    let client =
        kube::Client::try_from(kube::Config::new(format!("http://{api}").parse().unwrap()))
            .unwrap();
    let up = Upstream::start().await;

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let cm = |text: String| -> ConfigMap {
        from(
            serde_json::json!({"metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"Corefile": text}}),
        )
    };
    configmaps
        .create(&PostParams::default(), &cm(corefile(up.addr, "", "")))
        .await
        .unwrap();
    let text = podnet_dns_server::watch::corefile_now(client.clone(), "kube-system", "coredns")
        .await
        .unwrap()
        .unwrap();
    let mut dns = TestDns::start(&text).await;
    tokio::spawn(podnet_dns_server::watch::objects(
        client.clone(),
        dns.shared.clone(),
        false,
    ));
    let reload = dns.reload.clone();
    let c = client.clone();
    tokio::spawn(async move {
        podnet_dns_server::watch::corefile(c, "kube-system", "coredns", reload).await
    });
    within(Duration::from_secs(30), "/ready", || async {
        dns.get("/ready").await.0 == 200
    })
    .await;

    // A Service created is resolvable within a second.
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let created = Instant::now();
    let svc = services
        .create(
            &PostParams::default(),
            &from(serde_json::json!({"metadata": {"name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"app": "web"}}})),
        )
        .await
        .unwrap();
    let ip = svc.spec.unwrap().cluster_ip.unwrap();
    let addr = dns.addr;
    within(
        Duration::from_secs(30),
        "new Service resolvable",
        || async {
            data(&udp(addr, "web.default.svc.cluster.local.", RecordType::A, None).await)
                == [ip.clone()]
        },
    )
    .await;
    eprintln!("Service resolvable {:?} after create", created.elapsed());
    let m = udp(
        addr,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
        None,
    )
    .await;
    assert_eq!(data(&m), ["0 100 80 web.default.svc.cluster.local."]);

    // Headless with a StatefulSet-style endpoint.
    services
        .create(
            &PostParams::default(),
            &from(serde_json::json!({"metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}})),
        )
        .await
        .unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    slices
        .create(&PostParams::default(), &from(serde_json::json!({
            "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.244.1.9"], "hostname": "db-0", "conditions": {"ready": true}}]})))
        .await
        .unwrap();
    within(Duration::from_secs(30), "headless endpoint", || async {
        data(
            &udp(
                addr,
                "db-0.db.default.svc.cluster.local.",
                RecordType::A,
                None,
            )
            .await,
        ) == ["10.244.1.9"]
    })
    .await;
    let m = udp(
        addr,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
        None,
    )
    .await;
    assert_eq!(data(&m), ["0 100 5432 db-0.db.default.svc.cluster.local."]);

    // A namespace: its svc name exists (NODATA), another does not.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &from(serde_json::json!({"metadata": {"name": "team-a"}})),
        )
        .await
        .unwrap();
    within(Duration::from_secs(30), "namespace name", || async {
        udp(addr, "team-a.svc.cluster.local.", RecordType::A, None)
            .await
            .metadata
            .response_code
            == ResponseCode::NoError
    })
    .await;
    let m = udp(addr, "team-b.svc.cluster.local.", RecordType::A, None).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    // A deleted Service is gone within a second.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    within(Duration::from_secs(30), "deleted Service gone", || async {
        udp(addr, "web.default.svc.cluster.local.", RecordType::A, None)
            .await
            .metadata
            .response_code
            == ResponseCode::NXDomain
    })
    .await;

    // The ConfigMap changes: the new TTL applies without a restart.
    let mut changed = configmaps.get("coredns").await.unwrap();
    changed.data = Some(BTreeMap::from([(
        "Corefile".to_owned(),
        corefile(up.addr, "", "").replace("ttl 30", "ttl 9"),
    )]));
    configmaps
        .replace("coredns", &PostParams::default(), &changed)
        .await
        .unwrap();
    within(
        Duration::from_secs(30),
        "ConfigMap change applied",
        || async {
            udp(addr, "db.default.svc.cluster.local.", RecordType::A, None)
                .await
                .answers
                .first()
                .map(|r| r.ttl)
                == Some(9)
        },
    )
    .await;

    dns.stop().await;
    let _ = stop_api.send(());
    let _ = apiserver.await;
}
