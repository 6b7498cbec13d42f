//! The images of docs/images.md in a lab: one pod per image, no command, each answering as
//! the table says over the pod network (curl from a client pod); a shell image without
//! stdin exits and restarts as in Kubernetes; an image the lab does not emulate waits with
//! ErrImagePull/ImagePullBackOff and says to give a command, through kubectl.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, eventually, manifest};

const PODS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: c, image: busybox, command: [sleep, '3600']}]
---
apiVersion: v1
kind: Pod
metadata: {name: nginx}
spec:
  containers: [{name: c, image: 'nginx:1.27', ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: httpd}
spec:
  containers: [{name: c, image: httpd}]
---
apiVersion: v1
kind: Pod
metadata: {name: httpbin}
spec:
  containers: [{name: c, image: kennethreitz/httpbin}]
---
apiVersion: v1
kind: Pod
metadata: {name: kong}
spec:
  containers: [{name: c, image: 'kong/httpbin:0.1.0'}]
---
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  containers: [{name: c, image: 'gcr.io/google-samples/hello-app:2.0'}]
---
apiVersion: v1
kind: Pod
metadata: {name: hello-port}
spec:
  containers: [{name: c, image: 'gcr.io/google-samples/hello-app:1.0', env: [{name: PORT, value: '9000'}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: serve}
spec:
  containers: [{name: c, image: 'registry.k8s.io/serve_hostname:v1.4'}]
---
apiVersion: v1
kind: Pod
metadata: {name: pause}
spec:
  containers: [{name: c, image: 'registry.k8s.io/pause:3.10'}]
---
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  containers: [{name: c, image: alpine}]
---
apiVersion: v1
kind: Pod
metadata: {name: unknown}
spec:
  containers: [{name: c, image: 'example.com/shop/cart:3'}]
";

const SERVERS: [&str; 8] = [
    "nginx",
    "httpd",
    "httpbin",
    "kong",
    "hello",
    "hello-port",
    "serve",
    "pause",
];

struct Images {
    lab: Lab,
}

impl Images {
    fn ip(&self, pod: &str) -> String {
        self.lab
            .kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.status.podIP}"])
    }

    /// curl from the client pod: `-s` plus `args`, then the URL on `pod`'s address.
    fn curl(&self, pod: &str, args: &[&str], port_path: &str) -> String {
        let url = format!("http://{}{port_path}", self.ip(pod));
        self.lab.exec(
            "client",
            &[&["curl", "-sS", "--max-time", "20"], args, &[&url]].concat(),
        )
    }

    fn status(&self, pod: &str, port_path: &str) -> String {
        self.curl(pod, &["-o", "/dev/null", "-w", "%{http_code}"], port_path)
    }
}

#[test]
fn lab_images_answer_as_documented_and_unknown_images_wait_for_a_command() {
    let lab = Lab::up("images", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let pods = manifest(tmp.path(), "pods.yaml", PODS);
    lab.kubectl_ok(&["apply", "-f", pods.to_str().unwrap()]);
    let ready: Vec<String> = ["client"]
        .iter()
        .chain(&SERVERS)
        .map(|p| format!("pod/{p}"))
        .collect();
    let mut wait = vec!["wait", "--for=condition=Ready", "--timeout=120s"];
    wait.extend(ready.iter().map(String::as_str));
    lab.kubectl_ok(&wait);
    let t = Images { lab };

    // nginx: its start page and headers, its 404 page.
    let page = t.curl("nginx", &["-i"], "/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("Server: nginx/1.27"), "{page}");
    assert!(page.contains("<title>Welcome to nginx!</title>"), "{page}");
    assert_eq!(t.status("nginx", "/missing"), "404");
    assert!(
        t.curl("nginx", &[], "/missing")
            .contains("<center><h1>404 Not Found</h1></center>")
    );

    // httpd: "It works!".
    assert_eq!(
        t.curl("httpd", &[], "/"),
        "<html><body><h1>It works!</h1></body></html>\n"
    );
    assert!(t.curl("httpd", &["-I"], "/").contains("Server: Apache/2.4"));

    // httpbin, both images: the API's JSON.
    let client_ip = t.ip("client");
    for pod in ["httpbin", "kong"] {
        let get: serde_json::Value =
            serde_json::from_str(&t.curl(pod, &["-H", "X-Test: yes"], "/get?x=1")).unwrap();
        assert_eq!(get["args"], serde_json::json!({"x": "1"}), "{get}");
        assert_eq!(get["headers"]["X-Test"], "yes", "{get}");
        assert_eq!(get["origin"], client_ip.as_str(), "{get}");
        let post: serde_json::Value = serde_json::from_str(&t.curl(
            pod,
            &[
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"a": [1]}"#,
            ],
            "/post",
        ))
        .unwrap();
        assert_eq!(post["json"], serde_json::json!({"a": [1]}), "{post}");
        let agent: serde_json::Value =
            serde_json::from_str(&t.curl(pod, &["-A", "podnet-test"], "/user-agent")).unwrap();
        assert_eq!(agent["user-agent"], "podnet-test");
        assert_eq!(t.status(pod, "/status/418"), "418");
        assert_eq!(
            t.curl(
                pod,
                &["-o", "/dev/null", "-w", "%{size_download}"],
                "/bytes/100"
            ),
            "100"
        );
        let uuid: serde_json::Value = serde_json::from_str(&t.curl(pod, &[], "/uuid")).unwrap();
        assert_eq!(uuid["uuid"].as_str().unwrap().len(), 36, "{uuid}");
    }

    // hello-app: its three lines, the tag's version, $PORT honoured.
    assert_eq!(
        t.curl("hello", &[], ":8080/"),
        "Hello, world!\nVersion: 2.0.0\nHostname: hello\n"
    );
    assert_eq!(
        t.curl("hello-port", &[], ":9000/any/path"),
        "Hello, world!\nVersion: 1.0.0\nHostname: hello-port\n"
    );
    // serve_hostname: the hostname on 9376.
    assert_eq!(t.curl("serve", &[], ":9376/"), "serve");

    // The Pulled event says the image is emulated, and what runs.
    let events = t.lab.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=hello,reason=Pulled",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(
        events.contains("(image emulated: podnet workload hello-app)"),
        "{events}"
    );

    // A shell image without stdin: sh exits at once and the container restarts.
    eventually(90, "alpine's sh restarting", || {
        let n = t.lab.kubectl_ok(&[
            "get",
            "pod",
            "shell",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]);
        (n.parse::<u32>().unwrap_or(0) >= 1).then_some(())
    });

    // An image the lab cannot run without a command: Waiting, saying so.
    let (reason, message) = eventually(60, "the unknown image's waiting reason", || {
        let out = t.lab.kubectl_ok(&[
            "get",
            "pod",
            "unknown",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}",
        ]);
        let (reason, message) = out.split_once('|')?;
        (reason == "ErrImagePull" || reason == "ImagePullBackOff")
            .then(|| (reason.to_owned(), message.to_owned()))
    });
    assert!(
        message.contains("\"example.com/shop/cart:3\"") && message.contains("command"),
        "{reason}: {message}"
    );
    let phase = t
        .lab
        .kubectl_ok(&["get", "pod", "unknown", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Pending");
    eventually(60, "ImagePullBackOff in kubectl get pods", || {
        let out = t.lab.kubectl_ok(&["get", "pod", "unknown"]);
        out.contains("ImagePullBackOff").then_some(())
    });
}
