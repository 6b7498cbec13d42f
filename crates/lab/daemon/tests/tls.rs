//! The lab's API server over TLS with the lab's CA, as the daemon serves it: a client
//! trusting the CA reaches it with the admin's client certificate (from the kubeconfig the
//! daemon writes), a component's certificate or a service-account token; one that does not
//! trust the CA is refused, and one without credentials is `system:anonymous`.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use podnet_apiserver::tls::{Listener, TlsListener};
use podnet_lab_daemon::identities::Identity;
use podnet_lab_daemon::pki::Pki;
use podnet_lab_daemon::{client_from_kubeconfig, render_kubeconfig};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_trusting_the_lab_ca_reach_the_api_over_https_with_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&dir.path().join("pki"), &["10.96.0.1".to_owned()]).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let tls =
        TlsListener::new(tcp, &pki.server_cert_pem, &pki.server_key_pem, &pki.ca_pem).unwrap();
    let config = pki.api_config(podnet_apiserver::Config::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let store = dir.path().join("store");
    let server = tokio::spawn(async move {
        podnet_apiserver::serve_on(vec![Listener::Tls(tls)], &store, &config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });

    // The admin, through the kubeconfig the daemon writes for the lab's insides.
    let admin_cert = pki.issue(&Identity::admin()).unwrap();
    let text = render_kubeconfig("t", addr, &pki.ca_pem, &admin_cert);
    let kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
    let admin_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    assert_eq!(admin_config.cluster_url.scheme_str(), Some("https"));
    let admin = Client::try_from(admin_config.clone()).unwrap();
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces.get("kube-system").await.unwrap();

    // A service account's token, over the same TLS.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let sa = serde_json::from_value(json!({"metadata": {"name": "reader"}})).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    let request = TokenRequest {
        spec: Some(TokenRequestSpec::default()),
        ..Default::default()
    };
    let token = accounts
        .create_token_request("reader", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .unwrap();
    // Only the token: a client certificate would authenticate first.
    let mut as_sa = admin_config.clone();
    as_sa.auth_info = Default::default();
    as_sa.auth_info.token = Some(token.into());
    let services: Api<Service> = Api::namespaced(Client::try_from(as_sa).unwrap(), "default");
    match services.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("no RBAC, yet: {other:?}"),
    }

    // A kubelet is its node, and the Node authorizer keeps it to its own Node.
    let kubelet = pki.issue(&Identity::kubelet("kind-worker")).unwrap();
    let kubelet = client_from_kubeconfig(&render_kubeconfig("t", addr, &pki.ca_pem, &kubelet))
        .await
        .unwrap();
    let namespaces_as_kubelet: Api<Namespace> = Api::all(kubelet);
    match namespaces_as_kubelet.get("kube-system").await {
        Err(kube::Error::Api(s)) => assert_eq!(
            s.message,
            "namespaces \"kube-system\" is forbidden: User \"system:node:kind-worker\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"kube-system\""
        ),
        other => panic!("a kubelet reads no namespaces: {other:?}"),
    }

    // No credentials: system:anonymous, refused all but the public info.
    let mut anonymous = admin_config.clone();
    anonymous.auth_info = Default::default();
    let anonymous = Client::try_from(anonymous).unwrap();
    match Api::<Namespace>::all(anonymous.clone())
        .get("kube-system")
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("anonymous is no admin: {other:?}"),
    }
    anonymous.apiserver_version().await.unwrap();

    // Without the lab's CA the server is not trusted.
    let mut untrusting = admin_config;
    untrusting.root_cert = None;
    let namespaces: Api<Namespace> = Api::all(Client::try_from(untrusting).unwrap());
    assert!(namespaces.get("kube-system").await.is_err());

    let _ = stop.send(());
    server.await.unwrap();
}
