//! API conventions clients rely on beyond single verbs: chunked lists (`limit`/`continue`,
//! as kubectl's `--chunk-size` and reflectors use them) and server-side apply that is
//! idempotent, with container ports keyed by (containerPort, protocol).

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, PostParams};
use kubectl::Kubectl;
use serde_json::json;
use support::TestServer;

async fn config_maps(server: &TestServer, n: usize) -> Api<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for i in 0..n {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("cm-{i:02}")}, "data": {"i": i.to_string()}}))
        .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    api
}

#[tokio::test]
async fn a_list_comes_in_pages_that_cover_it_once() {
    let server = TestServer::start().await;
    let api = config_maps(&server, 7).await;

    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let rv = first.metadata.resource_version.clone();
    let mut seen: Vec<String> = first
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    let mut token = first.metadata.continue_;
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        let page = api
            .list(&ListParams::default().limit(3).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(
            page.metadata.resource_version, rv,
            "pages keep the first page's RV"
        );
        seen.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        token = page.metadata.continue_;
    }
    let expected: Vec<String> = (0..7).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(seen, expected);

    // A selector hides the remaining count, as upstream.
    let selected = api
        .list(
            &ListParams::default()
                .limit(1)
                .fields("metadata.namespace=default"),
        )
        .await
        .unwrap();
    assert!(selected.metadata.continue_.is_some());
    assert_eq!(selected.metadata.remaining_item_count, None);

    // A token that is not one is a 400 naming the parameter.
    let (code, status) = server
        .raw(
            "GET",
            "/api/v1/namespaces/default/configmaps?limit=1&continue=bogus",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("continue key is not valid")
    );
}

#[tokio::test]
async fn kubectl_reads_a_list_in_chunks() {
    let server = TestServer::start().await;
    config_maps(&server, 5).await;
    let kubectl = Kubectl::new(&server.url());
    let (ok, out, log) = kubectl
        .try_run(&["get", "configmaps", "--chunk-size=2", "-o", "name", "-v=6"])
        .await;
    assert!(ok, "{log}");
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(names.len(), 5, "{out}");
    assert!(log.contains("limit=2"), "kubectl did not chunk:\n{log}");
    assert!(
        log.contains("continue="),
        "kubectl did not continue:\n{log}"
    );
}

const DNS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dns
spec:
  replicas: 1
  selector:
    matchLabels: {app: dns}
  template:
    metadata:
      labels: {app: dns}
    spec:
      containers:
      - name: dns
        image: registry.k8s.io/coredns/coredns:v1.12.0
        ports:
        - {containerPort: 53, protocol: UDP, name: dns}
        - {containerPort: 53, protocol: TCP, name: dns-tcp}
";

#[tokio::test]
async fn server_side_apply_twice_keeps_both_protocols_and_the_resource_version() {
    let server = TestServer::start().await;
    let kubectl = Kubectl::new(&server.url());
    let file = kubectl.write("dns.yaml", DNS);
    let rv = || async {
        kubectl
            .run(&[
                "get",
                "deployment",
                "dns",
                "-o",
                "jsonpath={.metadata.resourceVersion}",
            ])
            .await
    };
    let out = kubectl.run(&["apply", "--server-side", "-f", &file]).await;
    assert!(out.contains("serverside-applied"), "{out}");
    let first = rv().await;
    kubectl.run(&["apply", "--server-side", "-f", &file]).await;
    assert_eq!(rv().await, first, "an unchanged apply must not write");
    let ports = kubectl
        .run(&[
            "get",
            "deployment",
            "dns",
            "-o",
            "jsonpath={range .spec.template.spec.containers[0].ports[*]}{.containerPort}/{.protocol} {end}",
        ])
        .await;
    assert_eq!(ports.trim(), "53/UDP 53/TCP");

    // Client-side apply of the same file on top is unchanged too.
    let out = kubectl.run(&["apply", "-f", &file]).await;
    assert!(out.contains("dns"), "{out}");
    kubectl.run(&["apply", "-f", &file]).await;
    let after = rv().await;
    kubectl.run(&["apply", "-f", &file]).await;
    assert_eq!(rv().await, after);
}

/// Upstream's typed conversion refuses an apply configuration that names one element of an
/// associative list twice (merging it would not give the same object twice in a row).
#[tokio::test]
async fn server_side_apply_refuses_a_list_element_named_twice() {
    let server = TestServer::start().await;
    let kubectl = Kubectl::new(&server.url());
    let twice = DNS.replace(
        "        ports:\n",
        "        env:\n        - {name: A, value: \"1\"}\n        - {name: A, value: \"2\"}\n        ports:\n",
    );
    let file = kubectl.write("twice.yaml", &twice);
    let (ok, _, err) = kubectl
        .try_run(&["apply", "--server-side", "-f", &file])
        .await;
    assert!(!ok, "refused");
    assert!(
        err.contains(
            r#"failed to create typed patch object (default/dns; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="dns"].env: duplicate entries for key [name="A"]"#
        ),
        "{err}"
    );
    let (found, _, _) = kubectl.try_run(&["get", "deployment", "dns"]).await;
    assert!(!found, "nothing was created");
}
