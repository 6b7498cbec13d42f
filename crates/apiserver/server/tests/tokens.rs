//! The TokenRequest API and bearer-token authentication against the real server: tokens
//! issued for a ServiceAccount are accepted until it is deleted; bad ones get 401.

#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use support::TestServer;

async fn service_account(server: &TestServer, name: &str) -> ServiceAccount {
    let api: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    let sa = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &sa).await.unwrap()
}

async fn token_for(server: &TestServer, name: &str, seconds: Option<i64>) -> TokenRequest {
    let api: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: seconds,
            ..Default::default()
        }),
        ..Default::default()
    };
    api.create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap()
}

fn token_of(request: TokenRequest) -> String {
    request.status.unwrap().token.unwrap()
}

fn client_with_token(server: &TestServer, token: &str) -> Client {
    let mut config = server.config();
    config.auth_info.token = Some(token.to_string().into());
    Client::try_from(config).unwrap()
}

fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_names_its_account_and_lives_until_the_account_is_deleted() {
    let server = TestServer::start().await;
    let sa = service_account(&server, "robot").await;
    let issued = token_for(&server, "robot", Some(1200)).await;
    let status = issued.status.unwrap();
    let token = status.token.unwrap();
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], "system:serviceaccount:default:robot");
    assert_eq!(
        claims["iss"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(
        claims["aud"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert_eq!(claims["kubernetes.io"]["namespace"], "default");
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["uid"],
        sa.metadata.uid.unwrap().as_str()
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1200
    );
    assert_eq!(
        status.expiration_timestamp.unwrap().0.as_second(),
        claims["exp"].as_i64().unwrap()
    );
    let default_lifetime = claims_of(&token_of(token_for(&server, "robot", None).await));
    assert_eq!(
        default_lifetime["exp"].as_i64().unwrap() - default_lifetime["iat"].as_i64().unwrap(),
        3600
    );

    // Any authenticated user may read /version (system:public-info-viewer).
    let as_robot = client_with_token(&server, &token);
    as_robot.apiserver_version().await.unwrap();

    let accounts: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    accounts
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    match as_robot.apiserver_version().await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized"), "{s:?}");
        }
        other => panic!("a deleted account's token was accepted: {other:?}"),
    }
    // A new account of the same name is another account: the old token stays dead.
    service_account(&server, "robot").await;
    assert!(as_robot.apiserver_version().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_foreign_tokens_are_unauthorized() {
    let server = TestServer::start().await;
    service_account(&server, "robot").await;
    let token = token_of(token_for(&server, "robot", None).await);
    // Another server's key signed this one.
    let other = TestServer::start().await;
    service_account(&other, "robot").await;
    let foreign = token_of(token_for(&other, "robot", None).await);
    for bad in ["garbage", foreign.as_str(), &token[..token.len() - 4]] {
        match client_with_token(&server, bad).apiserver_version().await {
            Err(kube::Error::Api(s)) => assert_eq!(s.code, 401, "{s:?}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_are_validated_as_upstream() {
    let server = TestServer::start().await;
    let path = "/api/v1/namespaces/default/serviceaccounts/robot/token";
    let body = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}"#;
    let (code, status) = server.raw("POST", path, "application/json", body).await;
    assert_eq!(code, 404, "{status}");
    assert_eq!(status["message"], r#"serviceaccounts "robot" not found"#);

    service_account(&server, "robot").await;
    let short = r#"{"spec":{"expirationSeconds":599}}"#;
    let (code, status) = server.raw("POST", path, "application/json", short).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Invalid value: 599: may not specify a duration less than 10 minutes"
    );

    let pods = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            r#"{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#,
        )
        .await;
    assert_eq!(pods.0, 201, "{}", pods.1);
    let bound = r#"{"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web"}}}"#;
    let (code, status) = server.raw("POST", path, "application/json", bound).await;
    assert_eq!(code, 400, "a pod of another account: {status}");
    let default_path = "/api/v1/namespaces/default/serviceaccounts/default/token";
    service_account(&server, "default").await;
    let (code, reply) = server
        .raw("POST", default_path, "application/json", bound)
        .await;
    assert_eq!(code, 201, "{reply}");
    let claims = claims_of(reply["status"]["token"].as_str().unwrap());
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "web");
    assert_eq!(
        claims["kubernetes.io"]["pod"]["uid"],
        pods.1["metadata"]["uid"]
    );
}
