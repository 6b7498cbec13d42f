//! The lab's API as a pod meets it (`podnet lab exec` + curl, as a user would try it):
//! every address speaks TLS only (plain HTTP gets Go's 400) and authenticates every request — anonymous requests get
//! the public info (/version, /healthz) and nothing else, on 172.18.0.1:6443 and on the
//! `kubernetes` Service alike; the pod's ServiceAccount token is refused Secrets until a
//! RoleBinding grants them; the token of a deleted pod, an expired or a forged one is 401
//! with upstream's Status body.

#[path = "lab/support.rs"]
mod support;

use podnet_apiserver::auth::SigningKey;
use podnet_apiserver::auth::token::{self, Claims, ISSUER, Private, Ref};
use serde_json::Value;
use support::{Lab, eventually, manifest};

const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const ADDRESSES: &[&str] = &["172.18.0.1:6443", "10.96.0.1:443"];
const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

fn pod(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  \
         - name: c\n    image: busybox\n    command: [sleep, \"3600\"]\n"
    )
}

fn wait_running(lab: &Lab, pod: &str) {
    eventually(120, &format!("{pod} Running"), || {
        let phase = lab.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"]);
        (phase == "Running").then_some(())
    });
}

/// curl inside `pod` trusting the pod's `ca.crt`, with `auth` (extra curl arguments, shell
/// words); the status code and the body.
fn curl(lab: &Lab, pod: &str, auth: &str, url: &str) -> (u16, String) {
    let script =
        format!("curl -s --cacert {TOKEN_DIR}/ca.crt -w '\\n%{{http_code}}' {auth} '{url}'");
    let out = lab.exec(pod, &["sh", "-c", &script]);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (
        code.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no status in {out:?}")),
        body.to_string(),
    )
}

fn bearer(token: &str) -> String {
    format!("-H 'Authorization: Bearer {token}'")
}

/// Upstream's 401 Status, as JSON (key order aside).
fn is_unauthorized((code, body): (u16, String)) -> bool {
    let expected: Value = serde_json::from_str(UNAUTHORIZED).unwrap();
    code == 401 && serde_json::from_str::<Value>(&body).ok() == Some(expected)
}

fn status_message(body: &str) -> String {
    let status: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    status["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn pods_meet_an_api_that_authenticates_every_request_over_tls_only() {
    let lab = Lab::up("auth", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let pods = manifest(
        tmp.path(),
        "pods.yaml",
        &format!("{}---\n{}", pod("probe"), pod("victim")),
    );
    lab.kubectl_ok(&["apply", "-f", pods.to_str().unwrap()]);
    wait_running(&lab, "probe");
    wait_running(&lab, "victim");

    // Anonymous: the public info only, on every address.
    for addr in ADDRESSES {
        let (code, body) = curl(&lab, "probe", "", &format!("https://{addr}/version"));
        assert_eq!(code, 200, "{addr}: {body}");
        assert!(body.contains("gitVersion"), "{body}");
        let (code, body) = curl(&lab, "probe", "", &format!("https://{addr}/healthz"));
        assert_eq!((code, body.as_str()), (200, "ok"), "{addr}");
        let url = format!("https://{addr}/api/v1/namespaces/kube-system/configmaps");
        let (code, body) = curl(&lab, "probe", "", &url);
        assert_eq!(code, 403, "{addr}: {body}");
        assert_eq!(
            status_message(&body),
            "configmaps is forbidden: User \"system:anonymous\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"kube-system\""
        );
        let (code, _) = curl(
            &lab,
            "probe",
            "-X DELETE",
            &format!("{url}/kube-root-ca.crt"),
        );
        assert_eq!(code, 403, "{addr}: anonymous deletes nothing");
    }

    // Plain HTTP is not served on any address: Go's (and so kube-apiserver's) answer.
    for addr in ADDRESSES {
        let (code, body) = curl(&lab, "probe", "", &format!("http://{addr}/version"));
        assert_eq!(
            (code, body.trim()),
            (400, "Client sent an HTTP request to an HTTPS server."),
            "{addr}"
        );
    }

    // The pod's own ServiceAccount token: authenticated, and refused Secrets until bound.
    let auth = format!("-H \"Authorization: Bearer $(cat {TOKEN_DIR}/token)\"");
    let secrets = "https://10.96.0.1:443/api/v1/namespaces/default/secrets";
    let (code, body) = curl(&lab, "probe", &auth, secrets);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        status_message(&body),
        "secrets is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let rbac = manifest(
        tmp.path(),
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: secret-reader}\n\
         rules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: default-reads-secrets}\n\
         subjects:\n- {kind: ServiceAccount, name: default, namespace: default}\n\
         roleRef: {kind: Role, name: secret-reader, apiGroup: rbac.authorization.k8s.io}\n",
    );
    lab.kubectl_ok(&["apply", "-f", rbac.to_str().unwrap()]);
    let (code, body) = curl(&lab, "probe", &auth, secrets);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"kind\":\"SecretList\""), "{body}");

    // A token outlives nothing it is bound to: the victim's, once the victim is gone, is 401.
    let victims_token = lab.exec("victim", &["cat", &format!("{TOKEN_DIR}/token")]);
    let (code, _) = curl(&lab, "probe", &bearer(&victims_token), secrets);
    assert_eq!(code, 200, "the victim's token works while the victim lives");
    lab.kubectl_ok(&["delete", "pod", "victim", "--wait=true"]);
    let (code, body) = curl(&lab, "probe", &bearer(&victims_token), secrets);
    assert!(is_unauthorized((code, body.clone())), "{code} {body}");

    // An expired token, signed with the lab's own key for the live probe pod: 401.
    let uid = |kind: &str, name: &str| {
        lab.kubectl_ok(&["get", kind, name, "-o", "jsonpath={.metadata.uid}"])
    };
    let key = SigningKey::load_or_create(&lab.dir().join("pki/sa.key")).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let expired = Claims {
        aud: vec![ISSUER.into()],
        exp: now - 3600,
        iat: now - 7200,
        iss: ISSUER.into(),
        jti: "expired".into(),
        kubernetes: Private {
            namespace: "default".into(),
            pod: Some(Ref {
                name: "probe".into(),
                uid: uid("pod", "probe"),
            }),
            secret: None,
            serviceaccount: Ref {
                name: "default".into(),
                uid: uid("serviceaccount", "default"),
            },
        },
        nbf: now - 7200,
        sub: token::subject("default", "default"),
    };
    let mut fresh = expired.clone();
    fresh.exp = now + 3600;
    let (code, _) = curl(&lab, "probe", &bearer(&token::issue(&key, &fresh)), secrets);
    assert_eq!(code, 200, "the same claims, unexpired, are a valid token");
    let (code, body) = curl(
        &lab,
        "probe",
        &bearer(&token::issue(&key, &expired)),
        secrets,
    );
    assert!(is_unauthorized((code, body.clone())), "{code} {body}");

    // A forged token (signed by another key) and garbage: 401, never anonymous.
    let forged = token::issue(&SigningKey::generate(), &fresh);
    for wrong in [forged.as_str(), "garbage"] {
        let (code, body) = curl(
            &lab,
            "probe",
            &bearer(wrong),
            "https://172.18.0.1:6443/version",
        );
        assert!(is_unauthorized((code, body.clone())), "{code} {body}");
    }
}
