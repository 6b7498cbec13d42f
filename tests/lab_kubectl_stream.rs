//! The streaming subresources through the current kubelet, as a user drives them: `kubectl
//! exec` (exit codes, stdout and stderr apart, stdin, a terminal through a real pty that
//! follows resizes) and `kubectl logs`, carried by the lab's API server to the kubelet of the
//! pod's node.

#[path = "lab/support.rs"]
mod support;

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use support::{Lab, eventually, manifest, show};

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    env:
    - name: GREETING
      value: hello from the spec
---
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
  - name: a
    image: busybox
    command: ["sh", "-c", "echo line one; echo line two >&2; sleep 3600"]
  - name: b
    image: busybox
    command: ["sleep", "3600"]
"#;

fn running_pods(lab: &Lab) {
    let tmp = tempfile::tempdir().unwrap();
    let pods = manifest(tmp.path(), "pods.yaml", PODS);
    lab.kubectl_ok(&["apply", "-f", pods.to_str().unwrap()]);
    eventually(60, "both pods running", || {
        let out = lab.kubectl_ok(&["get", "pods", "--no-headers"]);
        (out.matches("Running").count() == 2).then_some(())
    });
}

#[test]
fn kubectl_exec_and_logs_reach_the_pods_kubelet() {
    let lab = Lab::up("stream", &[]);
    running_pods(&lab);

    // Exit code, stdout and stderr apart.
    let out = lab.kubectl(&[
        "exec",
        "shell",
        "--",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-out\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("to-err\n"),
        "{}",
        show(&out)
    );

    // In the pod's namespaces, with the container's environment.
    let host = lab.kubectl_ok(&["exec", "shell", "--", "hostname"]);
    assert_eq!(host, "shell\n");
    let env = lab.kubectl_ok(&["exec", "shell", "--", "env"]);
    assert!(env.contains("GREETING=hello from the spec\n"), "{env}");

    // stdin, to its end.
    let mut child = lab
        .kubectl_command(&["exec", "-i", "shell", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"shout this\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT THIS\n");

    // Older clients: the same over SPDY/3.1 (v4.channel.k8s.io streams), no WebSocket.
    let spdy = |args: &[&str]| {
        let mut cmd = lab.kubectl_command(args);
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        cmd
    };
    let out = spdy(&[
        "exec",
        "shell",
        "--",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 4",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-out\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("to-err\n"),
        "{}",
        show(&out)
    );
    let mut child = spdy(&["exec", "-i", "shell", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"old client\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OLD CLIENT\n");

    // Several containers: -c picks one; a wrong name is the API server's 400.
    let host = lab.kubectl_ok(&["exec", "two", "-c", "b", "--", "hostname"]);
    assert_eq!(host, "two\n");
    let out = lab.kubectl(&["exec", "two", "-c", "nope", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container nope is not valid for pod two"),
        "{}",
        show(&out)
    );
    let out = lab.kubectl(&["exec", "nosuch", "--", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pods \"nosuch\" not found"),
        "{}",
        show(&out)
    );

    // cp both ways: tar over exec (the pod sees the machine's files: a private temp dir).
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    let remote = format!("shell:{}/in-pod.txt", dir.path().display());
    lab.kubectl_ok(&["cp", local.to_str().unwrap(), &remote]);
    let inside = lab.kubectl_ok(&[
        "exec",
        "shell",
        "--",
        "cat",
        &format!("{}/in-pod.txt", dir.path().display()),
    ]);
    assert_eq!(inside, "copied in\n");
    let back = dir.path().join("back.txt");
    lab.kubectl_ok(&["cp", &remote, back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");

    // Logs of one container of several.
    let logs = eventually(20, "container a's lines", || {
        let out = lab.kubectl_ok(&["logs", "two", "-c", "a"]);
        (out.contains("line one") && out.contains("line two")).then_some(out)
    });
    assert!(!logs.is_empty());
    // kubectl defaults the container itself; the API server's own answer without one:
    let out = lab.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods/two/log"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("a container name must be specified for pod two, choose one of: [a b]"),
        "{}",
        show(&out)
    );
}

/// A terminal for kubectl: it sees a tty on its stdin, as when a user types.
struct Terminal {
    master: OwnedFd,
    seen: Arc<Mutex<String>>,
}

impl Terminal {
    fn open(rows: u16, cols: u16) -> (Terminal, OwnedFd) {
        let ws = libc_winsize(rows, cols);
        let pty = nix::pty::openpty(Some(&ws), None).unwrap();
        let mut reader = std::fs::File::from(pty.master.try_clone().unwrap());
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let term = Terminal {
            master: pty.master,
            seen,
        };
        (term, pty.slave)
    }

    fn type_line(&self, line: &str) {
        let mut w = std::fs::File::from(self.master.try_clone().unwrap());
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\r").unwrap();
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc_winsize(rows, cols);
        // SAFETY: sets the window size of an open pty master.
        let rc = unsafe { nix::libc::ioctl(self.master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0);
    }

    /// Waits for output matching `pred`.
    fn expect(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        eventually(30, what, || {
            let seen = self.seen.lock().unwrap().clone();
            pred(&seen).then_some(seen)
        })
    }
}

/// Starts `cmd` with the pty `slave` as its controlling terminal and stdio, as a shell would.
fn on_terminal(mut cmd: std::process::Command, slave: OwnedFd) -> std::process::Child {
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; kubectl gets the pty as its terminal.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        cmd.pre_exec(|| {
            nix::libc::setsid();
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

fn libc_winsize(rows: u16, cols: u16) -> nix::libc::winsize {
    nix::libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

#[test]
fn kubectl_exec_it_gets_a_terminal_that_follows_resizes() {
    let lab = Lab::up("streamtty", &[]);
    running_pods(&lab);
    let (term, slave) = Terminal::open(24, 80);
    let cmd = lab.kubectl_command(&["exec", "-it", "shell", "--", "sh"]);
    let mut kubectl = on_terminal(cmd, slave);

    term.type_line("echo TTY=$(tty)");
    let seen = term.expect("the remote tty's name", |s| s.contains("TTY=/dev/pts/"));
    assert!(!seen.contains("not a tty"), "{seen}");
    term.type_line("echo SIZE=$(stty size)");
    term.expect("the first size", |s| s.contains("SIZE=24 80"));
    term.resize(50, 132);
    // The resize reaches the remote terminal asynchronously: ask until it shows.
    eventually(30, "the resized terminal", || {
        term.type_line("echo SIZE=$(stty size)");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.seen
            .lock()
            .unwrap()
            .contains("SIZE=50 132")
            .then_some(())
    });
    term.type_line("exit 7");
    let status = eventually(30, "kubectl to exit", || kubectl.try_wait().unwrap());
    assert_eq!(status.code(), Some(7), "{}", term.seen.lock().unwrap());
}

const READER: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "while read l; do echo got:$l; done; echo bye"]
    stdin: true
    stdinOnce: true
"#;

#[test]
fn kubectl_run_it_rm_and_attach_use_the_containers_console() {
    let lab = Lab::up("streamrun", &[]);

    // run -it --rm: a shell on a terminal, then the pod is deleted.
    let (term, slave) = Terminal::open(24, 80);
    let cmd = lab.kubectl_command(&[
        "run",
        "tmp-shell",
        "-it",
        "--rm",
        "--restart=Never",
        "--image=busybox",
        "--",
        "sh",
    ]);
    let mut kubectl = on_terminal(cmd, slave);
    term.expect("kubectl's attach hint", |s| {
        s.contains("If you don't see a command prompt")
    });
    eventually(30, "the remote shell to answer", || {
        term.type_line("echo RUN=$((6*7))");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.seen.lock().unwrap().contains("RUN=42").then_some(())
    });
    term.type_line("exit");
    let status = eventually(60, "kubectl run to exit", || kubectl.try_wait().unwrap());
    assert!(status.success(), "{}", term.seen.lock().unwrap());
    term.expect("the pod's deletion", |s| {
        s.contains("pod \"tmp-shell\" deleted")
    });
    let out = lab.kubectl(&["get", "pod", "tmp-shell"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{}",
        show(&out)
    );

    // attach -i to a container reading its stdin; stdinOnce ends its input with ours.
    let tmp = tempfile::tempdir().unwrap();
    let reader = manifest(tmp.path(), "reader.yaml", READER);
    lab.kubectl_ok(&["apply", "-f", reader.to_str().unwrap()]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/reader",
        "--timeout=60s",
    ]);
    let mut child = lab
        .kubectl_command(&["attach", "-i", "reader"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got:one\ngot:two\nbye\n"
    );
}

const TICKER: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  containers:
  - name: tick
    image: busybox
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
  - name: crash
    image: busybox
    command: ["sh", "-c", "echo run $(cat /proc/sys/kernel/random/uuid); sleep 1; exit 1"]
"#;

#[test]
fn kubectl_logs_follows_tails_and_shows_the_previous_instance() {
    let lab = Lab::up("streamlogs", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let ticker = manifest(tmp.path(), "ticker.yaml", TICKER);
    lab.kubectl_ok(&["apply", "-f", ticker.to_str().unwrap()]);
    eventually(60, "a few ticks", || {
        let out = lab.kubectl(&["logs", "ticker", "-c", "tick"]);
        String::from_utf8_lossy(&out.stdout)
            .contains("tick 3\n")
            .then_some(())
    });

    let tail = lab.kubectl_ok(&["logs", "ticker", "-c", "tick", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let stamped = lab.kubectl_ok(&["logs", "ticker", "-c", "tick", "--tail=1", "--timestamps"]);
    let (time, line) = stamped.trim_end().split_once(' ').unwrap();
    assert!(time.ends_with('Z') && time.contains('T'), "{stamped}");
    assert!(line.starts_with("tick "), "{stamped}");

    // -f: lines written after it started reach it.
    let last: u64 = tail.lines().last().unwrap()[5..].parse().unwrap();
    let mut follow = lab
        .kubectl_command(&["logs", "-f", "ticker", "-c", "tick"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0);
        let n: u64 = line.trim_end()[5..].parse().unwrap();
        if n > last + 3 {
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();

    // -p: the instance before the last restart.
    eventually(60, "a restart of crash", || {
        let v: serde_json::Value =
            serde_json::from_str(&lab.kubectl_ok(&["get", "pod", "ticker", "-o", "json"])).unwrap();
        let restarts = v["status"]["containerStatuses"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "crash")?["restartCount"]
            .as_i64()?;
        (restarts >= 1).then_some(())
    });
    let previous = lab.kubectl_ok(&["logs", "ticker", "-c", "crash", "-p"]);
    assert!(previous.starts_with("run "), "{previous}");
    let current = eventually(30, "the current instance's line", || {
        let out = lab.kubectl_ok(&["logs", "ticker", "-c", "crash"]);
        (!out.is_empty()).then_some(out)
    });
    assert_ne!(previous, current);
}

const WEB: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// `kubectl port-forward TARGET :PORT` in the background, and the local port it chose.
struct PortForward {
    child: std::process::Child,
    port: u16,
}

impl PortForward {
    fn start(lab: &Lab, target: &str, remote: &str) -> PortForward {
        Self::start_with(lab, target, remote, true)
    }

    /// `websockets: false` makes kubectl speak SPDY/3.1 after a plain HTTP upgrade, as
    /// kubectl before 1.31 did.
    fn start_with(lab: &Lab, target: &str, remote: &str, websockets: bool) -> PortForward {
        let mut child = lab
            .kubectl_command(&["port-forward", target, &format!(":{remote}")])
            .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // "Forwarding from 127.0.0.1:PORT -> REMOTE"
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        let port = line
            .strip_prefix("Forwarding from 127.0.0.1:")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("kubectl port-forward {target}: {line}\n{}", show(&out));
        };
        // The rest of its output is not read: keep the pipe drained.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        PortForward { child, port }
    }

    /// An HTTP/1.0 GET through the forwarded port; the body.
    fn get(&self, path: &str) -> String {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(conn, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
        reply.split_once("\r\n\r\n").unwrap().1.to_owned()
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kubectl_port_forward_reaches_a_pod_and_a_service_through_loopback() {
    let lab = Lab::up("streampf", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", WEB);
    lab.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    lab.kubectl_ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);

    let pod = PortForward::start(&lab, "pod/web", "8080");
    assert_eq!(pod.get("/hostname"), "web");
    // Connections one after another and at once over the same session.
    let many: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..5).map(|_| s.spawn(|| pod.get("/hostname"))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(many.iter().all(|h| h == "web"), "{many:?}");
    // A bigger body than one frame.
    let echoed = pod.get(&format!("/echo?msg={}", "x".repeat(50_000)));
    assert_eq!(echoed.len(), 50_000);

    let svc = PortForward::start(&lab, "svc/web", "80");
    assert_eq!(svc.get("/hostname"), "web");

    // Older clients: SPDY after an HTTP upgrade, no WebSocket.
    let spdy = PortForward::start_with(&lab, "pod/web", "8080", false);
    assert_eq!(spdy.get("/hostname"), "web");
    // Nothing listens there: the error stream says so and the tunnel stays up.
    let closed = PortForward::start(&lab, "pod/web", "9999");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", closed.port)).unwrap();
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    assert!(reply.is_empty());
    assert_eq!(pod.get("/hostname"), "web");
}

#[test]
fn kubectl_debug_adds_an_ephemeral_container_in_the_pods_network() {
    let lab = Lab::up("streamdebug", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", WEB);
    lab.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    lab.kubectl_ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);

    let (term, slave) = Terminal::open(24, 80);
    let cmd = lab.kubectl_command(&["debug", "-it", "web", "--image=busybox", "--target=netexec"]);
    let mut kubectl = on_terminal(cmd, slave);
    term.expect("kubectl's attach hint", |s| {
        s.contains("If you don't see a command prompt")
    });
    // The debugger shares the pod's network: the app answers on its loopback.
    eventually(30, "the app through the pod's loopback", || {
        term.type_line("echo GOT=$(curl -s http://127.0.0.1:8080/hostname)");
        std::thread::sleep(std::time::Duration::from_millis(300));
        term.seen.lock().unwrap().contains("GOT=web").then_some(())
    });
    term.type_line("exit");
    let status = eventually(60, "kubectl debug to exit", || kubectl.try_wait().unwrap());
    assert!(status.success(), "{}", term.seen.lock().unwrap());

    let pod: serde_json::Value =
        serde_json::from_str(&lab.kubectl_ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    let spec = &pod["spec"]["ephemeralContainers"][0];
    assert_eq!(spec["targetContainerName"], "netexec", "{pod}");
    let name = spec["name"].as_str().unwrap();
    assert!(name.starts_with("debugger-"), "{pod}");
    eventually(30, "the debugger's terminated status", || {
        let pod: serde_json::Value =
            serde_json::from_str(&lab.kubectl_ok(&["get", "pod", "web", "-o", "json"])).unwrap();
        let st = pod["status"]["ephemeralContainerStatuses"][0].clone();
        (st["name"] == name && st["state"]["terminated"].is_object()).then_some(())
    });
}
