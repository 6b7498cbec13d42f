//! Service ClusterIP and NodePort allocation in the API server's write path: values from the
//! configured ranges, requests honoured or refused with a 422 at once, freed with the Service,
//! kept across a restart and across `kubectl apply`.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Error};
use serde_json::{Value, json};
use support::TestServer;

fn service(name: &str, spec: Value) -> Service {
    let mut spec = spec;
    if spec.get("ports").is_none() {
        spec["ports"] = json!([{"name": "http", "port": 80}]);
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn create(api: &Api<Service>, name: &str, spec: Value) -> Result<Service, Error> {
    api.create(&PostParams::default(), &service(name, spec))
        .await
}

fn cluster_ip(svc: &Service) -> String {
    svc.spec.as_ref().unwrap().cluster_ip.clone().unwrap()
}

fn node_port(svc: &Service) -> i32 {
    svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0]
        .node_port
        .unwrap()
}

fn code(e: &Error) -> u16 {
    match e {
        Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

/// A create through plain HTTP, for the Status's causes.
async fn raw_create(server: &TestServer, name: &str, spec: Value) -> (u16, Value) {
    let body = serde_json::to_string(&service(name, spec)).unwrap();
    server
        .raw(
            "POST",
            "/api/v1/namespaces/default/services",
            "application/json",
            &body,
        )
        .await
}

fn in_service_range(ip: &str) -> bool {
    let ip: Ipv4Addr = ip.parse().unwrap();
    ip.octets()[..2] == [10, 96] && ip != Ipv4Addr::new(10, 96, 0, 0)
}

#[tokio::test]
async fn cluster_ips_come_from_the_service_range_and_a_requested_free_one_is_honoured() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let a = create(&api, "a", json!({})).await.unwrap();
    let spec = a.spec.as_ref().unwrap();
    assert!(in_service_range(&cluster_ip(&a)), "{:?}", spec.cluster_ip);
    assert_eq!(spec.cluster_ips.as_deref(), Some(&[cluster_ip(&a)][..]));
    assert_eq!(spec.ip_families.as_deref(), Some(&["IPv4".to_string()][..]));
    let b = create(&api, "b", json!({})).await.unwrap();
    assert_ne!(cluster_ip(&a), cluster_ip(&b));
    let c = create(&api, "c", json!({"clusterIP": "10.96.0.10"}))
        .await
        .unwrap();
    assert_eq!(cluster_ip(&c), "10.96.0.10");
    // What a list shows is what was stored.
    let listed = api.list(&ListParams::default()).await.unwrap();
    let ips: Vec<String> = listed.items.iter().map(cluster_ip).collect();
    assert!(ips.contains(&"10.96.0.10".to_string()), "{ips:?}");
}

#[tokio::test]
async fn a_taken_or_out_of_range_cluster_ip_is_refused_with_422_naming_the_field() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    create(&api, "a", json!({"clusterIP": "10.96.0.10"}))
        .await
        .unwrap();

    let (code, status) = raw_create(&server, "b", json!({"clusterIP": "10.96.0.10"})).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        r#"Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"#
    );
    assert_eq!(status["details"]["causes"][0]["field"], "spec.clusterIPs");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );

    let (code, status) = raw_create(&server, "b", json!({"clusterIP": "10.97.0.5"})).await;
    assert_eq!(code, 422, "{status}");
    let message = status["details"]["causes"][0]["message"].as_str().unwrap();
    assert!(
        message.ends_with(
            "failed to allocate IP 10.97.0.5: the provided IP (10.97.0.5) is not in the valid \
             range. The range of valid IPs is 10.96.0.0/16"
        ),
        "{message}"
    );
    // Refused means not stored.
    assert_eq!(code_of(api.get("b").await), 404);
}

fn code_of<T>(r: Result<T, Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => code(&e),
    }
}

#[tokio::test]
async fn node_ports_come_from_the_node_port_range_and_a_taken_one_is_refused() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let a = create(&api, "a", json!({"type": "NodePort"}))
        .await
        .unwrap();
    assert!(
        (30000..=32767).contains(&node_port(&a)),
        "{}",
        node_port(&a)
    );
    assert!(in_service_range(&cluster_ip(&a)));
    let b = create(
        &api,
        "b",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    )
    .await
    .unwrap();
    assert_eq!(node_port(&b), 30080);

    let spec = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]});
    let (code, status) = raw_create(&server, "c", spec).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        r#"Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#
    );
    let spec = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]});
    let (code, status) = raw_create(&server, "c", spec).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .ends_with("The range of valid ports is 30000-32767"),
        "{status}"
    );
    // The refused requests took nothing: a ClusterIP Service still gets the next address.
    assert_eq!(code_of(api.get("c").await), 404);
}

#[tokio::test]
async fn headless_and_external_name_services_get_no_address_or_port() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let headless = create(&api, "db", json!({"clusterIP": "None"}))
        .await
        .unwrap();
    let spec = headless.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
    assert_eq!(spec.cluster_ips, Some(vec!["None".to_string()]));
    assert_eq!(spec.ip_families, Some(vec!["IPv4".to_string()]));
    let external = create(
        &api,
        "ext",
        json!({"type": "ExternalName", "externalName": "example.com"}),
    )
    .await
    .unwrap();
    let spec = external.spec.unwrap();
    assert_eq!(spec.cluster_ip, None);
    assert_eq!(spec.cluster_ips, None);
    assert_eq!(spec.ip_families, None);
    assert!(spec.ports.unwrap()[0].node_port.is_none());
}

#[tokio::test]
async fn deleting_a_service_frees_its_ip_and_node_port() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let spec = json!({"type": "NodePort", "clusterIP": "10.96.0.10",
        "ports": [{"port": 80, "nodePort": 30080}]});
    create(&api, "a", spec.clone()).await.unwrap();
    assert_eq!(code_of(create(&api, "b", spec.clone()).await), 422);
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let b = create(&api, "b", spec.clone()).await.unwrap();
    assert_eq!(
        (cluster_ip(&b), node_port(&b)),
        ("10.96.0.10".into(), 30080)
    );

    // deletecollection frees too.
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    create(&api, "c", spec).await.unwrap();
}

#[tokio::test]
async fn a_refused_or_dry_run_write_takes_nothing() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    create(&api, "a", json!({"clusterIP": "10.96.0.20"}))
        .await
        .unwrap();
    // 409 AlreadyExists after the allocation: the requested IP is given back.
    let dup = create(&api, "a", json!({"clusterIP": "10.96.0.21"})).await;
    assert_eq!(code_of(dup), 409);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let preview = api
        .create(&dry, &service("d", json!({"clusterIP": "10.96.0.22"})))
        .await
        .unwrap();
    assert_eq!(cluster_ip(&preview), "10.96.0.22");
    assert_eq!(code_of(api.get("d").await), 404);
    for (name, ip) in [("b", "10.96.0.21"), ("c", "10.96.0.22")] {
        create(&api, name, json!({"clusterIP": ip})).await.unwrap();
    }
}

#[tokio::test]
async fn allocations_survive_a_server_restart() {
    let mut server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let a = create(&api, "a", json!({"type": "NodePort"}))
        .await
        .unwrap();
    let (ip, port) = (cluster_ip(&a), node_port(&a));
    server.restart().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let spec = json!({"type": "NodePort", "clusterIP": ip,
        "ports": [{"name": "http", "port": 80}]});
    assert_eq!(
        code_of(create(&api, "b", spec).await),
        422,
        "IP {ip} reused"
    );
    let spec = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]});
    assert_eq!(
        code_of(create(&api, "c", spec).await),
        422,
        "port {port} reused"
    );
    // And new allocations do not collide with the old ones.
    let d = create(&api, "d", json!({"type": "NodePort"}))
        .await
        .unwrap();
    assert_ne!((cluster_ip(&d), node_port(&d)), (ip, port));
}

#[tokio::test]
async fn the_primary_cluster_ip_may_not_change_and_an_update_without_it_keeps_it() {
    let server = TestServer::start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let a = create(&api, "a", json!({"type": "NodePort"}))
        .await
        .unwrap();
    let patch = json!({"spec": {"clusterIP": "10.96.0.30"}});
    let err = api
        .patch("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 422);
    assert!(
        err.to_string().contains(
            r#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.30"}: may not change once set"#
        ),
        "{err}"
    );
    // A replace of the manifest as written (no clusterIP, no nodePort) keeps both.
    let mut bare = service("a", json!({"type": "NodePort"}));
    bare.metadata.resource_version = a.metadata.resource_version.clone();
    let replaced = api
        .replace("a", &PostParams::default(), &bare)
        .await
        .unwrap();
    assert_eq!(
        (cluster_ip(&replaced), node_port(&replaced)),
        (cluster_ip(&a), node_port(&a))
    );
    // A change of type to ClusterIP gives the node port back.
    let patch = json!({"spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80,
        "nodePort": null}]}});
    api.patch("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let spec = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port(&a)}]});
    create(&api, "b", spec).await.unwrap();
}

#[tokio::test]
async fn the_service_range_and_node_port_range_are_configurable() {
    let config = podnet_apiserver::Config {
        service_cidrs: vec!["10.100.0.0/28".parse().unwrap()],
        node_ports: 31000..=31001,
        ..Default::default()
    };
    let server = TestServer::start_with(config).await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let a = create(&api, "a", json!({"type": "NodePort"}))
        .await
        .unwrap();
    let ip: Ipv4Addr = cluster_ip(&a).parse().unwrap();
    assert_eq!(ip.octets()[..3], [10, 100, 0]);
    assert!((1..=14).contains(&ip.octets()[3]), "{ip}");
    assert!((31000..=31001).contains(&node_port(&a)));
    create(&api, "b", json!({"type": "NodePort"}))
        .await
        .unwrap();
    let (code, status) = raw_create(&server, "c", json!({"type": "NodePort"})).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("range is full"),
        "{status}"
    );
    let (code, _) = raw_create(&server, "d", json!({"clusterIP": "10.96.0.10"})).await;
    assert_eq!(code, 422, "outside the configured 10.100.0.0/28");
}

#[tokio::test]
async fn kubectl_apply_twice_keeps_the_allocated_ip_and_node_port() {
    let server = TestServer::start().await;
    let k = kubectl::Kubectl::new(&server.url());
    let manifest = |label: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    rev: \"{label}\"\n\
             spec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - name: http\n    \
             port: 80\n    targetPort: 8080\n"
        )
    };
    let file = k.write("svc.yaml", &manifest("1"));
    k.run(&["apply", "-f", &file]).await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let first = api.get("web").await.unwrap();
    let file = k.write("svc.yaml", &manifest("2"));
    k.run(&["apply", "-f", &file]).await;
    let second = api.get("web").await.unwrap();
    assert_eq!(second.metadata.labels.as_ref().unwrap()["rev"], "2");
    assert_eq!(
        (cluster_ip(&second), node_port(&second)),
        (cluster_ip(&first), node_port(&first))
    );
    let out = k.run(&["get", "service", "web"]).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[2], cluster_ip(&first), "{out}");
    assert_eq!(row[4], format!("80:{}/TCP", node_port(&first)), "{out}");
    // Server-side apply keeps them too.
    k.run(&["apply", "--server-side", "-f", &file]).await;
    let third = api.get("web").await.unwrap();
    assert_eq!(cluster_ip(&third), cluster_ip(&first));
}
