//! LoadBalancer addresses on the node network (L2): the external host reaches an
//! EXTERNAL-IP because exactly one node answers ARP for it (no route or static neighbour
//! anywhere); with `externalTrafficPolicy: Local` the answering node has a ready endpoint
//! and the client's address reaches the pod; deleting the Service silences the address.
//! In the same lab: kubernetes.io's "Exposing an External IP Address to Access an
//! Application in a Cluster" tutorial word for word, a node labelled
//! `node.kubernetes.io/exclude-from-external-load-balancers` giving its addresses up, and
//! the Lease of an address no Service has deleted by the allocator's leader.
//! The fail-over drills are in `lab_load_balancer_drills.rs`.

#[path = "lab/support.rs"]
mod support;

#[path = "lab/l2.rs"]
mod l2;

use std::path::Path;

use l2::{VIP, arp_answers, external_get, holder, node_mac};
use support::{Lab, eventually, manifest};

/// The tutorial's `load-balancer-example.yaml`, with the image its text answers for
/// (`Hello Kubernetes!`: node-hello; the file upstream now names hello-app:2.0, which the lab
/// emulates as well).
const LOAD_BALANCER_EXAMPLE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: load-balancer-example
  name: hello-world
spec:
  replicas: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: load-balancer-example
  template:
    metadata:
      labels:
        app.kubernetes.io/name: load-balancer-example
    spec:
      containers:
      - image: gcr.io/google-samples/node-hello:1.0
        name: hello-world
        ports:
        - containerPort: 8080
          protocol: TCP
";
const EXCLUDE: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

#[test]
fn lab_l2_external_host_reaches_the_address_one_node_answers_for() {
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", l2::WEB);
    let lab = Lab::up("l2", &["-f", web.to_str().unwrap()]);
    lab.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ]);
    assert_eq!(l2::external_ip(&lab, "web"), VIP);

    let host = eventually(60, "the external host to reach the EXTERNAL-IP", || {
        external_get(&lab, &format!("http://{VIP}/hostname"))
    });
    assert!(host.starts_with("web-"), "{host}");
    // Exactly one node answers, the Lease's holder, with its own MAC.
    let holder_node = eventually(30, "a holder of the address's Lease", || holder(&lab, VIP));
    let answers = arp_answers(&lab, VIP);
    assert_eq!(
        answers,
        [node_mac(&lab, &holder_node)],
        "one answer, the holder's"
    );

    // Local: only a node with a ready endpoint may announce, and the client address stays.
    lab.kubectl_ok(&[
        "patch",
        "svc",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"externalTrafficPolicy":"Local"}}"#,
    ]);
    let pod_nodes = lab.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    let local_holder = eventually(60, "a holder with a local endpoint", || {
        holder(&lab, VIP).filter(|h| pod_nodes.split_whitespace().any(|n| n == h))
    });
    // Until the proxy has synced the patch, answers may still come through the Cluster
    // policy's masquerade: wait for the client's own address.
    let client = eventually(60, "the client address through a Local Service", || {
        external_get(&lab, &format!("http://{VIP}/clientip"))
            .filter(|client| client.starts_with("203.0.113.10:"))
    });
    assert!(client.starts_with("203.0.113.10:"), "{client}");
    assert_eq!(arp_answers(&lab, VIP), [node_mac(&lab, &local_holder)]);

    // Deleting the Service: nobody answers for the address any more.
    lab.kubectl_ok(&["delete", "svc", "web"]);
    eventually(30, "the address to fall silent", || {
        arp_answers(&lab, VIP).is_empty().then_some(())
    });

    let ip = expose_external_ip_address_tutorial(&lab, tmp.path());
    excluded_node_gives_up_its_addresses(&lab, &ip);

    // The tutorial's cleanup.
    lab.kubectl_ok(&["delete", "services", "my-service"]);
    lab.kubectl_ok(&["delete", "deployment", "hello-world"]);
    // The address's Lease outlives its Service only until the allocator's leader sweeps it.
    let lease = format!("podnet-l2-{}", ip.replace('.', "-"));
    eventually(60, "the Lease of a deleted Service's address to go", || {
        let out = lab.kubectl(&["get", "lease", "-n", "kube-system", &lease]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        (!out.status.success() && stderr.contains("NotFound")).then_some(())
    });
}

/// <https://kubernetes.io/docs/tutorials/stateless-application/expose-external-ip-address/>,
/// each command as the page gives it; the curl from the external host (outside the
/// cluster). Returns the EXTERNAL-IP.
fn expose_external_ip_address_tutorial(lab: &Lab, dir: &Path) -> String {
    let example = manifest(dir, "load-balancer-example.yaml", LOAD_BALANCER_EXAMPLE);
    lab.kubectl_ok(&["apply", "-f", example.to_str().unwrap()]);
    lab.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/hello-world",
        "--timeout=180s",
    ]);
    let deployment = lab.kubectl_ok(&["get", "deployments", "hello-world"]);
    assert!(deployment.contains("5/5"), "{deployment}");
    let described = lab.kubectl_ok(&["describe", "deployments", "hello-world"]);
    assert!(
        described.contains("5 desired | 5 updated | 5 total | 5 available"),
        "{described}"
    );
    let replicasets = lab.kubectl_ok(&["get", "replicasets"]);
    assert!(replicasets.contains("hello-world-"), "{replicasets}");
    let described = lab.kubectl_ok(&["describe", "replicasets"]);
    assert!(described.contains("5 current / 5 desired"), "{described}");

    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "hello-world",
        "--type=LoadBalancer",
        "--name=my-service",
    ]);
    // NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, the EXTERNAL-IP filled.
    let row = eventually(60, "my-service's EXTERNAL-IP", || {
        let out = lab.kubectl_ok(&["get", "services", "my-service"]);
        let row: Vec<String> = out
            .lines()
            .nth(1)?
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        (row.len() == 6 && row[3] != "<pending>").then_some(row)
    });
    assert_eq!(row[1], "LoadBalancer", "{row:?}");
    assert!(
        row[4].starts_with("8080:") && row[4].ends_with("/TCP"),
        "{row:?}"
    );
    let ip = row[3].clone();
    assert!(ip.starts_with("172.18.255."), "from the lab's pool: {ip}");
    // Compared with runs of blanks as one: the column width is kubectl's business.
    let described = eventually(60, "describe to show the five endpoints", || {
        let out = lab.kubectl_ok(&["describe", "services", "my-service"]);
        let words: Vec<&str> = out.split_whitespace().collect();
        out.contains("+ 2 more...").then(|| words.join(" "))
    });
    for want in [
        "Labels: app.kubernetes.io/name=load-balancer-example",
        "Selector: app.kubernetes.io/name=load-balancer-example",
        "Type: LoadBalancer",
        &format!("LoadBalancer Ingress: {ip}"),
        "Port: <unset> 8080/TCP",
    ] {
        assert!(described.contains(want), "{want}:\n{described}");
    }
    let pods = lab.kubectl_ok(&["get", "pods", "--output=wide"]);
    let hello: Vec<&str> = pods
        .lines()
        .filter(|l| l.starts_with("hello-world-"))
        .collect();
    assert_eq!(hello.len(), 5, "{pods}");
    assert!(hello.iter().all(|l| l.contains(" 10.244.")), "{pods}");

    // curl http://<external-ip>:<port>, from outside the cluster.
    let answer = eventually(
        60,
        "the external host to reach the tutorial's service",
        || external_get(lab, &format!("http://{ip}:8080")),
    );
    assert_eq!(answer, "Hello Kubernetes!");
    ip
}

/// Labelling the announcing node `node.kubernetes.io/exclude-from-external-load-balancers`
/// (as for a node being drained from load balancers): it releases the address, another
/// node answers ARP for it, and the address keeps answering from outside.
fn excluded_node_gives_up_its_addresses(lab: &Lab, ip: &str) {
    let first = eventually(30, "a holder of the tutorial's address", || holder(lab, ip));
    lab.kubectl_ok(&["label", "node", &first, &format!("{EXCLUDE}=")]);
    let next = eventually(60, "another node to take the address over", || {
        holder(lab, ip).filter(|h| *h != first)
    });
    let mac = node_mac(lab, &next);
    eventually(60, "only the new holder to answer ARP", || {
        (arp_answers(lab, ip) == [mac.clone()]).then_some(())
    });
    let answer = eventually(60, "the address to answer from its new node", || {
        external_get(lab, &format!("http://{ip}:8080"))
    });
    assert_eq!(answer, "Hello Kubernetes!");
    lab.kubectl_ok(&["label", "node", &first, &format!("{EXCLUDE}-")]);
}
