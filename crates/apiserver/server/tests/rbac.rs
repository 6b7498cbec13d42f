//! RBAC enforced for service-account tokens against the real server: denials worded as
//! upstream, bindings to the bootstrap roles, the review kinds, an admin token in
//! `system:masters`, and kubectl's `auth` verbs.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use kubectl::Kubectl;
use podnet_apiserver::auth::{StaticToken, UserInfo};
use serde_json::{Value, json};
use support::TestServer;

const ADMIN_TOKEN: &str = "admin-token-for-tests";

async fn server() -> TestServer {
    TestServer::start_with(podnet_apiserver::Config {
        static_tokens: vec![StaticToken {
            token: ADMIN_TOKEN.into(),
            user: UserInfo::named("kubernetes-admin", &["system:masters"]),
        }],
        ..Default::default()
    })
    .await
}

async fn token(server: &TestServer, ns: &str, name: &str) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(server.client(), ns);
    let sa = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("{e}"),
    }
    let request = TokenRequest {
        spec: Some(TokenRequestSpec::default()),
        ..Default::default()
    };
    let issued = api
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap();
    issued.status.unwrap().token.unwrap()
}

fn client_with_token(server: &TestServer, token: &str) -> Client {
    let mut config = server.config();
    config.auth_info.token = Some(token.to_string().into());
    Client::try_from(config).unwrap()
}

/// POSTs a review as the holder of `token` and returns its status.
async fn review(client: &Client, path: &str, body: Value) -> Value {
    let req = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let reply: Value = client.request(req).await.unwrap();
    reply["status"].clone()
}

fn can(verb: &str, resource: &str, ns: &str) -> Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": ns}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_is_refused_until_a_binding_grants_view() {
    let server = server().await;
    let token = token(&server, "default", "default").await;
    let as_sa = client_with_token(&server, &token);
    let services: Api<Service> = Api::namespaced(as_sa.clone(), "default");
    match services.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert_eq!(s.reason, "Forbidden");
            assert_eq!(
                s.message,
                "services is forbidden: User \"system:serviceaccount:default:default\" cannot \
                 list resource \"services\" in API group \"\" in the namespace \"default\""
            );
        }
        other => panic!("listed services without RBAC: {other:?}"),
    }
    // Discovery is everyone's (system:discovery).
    as_sa.list_api_groups().await.unwrap();
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    assert_eq!(
        review(&as_sa, ssar, can("list", "services", "default")).await["allowed"],
        false
    );

    let bindings: Api<RoleBinding> = Api::namespaced(server.client(), "default");
    let view: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "default-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]}))
    .unwrap();
    bindings
        .create(&PostParams::default(), &view)
        .await
        .unwrap();

    let names: Vec<String> = services
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    assert!(names.iter().all(|n| !n.is_empty()));
    let status = review(&as_sa, ssar, can("list", "services", "default")).await;
    assert_eq!(status["allowed"], true);
    assert_eq!(
        status["reason"],
        "RBAC: allowed by RoleBinding \"default-view/default\" of ClusterRole \"view\" to \
         ServiceAccount \"default/default\""
    );
    // view reads but does not write, and does not read secrets; only in its namespace.
    assert_eq!(
        review(&as_sa, ssar, can("delete", "services", "default")).await["allowed"],
        false
    );
    assert_eq!(
        review(&as_sa, ssar, can("list", "secrets", "default")).await["allowed"],
        false
    );
    assert_eq!(
        review(&as_sa, ssar, can("list", "services", "kube-system")).await["allowed"],
        false
    );
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}]}}))
    .unwrap();
    match services.create(&PostParams::default(), &svc).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403),
        other => panic!("view created a service: {other:?}"),
    }

    bindings
        .delete("default-view", &DeleteParams::default())
        .await
        .unwrap();
    assert!(services.list(&ListParams::default()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_answer_who_and_what_for_self_and_others() {
    let server = server().await;
    let token = token(&server, "default", "builder").await;
    let as_sa = client_with_token(&server, &token);
    let who = review(
        &as_sa,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(
        who["userInfo"]["username"],
        "system:serviceaccount:default:builder"
    );
    assert_eq!(
        who["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );

    let admin = client_with_token(&server, ADMIN_TOKEN);
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "system:serviceaccount:default:builder",
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"verb": "create", "group": "authentication.k8s.io",
                "resource": "selfsubjectreviews"}}});
    let status = review(
        &admin,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        sar,
    )
    .await;
    assert_eq!(status["allowed"], true);
    assert_eq!(
        status["reason"],
        "RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \
         \"system:basic-user\" to Group \"system:authenticated\""
    );
    let as_admin = review(
        &admin,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        can("delete", "nodes", ""),
    )
    .await;
    assert_eq!(as_admin["allowed"], true);

    let rules = review(
        &as_sa,
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": "default"}}),
    )
    .await;
    assert_eq!(rules["incomplete"], false);
    let resources: Vec<&str> = rules["resourceRules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(resources.contains(&"selfsubjectaccessreviews"), "{rules}");
    assert!(!resources.contains(&"pods"), "{rules}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_impersonates_and_a_service_account_may_not() {
    let server = server().await;
    let sa = token(&server, "default", "default").await;
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let whoami = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    let as_default = {
        let mut config = server.config();
        config.auth_info.token = Some(ADMIN_TOKEN.to_string().into());
        config.auth_info.impersonate = Some("system:serviceaccount:default:default".into());
        Client::try_from(config).unwrap()
    };
    let who = review(&as_default, whoami, json!({})).await;
    assert_eq!(
        who["userInfo"]["username"],
        "system:serviceaccount:default:default"
    );
    assert_eq!(
        who["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert_eq!(
        review(&as_default, ssar, can("get", "services", "default")).await["allowed"],
        false
    );

    let mut config = server.config();
    config.auth_info.token = Some(sa.into());
    config.auth_info.impersonate = Some("kubernetes-admin".into());
    config.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    let escalating = Client::try_from(config).unwrap();
    match escalating.apiserver_version().await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                "users \"kubernetes-admin\" is forbidden: User \
                 \"system:serviceaccount:default:default\" cannot impersonate resource \"users\" \
                 in API group \"\" at the cluster scope"
            );
        }
        other => panic!("impersonated without the right: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_roles_are_served_and_printed() {
    let server = server().await;
    let k = Kubectl::new(&server.url());
    let out = k.run(&["get", "clusterroles"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.lines().next().unwrap().contains("CREATED AT"), "{out}");
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{role} "))),
            "{role}: {out}"
        );
    }
    let out = k
        .run(&["get", "clusterrolebinding", "cluster-admin", "-o", "wide"])
        .await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[1], "ClusterRole/cluster-admin", "{out}");
    assert!(row.contains(&"system:masters"), "{out}");
    // view aggregates the read rules of system:aggregate-to-view.
    let view = k.run(&["get", "clusterrole", "view", "-o", "json"]).await;
    let view: Value = serde_json::from_str(&view).unwrap();
    assert!(view["rules"].as_array().unwrap().iter().any(|r| {
        r["resources"]
            .as_array()
            .unwrap()
            .contains(&json!("services"))
    }));

    let bad = k.write(
        "bad.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects: []\n",
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""
        ),
        "{err}"
    );
}

/// kubectl's `auth` verbs post their reviews as protobuf. client-go sends no bearer token
/// over plain HTTP, so the service account is taken on by impersonation here (the token path
/// is covered over TLS by the lab daemon's tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_and_whoami_answer_over_protobuf() {
    let server = server().await;
    let k = Kubectl::new(&server.url());
    let sa = "--as=system:serviceaccount:default:default";
    let out = k.run(&["auth", "can-i", "list", "pods"]).await;
    assert_eq!(out.trim(), "yes");
    let out = k.run(&["auth", "whoami", sa]).await;
    assert!(
        out.contains("system:serviceaccount:default:default"),
        "{out}"
    );
    let (ok, out, _) = k.try_run(&["auth", "can-i", "list", "services", sa]).await;
    assert!(!ok);
    assert_eq!(out.trim(), "no");
    let out = k.run(&["auth", "can-i", "--list", sa]).await;
    assert!(
        out.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{out}"
    );
    k.run(&["create", "serviceaccount", "robot"]).await;
    let out = k.run(&["create", "token", "robot"]).await;
    assert_eq!(out.trim().split('.').count(), 3, "{out}");
}
