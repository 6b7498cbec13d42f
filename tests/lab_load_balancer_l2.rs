//! LoadBalancer addresses on the node network (L2): the external host reaches an
//! EXTERNAL-IP because exactly one node answers ARP for it (no route or static neighbour
//! anywhere); with `externalTrafficPolicy: Local` the answering node has a ready endpoint
//! and the client's address reaches the pod; deleting the Service silences the address.
//! The fail-over drills are in `lab_load_balancer_drills.rs`.

#[path = "lab/support.rs"]
mod support;

#[path = "lab/l2.rs"]
mod l2;

use l2::{VIP, arp_answers, external_get, holder, node_mac};
use support::{Lab, eventually, manifest};

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
    let client = eventually(60, "the client address through a Local Service", || {
        external_get(&lab, &format!("http://{VIP}/clientip"))
    });
    assert!(client.starts_with("203.0.113.10:"), "{client}");
    assert_eq!(arp_answers(&lab, VIP), [node_mac(&lab, &local_holder)]);

    // Deleting the Service: nobody answers for the address any more.
    lab.kubectl_ok(&["delete", "svc", "web"]);
    eventually(30, "the address to fall silent", || {
        arp_answers(&lab, VIP).is_empty().then_some(())
    });
}
