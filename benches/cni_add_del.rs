//! ADD+DEL latency of one pod attachment, podnet-cni + podnet-ipam against Debian's reference
//! bridge + host-local, side by side in one run on the same machine.
//!
//! Each round attaches the same pod sandbox once with each plugin pair (alternating which goes
//! first) and detaches it again, timing each verb end to end as a runtime sees it (process
//! start to exit). The plugins run inside a node namespace the bench creates; the machine's own
//! network is not touched. Needs root.
//!
//!     sudo cargo bench --bench cni_add_del            # 200 rounds
//!     PODNET_BENCH_ROUNDS=1000 sudo -E cargo bench --bench cni_add_del

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use podnet_cni_invoke::{Attachment, exec, find};
use podnet_test_util::Netns;

struct Contender {
    label: &'static str,
    plugin: &'static str,
    conf: Vec<u8>,
    add: Vec<Duration>,
    del: Vec<Duration>,
}

impl Contender {
    fn new(
        label: &'static str,
        plugin: &'static str,
        ipam: &str,
        bridge: &str,
        subnet: &str,
        data: &Path,
    ) -> Self {
        let conf = serde_json::json!({
            "cniVersion": "1.0.0", "name": format!("bench-{plugin}"), "type": plugin,
            "bridge": bridge, "isGateway": true,
            "ipam": {"type": ipam, "dataDir": data, "ranges": [[{"subnet": subnet}]]}
        });
        Self {
            label,
            plugin,
            conf: serde_json::to_vec(&conf).unwrap(),
            add: vec![],
            del: vec![],
        }
    }

    fn round(&mut self, node: &Netns, at: &Attachment, record: bool) {
        let binary = find(self.plugin, &at.path).expect("plugin on the path");
        let (add, del) = podnet_netns::run_in(node.path(), || {
            let t0 = Instant::now();
            exec(&binary, "ADD", at, &self.conf)
                .unwrap_or_else(|e| panic!("{} ADD: {e}", self.label));
            let t1 = Instant::now();
            exec(&binary, "DEL", at, &self.conf)
                .unwrap_or_else(|e| panic!("{} DEL: {e}", self.label));
            (t1 - t0, t1.elapsed())
        })
        .unwrap();
        if record {
            self.add.push(add);
            self.del.push(del);
        }
    }
}

fn percentile(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes --bench; a filter argument that does not name us means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && !"cni_add_del".contains(&a))
    {
        return;
    }
    let rounds: usize = std::env::var("PODNET_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_podnet-cni"))
        .parent()
        .unwrap()
        .to_owned();
    let data = tempfile::tempdir().unwrap();
    let node = Netns::new("bench-node");
    let pod = Netns::new("bench-pod");
    let at = Attachment {
        container_id: "bench".into(),
        netns: Some(pod.path().to_owned()),
        ifname: "eth0".into(),
        args: String::new(),
        path: vec![ours, PathBuf::from("/usr/lib/cni")],
    };
    let mut contenders = [
        Contender::new(
            "podnet-cni + podnet-ipam",
            "podnet-cni",
            "podnet-ipam",
            "pn-bench0",
            "10.250.0.0/16",
            data.path(),
        ),
        Contender::new(
            "bridge + host-local (Debian 1.1.1)",
            "bridge",
            "host-local",
            "ref-bench0",
            "10.251.0.0/16",
            data.path(),
        ),
    ];
    for c in contenders.iter_mut() {
        for _ in 0..10 {
            c.round(&node, &at, false); // warm-up: bridge creation, page cache
        }
    }
    for i in 0..rounds {
        let order: [usize; 2] = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            contenders[k].round(&node, &at, true);
        }
    }
    println!("\nCNI ADD+DEL latency, {rounds} rounds each, same pod sandbox, same machine (ms)");
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "plugins", "ADD p50", "DEL p50", "sum p50", "ADD p99", "DEL p99"
    );
    let mut sums = vec![];
    for c in &contenders {
        let total: Vec<Duration> = c.add.iter().zip(&c.del).map(|(a, d)| *a + *d).collect();
        sums.push(percentile(&total, 0.5));
        println!(
            "{:<36} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>10.2}",
            c.label,
            percentile(&c.add, 0.5),
            percentile(&c.del, 0.5),
            percentile(&total, 0.5),
            percentile(&c.add, 0.99),
            percentile(&c.del, 0.99),
        );
    }
    println!(
        "podnet / reference (ADD+DEL median): {:.2}",
        sums[0] / sums[1]
    );
}
