//! Garbage on the wire never crashes or stalls `podnet dns`: 120k random and mutated
//! datagrams (the message-path fuzz generator's) and junk TCP streams, with a real query
//! every few thousand messages that must still be answered correctly and promptly.

mod dns {
    pub mod support;
}

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dns::support::*;
use hickory_proto::rr::RecordType;
use podnet_test_util::Rng;
use podnet_test_util::dns_garbage::message;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_and_streams_never_stop_the_server() {
    let up = Upstream::start().await;
    let mut dns = TestDns::start(&corefile(up.addr, "", "")).await;
    dns.shared.update_catalog(|c| {
        c.upsert_namespace("ns1");
        c.upsert_service(cluster_ip(
            "ns1",
            "web",
            "10.96.0.20",
            &[("http", "tcp", 80)],
        ));
    });
    let addr = dns.addr;
    // Junk over TCP alongside: lengths that lie, random bytes, connections left hanging.
    let tcp_junk = tokio::spawn(async move {
        let mut rng = Rng(7);
        for i in 0..300 {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                continue;
            };
            let m = message(&mut rng);
            let claimed: u16 = if i % 3 == 0 { 65535 } else { m.len() as u16 };
            let _ = s.write_all(&claimed.to_be_bytes()).await;
            let _ = s.write_all(&m).await;
            if i % 10 != 0 {
                drop(s);
            } else {
                std::mem::forget(s);
            }
        }
    });
    let sent = tokio::task::spawn_blocking(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut sink = [0u8; 65535];
        let mut slowest = Duration::ZERO;
        for i in 0..120_000 {
            let m = message(&mut rng);
            let _ = sock.send_to(&m, addr);
            while sock.recv(&mut sink).is_ok() {}
            if i % 4000 == 0 {
                // Pace a little so the kernel's queue, not the server, is not what is tested.
                std::thread::sleep(Duration::from_millis(2));
                let began = Instant::now();
                let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
                probe
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let q = query("web.ns1.svc.cluster.local.", RecordType::A, None);
                probe.send_to(&q, addr).unwrap();
                let n = probe.recv(&mut sink).expect("the server still answers");
                let reply = hickory_proto::op::Message::from_vec(&sink[..n]).unwrap();
                assert_eq!(data(&reply), ["10.96.0.20"]);
                slowest = slowest.max(began.elapsed());
            }
        }
        slowest
    })
    .await
    .unwrap();
    tcp_junk.await.unwrap();
    assert!(sent < Duration::from_secs(1), "a probe waited {sent:?}");
    let m = tcp(dns.addr, "web.ns1.svc.cluster.local.", RecordType::A).await;
    assert_eq!(data(&m), ["10.96.0.20"]);
    let m = udp(dns.addr, "www.example.com.", RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.1"], "forwarding still works");
    dns.stop().await;
}
