//! Authentication as kube-apiserver's, over the TLS every listener speaks: a client
//! certificate signed by the client CA is its CommonName in its Organizations' groups; no
//! credentials is `system:anonymous`, which RBAC allows the public info only; a bad bearer
//! token is 401 with upstream's Status, never anonymous; a certificate from another CA
//! fails the handshake; plain HTTP gets Go's 400.

#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client};
use serde_json::{Value, json};
use support::{TestServer, pki, with_credentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn restricted() -> TestServer {
    TestServer::start_with(podnet_apiserver::Config {
        anonymous_is_admin: false,
        ..Default::default()
    })
    .await
}

async fn whoami(client: &Client) -> Value {
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let req = axum::http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&review).unwrap())
        .unwrap();
    let reply: Value = client.request(req).await.unwrap();
    reply["status"]["userInfo"].clone()
}

#[tokio::test]
async fn a_client_certificate_is_its_common_name_in_its_organizations() {
    let server = restricted().await;
    let jane = pki().issue("jane", Some("developers"));
    let client = Client::try_from(with_credentials(server.config(), &jane)).unwrap();
    assert_eq!(
        whoami(&client).await,
        json!({"username": "jane", "groups": ["developers", "system:authenticated"]})
    );
    match Api::<Namespace>::all(client).get("default").await {
        Err(kube::Error::Api(s)) => assert_eq!(
            s.message,
            "namespaces \"default\" is forbidden: User \"jane\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"default\""
        ),
        other => panic!("jane has no rights yet: {other:?}"),
    }
    let admin = server.client();
    Api::<Namespace>::all(admin).get("default").await.unwrap();
}

#[tokio::test]
async fn anonymous_gets_the_public_info_only() {
    let server = restricted().await;
    let anonymous = Client::try_from(server.config()).unwrap();
    assert_eq!(
        anonymous.apiserver_version().await.unwrap().git_version,
        "v1.37.0-podnet"
    );
    let healthz = axum::http::Request::get("/healthz")
        .body(Vec::new())
        .unwrap();
    assert_eq!(anonymous.request_text(healthz).await.unwrap(), "ok");
    match Api::<Namespace>::all(anonymous)
        .list(&Default::default())
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
            );
        }
        other => panic!("anonymous lists nothing: {other:?}"),
    }
}

#[tokio::test]
async fn a_bad_token_is_401_with_upstreams_status() {
    let server = restricted().await;
    let mut config = server.config();
    config.auth_info.token = Some("not-a-token".to_string().into());
    let client = Client::try_from(config).unwrap();
    let req = axum::http::Request::get("/version")
        .body(Vec::new())
        .unwrap();
    match client.request_text(req).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized"));
            assert_eq!(s.message, "Unauthorized");
        }
        other => panic!("a bad token is no one: {other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let server = restricted().await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes-admin");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:masters");
    let forged = support::Credentials {
        cert_pem: params.self_signed(&key).unwrap().pem(),
        key_pem: key.serialize_pem(),
    };
    let client = Client::try_from(with_credentials(server.config(), &forged)).unwrap();
    let err = Api::<Namespace>::all(client)
        .get("default")
        .await
        .unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_gos_answer() {
    let server = restricted().await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await.unwrap();
    assert_eq!(
        reply,
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
}
