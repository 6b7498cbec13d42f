//! CustomResourceDefinitions driven as a user would: the documentation's CronTab CRD
//! (examples/manifests) applied with the real kubectl, then its objects through every verb.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use kubectl::Kubectl;
use support::TestServer;

const CRD: &str = include_str!("../../../../examples/manifests/crontab-crd.yaml");
const CRONTAB: &str = include_str!("../../../../examples/manifests/crontab.yaml");

/// The CronTab with `spec` replaced by `spec`.
fn crontab(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\n  \
         labels: {{app: cron}}\nspec: {spec}\n"
    )
}

async fn with_crd() -> (TestServer, Kubectl) {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let crd = k.write("crd.yaml", CRD);
    let out = k.run(&["apply", "-f", &crd]).await;
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"
        ),
        "{out}"
    );
    (server, k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_serves_its_kind_at_once_with_columns_defaults_and_discovery() {
    let (_server, k) = with_crd().await;
    let cr = k.write("crontab.yaml", CRONTAB);
    let out = k.run(&["apply", "-f", &cr]).await;
    assert!(
        out.contains("crontab.stable.example.com/my-new-cron-object created"),
        "{out}"
    );

    let out = k.run(&["get", "crontabs"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{out}");
    let row = out.lines().nth(1).unwrap();
    assert!(row.starts_with("my-new-cron-object"), "{out}");
    assert!(row.contains("* * * * */5"), "{out}");
    // The schema's default filled in spec.replicas.
    let replicas = k
        .run(&[
            "get",
            "ct",
            "my-new-cron-object",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await;
    assert_eq!(replicas, "1");

    let out = k.run(&["get", "crd", "crontabs.stable.example.com", "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status} {.status.acceptedNames.kind} {.status.storedVersions}"]).await;
    assert_eq!(out, "True CronTab [\"v1\"]");

    let out = k
        .run(&["api-resources", "--api-group=stable.example.com"])
        .await;
    let line = out
        .lines()
        .find(|l| l.starts_with("crontabs"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    );
    let out = k
        .run(&["api-resources", "--categories=api-extensions", "-o", "name"])
        .await;
    assert!(
        out.contains("customresourcedefinitions.apiextensions.k8s.io"),
        "{out}"
    );

    let out = k.run(&["describe", "crontab", "my-new-cron-object"]).await;
    assert!(
        out.contains("Cron Spec:") && out.contains("my-awesome-cron-image"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_validated_and_pruned_against_the_schema() {
    let (_server, k) = with_crd().await;
    let bad = k.write(
        "bad.yaml",
        &crontab("bad", "{cronSpec: '* * * * */5', replicas: 11}"),
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(
        err.contains("The CronTab \"bad\" is invalid: spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
        "{err}"
    );
    let missing = k.write("missing.yaml", &crontab("missing", "{image: x}"));
    let (ok, _, err) = k.try_run(&["apply", "-f", &missing]).await;
    assert!(!ok);
    assert!(err.contains("spec.cronSpec: Required value"), "{err}");

    // Strict field validation (kubectl's default) refuses an unknown field ...
    let unknown = k.write(
        "unknown.yaml",
        &crontab("extra", "{cronSpec: '* * * * */5', bogus: 1}"),
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &unknown]).await;
    assert!(!ok);
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    // ... and under `--validate=warn` the field is pruned, with a warning.
    let (ok, _, err) = k
        .try_run(&["apply", "--validate=warn", "-f", &unknown])
        .await;
    assert!(ok, "{err}");
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    let spec = k
        .run(&["get", "ct", "extra", "-o", "jsonpath={.spec}"])
        .await;
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        spec,
        serde_json::json!({"cronSpec": "* * * * */5", "replicas": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_scale_subresources_and_patches() {
    let (_server, k) = with_crd().await;
    let cr = k.write("crontab.yaml", CRONTAB);
    k.run(&["apply", "-f", &cr]).await;
    let get = |path: &'static str| {
        let k = &k;
        async move {
            k.run(&[
                "get",
                "ct",
                "my-new-cron-object",
                "-o",
                &format!("jsonpath={path}"),
            ])
            .await
        }
    };

    // The main resource ignores status; /status takes only status, without a new generation.
    k.run(&[
        "patch",
        "ct",
        "my-new-cron-object",
        "--type=merge",
        "-p",
        r#"{"spec": {"image": "v2"}, "status": {"replicas": 5}}"#,
    ])
    .await;
    assert_eq!(
        get("{.spec.image} {.status} {.metadata.generation}").await,
        "v2  2"
    );
    k.run(&[
        "patch",
        "ct",
        "my-new-cron-object",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec": {"image": "v3"}, "status": {"replicas": 1, "labelSelector": "app=cron"}}"#,
    ])
    .await;
    assert_eq!(
        get("{.spec.image} {.status.replicas} {.metadata.generation}").await,
        "v2 1 2"
    );

    // kubectl scale goes through /scale, over the CRD's paths.
    let out = k
        .run(&["scale", "ct", "my-new-cron-object", "--replicas=3"])
        .await;
    assert!(
        out.contains("crontab.stable.example.com/my-new-cron-object scaled"),
        "{out}"
    );
    assert_eq!(get("{.spec.replicas} {.metadata.generation}").await, "3 3");
    let scale = k
        .run(&[
            "get",
            "--raw",
            "/apis/stable.example.com/v1/namespaces/default/crontabs/my-new-cron-object/scale",
        ])
        .await;
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=cron");

    // A JSON patch works; a strategic merge patch is refused as for any custom resource.
    k.run(&[
        "patch",
        "ct",
        "my-new-cron-object",
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/spec/cronSpec", "value": "0 * * * *"}]"#,
    ])
    .await;
    assert_eq!(get("{.spec.cronSpec}").await, "0 * * * *");
    let (ok, _, err) = k
        .try_run(&[
            "patch",
            "ct",
            "my-new-cron-object",
            "-p",
            r#"{"spec": {"image": "v4"}}"#,
        ])
        .await;
    assert!(!ok);
    assert!(
        err.contains("unknown format") || err.contains("strategic"),
        "{err}"
    );

    // Label selectors and metadata field selectors.
    let out = k.run(&["get", "ct", "-l", "app=cron", "-o", "name"]).await;
    assert_eq!(out.trim(), "");
    let out = k
        .run(&[
            "get",
            "ct",
            "--field-selector",
            "metadata.name=my-new-cron-object",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(out.trim(), "crontab.stable.example.com/my-new-cron-object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_reads_the_crd_schema() {
    let (_server, k) = with_crd().await;
    let out = k.run(&["explain", "crontab"]).await;
    assert!(out.contains("KIND:") && out.contains("CronTab"), "{out}");
    assert!(
        out.contains("stable.example.com/v1") || out.contains("VERSION:"),
        "{out}"
    );
    assert!(
        out.contains("A CronTab runs an image on a cron schedule."),
        "{out}"
    );
    let out = k.run(&["explain", "crontab.spec.cronSpec"]).await;
    assert!(out.contains("The schedule, in cron format."), "{out}");
    let out = k.run(&["explain", "crontab.spec", "--recursive"]).await;
    assert!(out.contains("replicas") && out.contains("image"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_crd_removes_its_objects_and_its_discovery() {
    let (_server, k) = with_crd().await;
    let cr = k.write("crontab.yaml", CRONTAB);
    k.run(&["apply", "-f", &cr]).await;
    let out = k
        .run(&["delete", "crd", "crontabs.stable.example.com"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let (ok, _, err) = k.try_run(&["get", "crontabs"]).await;
    assert!(!ok);
    // kubectl's discovery cache still knows the kind; the server does not.
    assert!(
        err.contains("the server could not find the requested resource"),
        "{err}"
    );
    let crd = k.write("crd.yaml", CRD);
    k.run(&["apply", "-f", &crd]).await;
    let out = k.run(&["get", "crontabs", "-o", "name"]).await;
    assert_eq!(out.trim(), "", "the objects went with their CRD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_crds_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let bad = CRD.replace(
        "name: crontabs.stable.example.com",
        "name: crontab.stable.example.com",
    );
    let path = k.write("bad.yaml", &bad);
    let (ok, _, err) = k.try_run(&["apply", "-f", &path]).await;
    assert!(!ok);
    assert!(
        err.contains("metadata.name: Invalid value: \"crontab.stable.example.com\": must be spec.names.plural+\".\"+spec.group"),
        "{err}"
    );
    let webhook = CRD.replace(
        "  scope: Namespaced",
        "  scope: Namespaced\n  conversion:\n    strategy: Webhook",
    );
    let path = k.write("webhook.yaml", &webhook);
    let (ok, _, err) = k.try_run(&["apply", "-f", &path]).await;
    assert!(!ok);
    assert!(err.contains("spec.conversion.strategy: Forbidden"), "{err}");
}

const TWO_VERSIONS: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {plural: widgets, kind: Widget, categories: [all]}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string, default: blue}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_versions_are_served_and_survive_a_restart() {
    let mut server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let crd = k.write("widgets.yaml", TWO_VERSIONS);
    k.run(&["apply", "-f", &crd]).await;
    let old = k.write(
        "w.yaml",
        "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 2}\n",
    );
    k.run(&["apply", "-f", &old]).await;

    // The preferred version is the GA one; the object reads in either version (conversion
    // None: only apiVersion differs), with v1's default applied on read.
    let group = k.run(&["get", "--raw", "/apis/example.com"]).await;
    let group: serde_json::Value = serde_json::from_str(&group).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let v1 = k
        .run(&["get", "--raw", "/apis/example.com/v1/widgets/w"])
        .await;
    let v1: serde_json::Value = serde_json::from_str(&v1).unwrap();
    assert_eq!(v1["apiVersion"], "example.com/v1");
    assert_eq!(v1["spec"], serde_json::json!({"size": 2, "color": "blue"}));
    let beta = k
        .run(&["get", "--raw", "/apis/example.com/v1beta1/widgets/w"])
        .await;
    let beta: serde_json::Value = serde_json::from_str(&beta).unwrap();
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"], serde_json::json!({"size": 2}));

    // The category puts widgets under `kubectl get all`; server-side apply works on them.
    let out = k.run(&["get", "all", "-o", "name"]).await;
    assert!(out.contains("widget.example.com/w"), "{out}");
    let ssa = k.write(
        "ssa.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: s}\nspec: {size: 5}\n",
    );
    let out = k.run(&["apply", "--server-side", "-f", &ssa]).await;
    assert!(
        out.contains("widget.example.com/s serverside-applied"),
        "{out}"
    );

    server.restart().await;
    let k = Kubectl::new(&server.url());
    let out = k.run(&["get", "widgets", "-o", "name"]).await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["widget.example.com/s", "widget.example.com/w"]
    );
    let crd = k
        .run(&[
            "get",
            "crd",
            "widgets.example.com",
            "-o",
            "jsonpath={.status.storedVersions}",
        ])
        .await;
    assert_eq!(crd, "[\"v1\"]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_crd_with_a_taken_plural_is_not_established() {
    let (_server, k) = with_crd().await;
    // Another plural in the same group, with the kind CronTab already has.
    let other = CRD
        .replace("crontabs", "crontables")
        .replace("- ct", "- ctb");
    let path = k.write("other.yaml", &other);
    k.run(&["apply", "-f", &path]).await;
    let out = k
        .run(&["get", "crd", "crontables.stable.example.com", "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].reason} {.status.conditions[?(@.type==\"Established\")].status}"])
        .await;
    assert_eq!(out, "NameConflict False");
    let (ok, _, _) = k
        .try_run(&["get", "--raw", "/apis/stable.example.com/v1/crontables"])
        .await;
    assert!(!ok, "a CRD whose names are not accepted serves nothing");
}
