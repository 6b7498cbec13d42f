//! Real-kernel tests: a whole lab network built and torn down under a unique lab name.

use std::process::Command;

use podnet_lab_topology::{Plan, build, teardown};

/// A lab name no other test uses; its namespaces are removed on drop, even on failure.
struct Lab(Plan);

impl Lab {
    fn new(tag: &str, nodes: usize) -> Self {
        let name = format!("t{tag}{}", std::process::id());
        let _ = teardown(&name);
        let nodes: Vec<String> = (0..nodes).map(|i| format!("{name}-n{i}")).collect();
        Lab(Plan::new(&name, &nodes).unwrap())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = teardown(&self.0.lab);
    }
}

fn exec(netns: &str, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", netns])
        .args(args)
        .output()
        .unwrap()
}

fn ping(netns: &str, dst: &str) -> bool {
    exec(netns, &["ping", "-c1", "-W2", dst]).status.success()
}

#[tokio::test]
async fn lab_network_connects_nodes_fabric_and_external_host() {
    let lab = Lab::new("conn", 3);
    build(&lab.0).await.unwrap();
    let plan = &lab.0;
    for node in &plan.nodes {
        assert!(ping(&node.netns, "172.18.0.1"), "{} → fabric", node.name);
        assert!(
            ping(&node.netns, "203.0.113.10"),
            "{} → external",
            node.name
        );
    }
    assert!(ping(&plan.nodes[0].netns, "172.18.0.4"), "node 0 → node 2");
    assert!(ping(&plan.external, "172.18.0.3"), "external → node 1");
    let routes = exec(&plan.nodes[1].netns, &["ip", "-4", "route"]);
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert!(
        routes.contains("default via 172.18.0.1 dev eth0"),
        "{routes}"
    );
}

#[tokio::test]
async fn lab_teardown_ends_processes_and_removes_every_namespace() {
    let lab = Lab::new("down", 2);
    build(&lab.0).await.unwrap();
    let plan = &lab.0;
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &plan.nodes[0].netns, "sleep", "60"])
        .spawn()
        .unwrap();
    // A namespace a pod would have, under the lab's prefix, also goes.
    let pod = plan.pod_netns_prefix(&plan.nodes[0].name) + "abc";
    podnet_netns::create(&pod).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while podnet_netns::pids(&podnet_netns::path_of(&plan.nodes[0].netns))
        .unwrap()
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "sleep never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let removed = teardown(&plan.lab).unwrap();
    assert_eq!(removed.len(), 2 + 2 + 1, "{removed:?}");
    assert!(podnet_netns::list(&plan.prefix).unwrap().is_empty());
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the process inside was killed");
    // A second teardown finds nothing and succeeds.
    assert!(teardown(&plan.lab).unwrap().is_empty());
}

#[tokio::test]
async fn lab_build_after_teardown_of_a_crashed_run_succeeds() {
    let lab = Lab::new("again", 1);
    build(&lab.0).await.unwrap();
    // A crash leaves everything in place; the next start tears it down and builds anew.
    assert!(
        build(&lab.0).await.is_err(),
        "building over a live lab is refused"
    );
    teardown(&lab.0.lab).unwrap();
    build(&lab.0).await.unwrap();
    assert!(ping(&lab.0.nodes[0].netns, "203.0.113.10"));
}

#[tokio::test]
async fn lab_router_is_on_the_node_network_and_the_fabric_routes_through_it() {
    let mut lab = Lab::new("rtr", 2);
    lab.0 = lab
        .0
        .clone()
        .with_router(vec!["172.18.255.0/24".parse().unwrap()]);
    build(&lab.0).await.unwrap();
    let plan = &lab.0;
    let router = plan.router.as_ref().unwrap();
    assert!(ping(&router.netns, "172.18.0.2"), "router → node 0");
    assert!(ping(&router.netns, "203.0.113.10"), "router → external");
    let fabric = exec(
        &plan.fabric,
        &["ip", "-4", "route", "get", "172.18.255.200"],
    );
    let fabric = String::from_utf8_lossy(&fabric.stdout);
    assert!(fabric.contains("via 172.18.0.254 dev br0"), "{fabric}");
    let redirects = exec(
        &router.netns,
        &["sysctl", "-n", "net.ipv4.conf.eth0.send_redirects"],
    );
    assert_eq!(String::from_utf8_lossy(&redirects.stdout).trim(), "0");
}
