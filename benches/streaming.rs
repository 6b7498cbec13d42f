//! The streaming subresources under load, through the real kubectl against a lab:
//! 50 `kubectl exec POD -- true` at once (each one's wall time, p50/p99), and a 1 GiB
//! download through `kubectl port-forward` (kubectl → API server → kubelet, SPDY in a
//! WebSocket, into the pod's netns) against the same download over a direct loopback TCP
//! connection in the same run. The sender is the same program on both paths (python3 writing
//! zeros), so the difference is the port-forward path.
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench streaming'
//!
//! PODNET_BENCH_ROUNDS (default 3) rounds of each; medians of the rounds are shown.

#[path = "../tests/lab/support.rs"]
mod lab;
#[path = "support/stats.rs"]
mod stats;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab::{Lab, manifest};

const CONCURRENT_EXECS: usize = 50;
const TRANSFER_BYTES: u64 = 1 << 30;

/// Sends TRANSFER_BYTES of zeros to each connection on the port given as its argument (a
/// connection closed early, such as the readiness probe of [`LocalSender`], is let go).
const SENDER: &str = "import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)
chunk=bytes(1<<20)
while True:
    c,_=s.accept()
    try:
        for _ in range(1024): c.sendall(chunk)
    except OSError: pass
    c.close()
";

fn pods() -> String {
    format!(
        "
apiVersion: v1
kind: Pod
metadata: {{name: target}}
spec:
  containers:
  - name: sleeper
    image: busybox
    command: [sleep, infinity]
  - name: sender
    image: python
    command: [python3, -c, {SENDER:?}, '9000']
"
    )
}

fn main() {
    if !stats::selected("streaming") {
        return;
    }
    podnet_test_util::sweep_leftovers();
    let rounds = stats::rounds(3);
    let lab = Lab::up("bench-stream", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let pods = manifest(tmp.path(), "pods.yaml", &pods());
    lab.kubectl_ok(&["apply", "-f", pods.to_str().unwrap()]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/target",
        "--timeout=120s",
    ]);

    let mut p50s = vec![];
    let mut p99s = vec![];
    let mut forwarded = vec![];
    let mut direct = vec![];
    let local = LocalSender::start();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let execs = concurrent_execs(&lab);
        p50s.push(stats::percentile_ms(&execs, 0.5));
        p99s.push(stats::percentile_ms(&execs, 0.99));
        let pf = PortForward::start(&lab);
        forwarded.push(mib_per_s(pf.port));
        drop(pf);
        direct.push(mib_per_s(local.port));
    }
    println!("\n## streaming ({rounds} rounds, medians)\n");
    println!("| what | result |\n|---|---|");
    println!(
        "| {CONCURRENT_EXECS} concurrent `kubectl exec target -- true` | p50 {:.0} ms, p99 {:.0} ms |",
        stats::median(&p50s),
        stats::median(&p99s)
    );
    let (f, d) = (stats::median(&forwarded), stats::median(&direct));
    println!(
        "| 1 GiB through `kubectl port-forward` | {f:.0} MiB/s ({:.0}% of direct) |",
        100.0 * f / d
    );
    println!("| 1 GiB over direct loopback TCP | {d:.0} MiB/s |");
}

/// Each exec's wall time, all started at once.
fn concurrent_execs(lab: &Lab) -> Vec<Duration> {
    let handles: Vec<_> = (0..CONCURRENT_EXECS)
        .map(|_| {
            let mut cmd = lab.kubectl_command(&["exec", "target", "-c", "sleeper", "--", "true"]);
            std::thread::spawn(move || {
                let start = Instant::now();
                let out = cmd.output().unwrap();
                assert!(out.status.success(), "{}", lab::show(&out));
                start.elapsed()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Reads everything from 127.0.0.1:port; MiB/s.
fn mib_per_s(port: u16) -> f64 {
    let start = Instant::now();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match conn.read(&mut buf).unwrap() {
            0 => break,
            n => total += n as u64,
        }
    }
    assert_eq!(total, TRANSFER_BYTES, "a short transfer");
    TRANSFER_BYTES as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

/// The same sender on the bench's own loopback.
struct LocalSender {
    child: Child,
    port: u16,
}

impl LocalSender {
    fn start() -> LocalSender {
        let port = 19_000;
        let child = Command::new("python3")
            .args(["-c", SENDER, &port.to_string()])
            .spawn()
            .unwrap();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
        // That probe connection got a transfer of its own; it is closed unread.
        LocalSender { child, port }
    }
}

impl Drop for LocalSender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubectl port-forward pod/target :9000`, killed on drop.
struct PortForward {
    child: Child,
    port: u16,
}

impl PortForward {
    fn start(lab: &Lab) -> PortForward {
        let mut child = lab
            .kubectl_command(&["port-forward", "pod/target", ":9000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("Forwarding from 127.0.0.1:")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kubectl port-forward: {line}"));
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        PortForward { child, port }
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
