//! Fail-over drills of L2-announced LoadBalancer addresses, as the external host and the
//! fabric see them: the announcing node's agent killed (kill -9, by pid, and held down), the announcing
//! node cut off the API server but not the fabric (ARP captured on the fabric: never two
//! MACs answering one request, and the old holder never answers again), and the announcing
//! node leaving the network. The outage figures are printed (`--no-capture`), not asserted.

#[path = "lab/support.rs"]
mod support;

#[path = "lab/l2.rs"]
mod l2;

use std::time::{Duration, Instant};

use l2::{Background, VIP, agent_pid, external_get, holder, in_lab_ns, node_mac};
use support::{Lab, eventually, kill9, manifest};

/// Waits (up to `secs`) for the Lease to name a node other than `old`.
fn new_holder(lab: &Lab, old: &str, secs: u64) -> String {
    eventually(secs, &format!("a holder other than {old}"), || {
        holder(lab, VIP).filter(|h| h != old)
    })
}

/// Sends ARP requests for the address from the fabric for `how_long` (the capture sees
/// them and the replies).
fn ask_for(lab: &Lab, how_long: Duration) {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        l2::arp_answers(lab, VIP);
    }
}

#[test]
fn lab_l2_drills_fail_over_and_fencing() {
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", l2::WEB);
    let lab = Lab::up("l2drill", &["-f", web.to_str().unwrap()]);
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
    let url = format!("http://{VIP}/hostname");
    eventually(60, "the external host to reach the address", || {
        external_get(&lab, &url)
    });
    let first = eventually(30, "a holder", || holder(&lab, VIP));

    // 1. The announcing node's agent dies: another node takes the address over.
    let probe = l2::probe(&lab, &url);
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    kill9(agent_pid(&lab, &first));
    // Held down, or the supervisor restarts it within half a second and, named in the
    // Lease, it renews its own hold before a rival may take over.
    lab.ok(&["stop", &format!("{first}/agent")]);
    let second = new_holder(&lab, &first, 30);
    let takeover = killed_at.elapsed();
    eventually(30, "the new holder to answer ARP", || {
        (l2::arp_answers(&lab, VIP) == [node_mac(&lab, &second)]).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let outage = l2::outage_ms(&probe.finish());
    eprintln!(
        "drill agent-killed: {first} -> {second}, new holder seen after {} ms; \
         external host's first failed to first successful request: {outage:?} ms",
        takeover.as_millis()
    );
    eventually(30, "the address to answer through the new holder", || {
        external_get(&lab, &url)
    });
    lab.ok(&["start", &format!("{first}/agent")]);

    // 2. The holder is cut off from the API server, not from the fabric: it falls silent
    //    before the next node takes over; the capture never shows two nodes answering.
    let capture = Background::start(
        &lab,
        "fabric",
        &["tcpdump", "-i", "br0", "-l", "-n", "-e", "arp"],
    );
    ask_for(&lab, Duration::from_secs(1));
    let cut = [
        "nft",
        "add table ip drill; \
         add chain ip drill out { type filter hook output priority 0; }; \
         add rule ip drill out ip daddr 172.18.0.1 tcp dport 6443 drop",
    ];
    let out = in_lab_ns(&lab, &second, &cut);
    assert!(out.status.success(), "{}", support::show(&out));
    let cut_at = Instant::now();
    let third = loop {
        ask_for(&lab, Duration::from_millis(200));
        if let Some(h) = holder(&lab, VIP).filter(|h| *h != second) {
            break h;
        }
        assert!(
            cut_at.elapsed() < Duration::from_secs(60),
            "no takeover while cut off"
        );
    };
    eprintln!(
        "drill cut-from-api-server: {second} -> {third}, new holder seen after {} ms",
        cut_at.elapsed().as_millis()
    );
    ask_for(&lab, Duration::from_secs(2));
    let out = in_lab_ns(&lab, &second, &["nft", "delete table ip drill"]);
    assert!(out.status.success(), "{}", support::show(&out));
    // Back in touch, the old holder sees the Lease taken and stays silent.
    ask_for(&lab, Duration::from_secs(3));
    let capture = capture.finish();
    let groups = l2::replies_per_request(&capture, VIP);
    assert!(groups.len() > 10, "too few requests captured:\n{capture}");
    let (mac2, mac3) = (node_mac(&lab, &second), node_mac(&lab, &third));
    let mut seen_third = false;
    for replies in &groups {
        let mut macs = replies.clone();
        macs.sort();
        macs.dedup();
        assert!(
            macs.len() <= 1,
            "two MACs answered one request: {macs:?}\n{capture}"
        );
        for mac in macs {
            assert!(
                mac == mac2 || mac == mac3,
                "unexpected answer {mac}\n{capture}"
            );
            seen_third |= mac == mac3;
            assert!(
                !(seen_third && mac == mac2),
                "the old holder answered again\n{capture}"
            );
        }
    }
    assert!(seen_third, "the new holder never answered:\n{capture}");

    // 3. The holder leaves the network (its uplink goes down): the external host's outage.
    let probe = l2::probe(&lab, &url);
    std::thread::sleep(Duration::from_millis(500));
    let out = in_lab_ns(&lab, &third, &["ip", "link", "set", "eth0", "down"]);
    assert!(out.status.success(), "{}", support::show(&out));
    let down_at = Instant::now();
    let fourth = new_holder(&lab, &third, 30);
    let takeover = down_at.elapsed();
    eventually(30, "the address to answer again", || {
        external_get(&lab, &url)
    });
    std::thread::sleep(Duration::from_secs(1));
    let outage = l2::outage_ms(&probe.finish());
    eprintln!(
        "drill node-left-network: {third} -> {fourth}, new holder seen after {} ms; \
         external host's first failed to first successful request: {outage:?} ms",
        takeover.as_millis()
    );
    assert!(
        outage.is_some(),
        "the probe saw no outage at all: was it probing?"
    );
}
