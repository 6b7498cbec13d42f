//! The speaker against a real router: BIRD 2 (Debian's `bird2`) in a namespace of the
//! test's own, the speaker in another, a veth between them. Run as root inside a private
//! network namespace (scripts/test.sh does).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use podnet_agent_bgp::{Peer, Settings, Speaker};
use podnet_test_util::Netns;
use tokio::sync::{oneshot, watch};

const ROUTER_IP: &str = "172.31.0.1";
const SPEAKER_IP: &str = "172.31.0.2";
const WAIT: Duration = Duration::from_secs(30);

/// A router and a speaker's namespace, linked; BIRD running in the router's, stopped (by
/// its pid) before the namespaces go.
struct World {
    bird: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    router: Netns,
    speaker: Netns,
}

impl World {
    fn new(tag: &str) -> Self {
        let router = Netns::new(&format!("{tag}r"));
        let speaker = Netns::new(&format!("{tag}s"));
        router.exec(&[
            "ip",
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            speaker.name(),
        ]);
        for (ns, ip) in [(&router, ROUTER_IP), (&speaker, SPEAKER_IP)] {
            ns.exec(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
        }
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("bird.conf");
        let socket = dir.path().join("bird.ctl");
        std::fs::write(
            &conf,
            format!(
                "router id {ROUTER_IP};\n\
                 protocol device {{}}\n\
                 protocol kernel {{ ipv4 {{ import none; export all; }}; }}\n\
                 protocol bgp node {{\n\
                 local {ROUTER_IP} as 64512;\n\
                 neighbor {SPEAKER_IP} as 64513;\n\
                 passive on; hold time 3; keepalive time 1;\n\
                 ipv4 {{ import all; export none; }};\n\
                 }}\n"
            ),
        )
        .unwrap();
        let bird = Command::new("ip")
            .args(["netns", "exec", router.name(), "bird", "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .spawn()
            .expect("bird2 is installed (scripts/install-deps.sh)");
        World {
            bird,
            socket,
            _dir: dir,
            router,
            speaker,
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            local_asn: 64513,
            peer: Peer {
                addr: ROUTER_IP.parse().unwrap(),
                port: 179,
                asn: 64512,
            },
            hold_time: 3,
            connect_retry: Duration::from_millis(200),
            netns: Some(self.speaker.path().to_owned()),
        }
    }

    fn birdc(&self, command: &[&str]) -> String {
        let socket = self.socket.to_str().unwrap();
        let mut argv = vec!["birdc", "-s", socket];
        argv.extend_from_slice(command);
        self.router.try_exec(&argv).1
    }

    /// Until BIRD's table satisfies `check` (its `show route` output), or fails after WAIT.
    async fn wait_routes(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let routes = self.birdc(&["show", "route"]);
            if check(&routes) {
                return routes;
            }
            assert!(Instant::now() < deadline, "{what}; BIRD has:\n{routes}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = terminate(self.bird.id());
        let _ = self.bird.wait();
    }
}

/// SIGTERM to the `ip netns exec` child, which exec'd BIRD (same pid).
fn terminate(pid: u32) -> std::io::Result<()> {
    Command::new("kill").arg(pid.to_string()).status().map(drop)
}

fn set(prefixes: &[&str]) -> BTreeSet<Ipv4Net> {
    prefixes.iter().map(|p| p.parse().unwrap()).collect()
}

#[tokio::test]
async fn bird_learns_announcements_and_follows_changes() {
    let world = World::new("bgpann");
    let (tx, rx) = watch::channel(set(&["172.18.255.200/32", "10.244.1.0/24"]));
    let (stop, stopped) = oneshot::channel::<()>();
    let speaker = tokio::spawn(Speaker::new(world.settings()).run(rx, async {
        let _ = stopped.await;
    }));

    let routes = world
        .wait_routes("both prefixes announced", |r| {
            r.contains("172.18.255.200/32") && r.contains("10.244.1.0/24")
        })
        .await;
    assert!(routes.contains(&format!("via {SPEAKER_IP}")), "{routes}");
    assert!(
        routes.contains("AS64513i"),
        "AS_PATH 64513, origin IGP: {routes}"
    );
    // BIRD's kernel protocol installed them: the router forwards to the speaker's node.
    let kernel = world.router.exec(&["ip", "-4", "route"]);
    assert!(
        kernel.contains(&format!(
            "10.244.1.0/24 via {SPEAKER_IP} dev eth0 proto bird"
        )),
        "{kernel}"
    );

    tx.send(set(&["10.244.1.0/24", "172.18.255.201/32"]))
        .unwrap();
    world
        .wait_routes("the old address withdrawn, the new one announced", |r| {
            !r.contains("172.18.255.200/32")
                && r.contains("172.18.255.201/32")
                && r.contains("10.244.1.0/24")
        })
        .await;

    stop.send(()).unwrap();
    speaker.await.unwrap().unwrap();
    world
        .wait_routes("everything withdrawn on shutdown", |r| {
            !r.contains("10.244.1.0/24") && !r.contains("172.18.255.201/32")
        })
        .await;
    let protocol = world.birdc(&["show", "protocols", "all", "node"]);
    assert!(
        protocol.contains("Administrative shutdown"),
        "the session ended with a Cease NOTIFICATION: {protocol}"
    );
}

#[tokio::test]
async fn a_speaker_gone_without_a_word_is_withdrawn_by_its_closed_connection() {
    let world = World::new("bgpgone");
    let (_tx, rx) = watch::channel(set(&["10.244.2.0/24"]));
    let speaker = tokio::spawn(Speaker::new(world.settings()).run(rx, std::future::pending()));
    world
        .wait_routes("announced", |r| r.contains("10.244.2.0/24"))
        .await;
    // As a killed agent: the task (and its socket) dropped, no NOTIFICATION sent.
    speaker.abort();
    let _ = speaker.await;
    world
        .wait_routes("withdrawn", |r| !r.contains("10.244.2.0/24"))
        .await;
}

#[tokio::test]
async fn a_peer_in_another_as_is_refused_and_nothing_is_announced() {
    let world = World::new("bgpas");
    let mut settings = world.settings();
    settings.peer.asn = 65000;
    let (_tx, rx) = watch::channel(set(&["10.244.3.0/24"]));
    let speaker = tokio::spawn(Speaker::new(settings).run(rx, std::future::pending()));
    // BIRD reports what it was told: the NOTIFICATION of a bad peer AS.
    let deadline = Instant::now() + WAIT;
    loop {
        let protocol = world.birdc(&["show", "protocols", "all", "node"]);
        if protocol.contains("Bad peer AS") {
            break;
        }
        assert!(Instant::now() < deadline, "{protocol}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!world.birdc(&["show", "route"]).contains("10.244.3.0/24"));
    speaker.abort();
}
