//! Shared by the workload suites: the real `podnet workload …` binary started inside a test's
//! network namespace (and its own UTS namespace, so it has a pod's hostname), and clients
//! that talk to it from inside the namespace.

#![allow(dead_code)] // each suite uses part of the harness

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use podnet_test_util::Netns;

pub const PODNET: &str = env!("CARGO_BIN_EXE_podnet");

/// A `podnet workload` process; killed (by its PID) on drop if still running.
pub struct Workload {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Workload {
    /// Starts `podnet workload ARGS…` in `ns`, with `hostname` in a UTS namespace of its own.
    /// `ip netns exec`, `unshare` and `sh` all exec, so the child's PID is podnet's.
    pub fn start(ns: &Netns, hostname: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "unshare", "--uts", "--"])
            .args([
                "sh",
                "-c",
                r#"hostname "$0" && exec "$@""#,
                hostname,
                PODNET,
                "workload",
            ])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).unwrap())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start podnet workload");
        Self {
            child,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`) to this process only.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {}", self.pid());
    }

    /// The exit status if the process ends within `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `podnet workload ARGS…` in `ns` to completion: (exit code, stdout, stderr, elapsed).
pub fn run_workload(ns: &Netns, args: &[&str]) -> (Option<i32>, String, String, Duration) {
    let start = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), PODNET, "workload"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

/// Adds addresses to the namespace's `lo`, so clients and servers have distinct addresses.
pub fn add_addresses(ns: &Netns, cidrs: &[&str]) {
    for cidr in cidrs {
        ns.exec(&["ip", "addr", "add", cidr, "dev", "lo"]);
    }
}

/// Waits until something accepts TCP connections on `addr` inside `ns`.
pub fn wait_tcp(ns: &Netns, addr: &str, workload: &mut Workload) {
    let addr: SocketAddr = addr.parse().unwrap();
    let start = Instant::now();
    loop {
        let up = podnet_netns::run_in(ns.path(), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })
        .unwrap();
        if up {
            return;
        }
        assert!(
            workload.is_running(),
            "workload exited before listening on {addr}: {}",
            workload.stderr()
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP exchange with curl inside `ns`: (status, headers, body). Status 0: no answer.
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

pub fn curl(ns: &Netns, extra: &[&str], url: &str) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let headers_arg = headers.to_str().unwrap();
    let mut argv = vec![
        "curl",
        "-sS",
        "--max-time",
        "10",
        "-D",
        headers_arg,
        "-w",
        "\n%{http_code}",
    ];
    argv.extend_from_slice(extra);
    argv.push(url);
    let (_, out, _) = ns.try_exec(&argv);
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", "0"));
    Reply {
        status: status.trim().parse().unwrap_or(0),
        headers: fs::read_to_string(&headers).unwrap_or_default(),
        body: body.to_owned(),
    }
}

/// Sends one datagram from `from` (an address in `ns`) to `to`; the answer, if one comes
/// within `wait`, and the local address used.
pub fn udp_exchange(
    ns: &Netns,
    from: &str,
    to: &str,
    payload: &str,
    wait: Duration,
) -> (Option<String>, SocketAddr) {
    let (from, to): (SocketAddr, SocketAddr) =
        (format!("{from}:0").parse().unwrap(), to.parse().unwrap());
    let payload = payload.to_owned();
    podnet_netns::run_in(ns.path(), move || {
        let socket = UdpSocket::bind(from).unwrap();
        socket.set_read_timeout(Some(wait)).unwrap();
        socket.send_to(payload.as_bytes(), to).unwrap();
        let mut buf = [0u8; 2048];
        let answer = socket
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned());
        (answer, socket.local_addr().unwrap())
    })
    .unwrap()
}

/// Reads what a raw TCP server writes before closing.
pub fn tcp_read_all(ns: &Netns, to: &str) -> String {
    let to: SocketAddr = to.parse().unwrap();
    podnet_netns::run_in(ns.path(), move || {
        let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    })
    .unwrap()
}

/// Two namespaces joined by a veth pair: `a` has 10.60.0.1/24, `b` 10.60.0.2/24.
pub fn veth_pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}-a"));
    let b = Netns::new(&format!("{tag}-b"));
    a.veth("eth0", &b, "eth0");
    for (ns, ip) in [(&a, "10.60.0.1/24"), (&b, "10.60.0.2/24")] {
        ns.exec(&["ip", "addr", "add", ip, "dev", "eth0"]);
    }
    (a, b)
}
