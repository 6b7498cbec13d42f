//! Secrets and ServiceAccounts through kubectl and raw requests: validation as upstream, the
//! immutable `type`, `stringData` folded into `data`, and kubectl's columns.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use kubectl::Kubectl;
use support::TestServer;

const SECRETS: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  username: admin
  password: s3cret
---
apiVersion: v1
kind: Secret
metadata:
  name: web-tls
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
";

fn row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{out}"))
        .split_whitespace()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_service_accounts_apply_and_print_as_upstream() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let file = k.write("secrets.yaml", SECRETS);
    k.run(&["apply", "-f", &file]).await;

    let out = k.run(&["get", "secrets"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert_eq!(row(&out, "creds")[1..3], ["Opaque", "2"]);
    assert_eq!(row(&out, "web-tls")[1..3], ["kubernetes.io/tls", "2"]);

    let password = k
        .run(&["get", "secret", "creds", "-o", "jsonpath={.data.password}"])
        .await;
    assert_eq!(password, "czNjcmV0");
    let string_data = k
        .run(&["get", "secret", "creds", "-o", "jsonpath={.stringData}"])
        .await;
    assert_eq!(string_data, "", "stringData is write-only");

    let out = k.run(&["get", "sa"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.lines().next().unwrap().contains("SECRETS"), "{out}");
    assert_eq!(row(&out, "builder")[1], "0");

    // The type of a Secret cannot change.
    let retyped = SECRETS.replace(
        "name: creds\n",
        "name: creds\ntype: kubernetes.io/basic-auth\n",
    );
    let file = k.write("retyped.yaml", &retyped);
    let (ok, _, err) = k.try_run(&["apply", "-f", &file]).await;
    assert!(!ok);
    assert!(
        err.contains(r#"Secret "creds" is invalid: type: Invalid value: "kubernetes.io/basic-auth": field is immutable"#),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_specific_keys_are_required() {
    let server = TestServer::start().await;
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/secrets",
            "application/json",
            r#"{"metadata":{"name":"half"},"type":"kubernetes.io/tls","data":{"tls.crt":"Yw=="}}"#,
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        r#"Secret "half" is invalid: data[tls.key]: Required value"#
    );
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/secrets",
            "application/json",
            r#"{"metadata":{"name":"pull"},"type":"kubernetes.io/dockerconfigjson"}"#,
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "data[.dockerconfigjson]"
    );
}

/// `kubectl create secret|serviceaccount` send protobuf bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_secret_generic_tls_and_serviceaccount_over_protobuf() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    k.run(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=user=admin",
    ])
    .await;
    // kubectl parses the pair before sending it: a real certificate and key.
    let cert = rcgen::generate_simple_self_signed(vec!["web.example".into()]).unwrap();
    let crt = k.write("tls.crt", &cert.cert.pem());
    let key = k.write("tls.key", &cert.signing_key.serialize_pem());
    k.run(&[
        "create", "secret", "tls", "web", "--cert", &crt, "--key", &key,
    ])
    .await;
    k.run(&["create", "serviceaccount", "robot"]).await;
    let out = k.run(&["get", "secrets"]).await;
    assert_eq!(row(&out, "db")[1..3], ["Opaque", "1"]);
    assert_eq!(row(&out, "web")[1..3], ["kubernetes.io/tls", "2"]);
    let out = k.run(&["get", "serviceaccounts"]).await;
    assert_eq!(row(&out, "robot")[1], "0");
}
