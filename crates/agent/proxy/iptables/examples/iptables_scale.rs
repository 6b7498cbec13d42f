//! Full and one-endpoint sync of the iptables mode at scale, in a namespace of its own:
//! `cargo run --release -p podnet-agent-proxy-iptables --example iptables_scale -- 1000 10000`
//! (as root, inside `unshare --net --mount`, like the tests).

use std::time::Instant;

use podnet_agent_proxy::fixture::{self, endpoint, service, slice};
use podnet_agent_proxy::{Backend, Plan, ServiceState, SyncKind};
use podnet_test_util::Netns;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number of Services"))
        .collect();
    for n in sizes {
        let ns = Netns::new("ipt-scale");
        let node = fixture::node();
        let mut backend = podnet_agent_proxy_iptables::new_iptables(
            Some(ns.path()),
            podnet_agent_proxy::NodePortAddressConfig::All,
            &node,
        )
        .expect("iptables mode");
        let mut state = ServiceState::default();
        for i in 0..n {
            let name = format!("svc{i}");
            let cip = format!("10.96.{}.{}", i / 250, i % 250 + 1);
            state.upsert_service(service("ns1", &name, &cip, |_| {}));
            let eps = (0..3)
                .map(|k| {
                    endpoint(
                        &format!("10.{}.{}.{}", 100 + k, i / 250, i % 250 + 1),
                        fixture::NODE,
                    )
                })
                .collect();
            state.upsert_slice(slice("ns1", &name, 1, eps, |_| {}));
        }
        let mut plan = Plan::default();
        let dirty = state.take_dirty();
        let changes = plan.update(&state, &node, &dirty);
        let t = Instant::now();
        let full = backend
            .sync(&plan, &changes, SyncKind::Full)
            .expect("full sync");
        let full_time = t.elapsed();

        let name = format!("svc{}", n / 2);
        let i = n / 2;
        let eps = vec![
            endpoint(
                &format!("10.100.{}.{}", i / 250, i % 250 + 1),
                fixture::NODE,
            ),
            endpoint(
                &format!("10.101.{}.{}", i / 250, i % 250 + 1),
                fixture::NODE,
            ),
            endpoint(
                &format!("10.110.{}.{}", i / 250, i % 250 + 1),
                fixture::NODE,
            ),
        ];
        state.upsert_slice(slice("ns1", &name, 1, eps, |_| {}));
        let dirty = state.take_dirty();
        let t = Instant::now();
        let changes = plan.update(&state, &node, &dirty);
        let partial = backend
            .sync(&plan, &changes, SyncKind::Partial)
            .expect("partial sync");
        let partial_time = t.elapsed();
        // What one iptables-restore costs by itself at this size: a chain that jumps nowhere.
        let ipt = podnet_iptables::Iptables::new(
            Some(ns.path()),
            podnet_iptables::Family::V4,
            podnet_iptables::Variant::Nft,
        );
        let t = Instant::now();
        ipt.restore("*nat\n:KUBE-SEP-PROBE - [0:0]\n-A KUBE-SEP-PROBE -j RETURN\nCOMMIT\n")
            .expect("probe restore");
        let probe = t.elapsed();
        println!(
            "{n:>6} services: a 4-line restore alone {:.2} ms",
            probe.as_secs_f64() * 1e3
        );
        println!(
            "{n:>6} services: full {:>8.1} ms ({} rules, {} lines)   one endpoint {:>7.2} ms ({} lines)",
            full_time.as_secs_f64() * 1e3,
            full.rules,
            full.transaction_lines,
            partial_time.as_secs_f64() * 1e3,
            partial.transaction_lines
        );
    }
}
