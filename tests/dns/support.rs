//! A DNS server on 127.0.0.1 port 0 with objects fed directly, a fake upstream that counts
//! what it is asked, and small UDP/TCP/HTTP clients.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use podnet_dns_server::{Corefile, Dns, Listeners, Shared};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

pub struct TestDns {
    pub addr: SocketAddr,
    pub http: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    pub reload: mpsc::Sender<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The Corefile tests use: the cluster zone, forwarding to `upstream`, a cache, and the
/// HTTP endpoints on one loopback port.
pub fn corefile(upstream: SocketAddr, extra_kubernetes: &str, cache: &str) -> String {
    format!(
        ".:0 {{
    bind 127.0.0.1
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
        {extra_kubernetes}
    }}
    forward . {upstream} {{
        max_concurrent 1000
    }}
    cache 30 {{
        {cache}
    }}
    health 127.0.0.1:0
    ready 127.0.0.1:0
    prometheus 127.0.0.1:0
}}
"
    )
}

impl TestDns {
    pub async fn start(corefile: &str) -> TestDns {
        Self::start_workers(corefile, 2).await
    }

    pub async fn start_workers(corefile: &str, workers: usize) -> TestDns {
        let cf = Corefile::parse(corefile, 53).unwrap();
        let listeners = Listeners::bind(&cf, workers).unwrap();
        let addr = listeners.dns[0].local_addr();
        let http = listeners.http.first().map(|(l, _)| l.local_addr().unwrap());
        let dns = Dns::new(cf);
        let shared = dns.shared();
        let (reload, reloads) = mpsc::channel(4);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            dns.run(listeners, reloads, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestDns {
            addr,
            http,
            shared,
            reload,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http.unwrap(), path).await
    }
}

pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_owned())
}

/// A query message (hickory lower-cases names; tests that care about case build bytes).
pub fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = rand_id();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static N: AtomicU16 = AtomicU16::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// One query over UDP (blocking socket, run off the runtime's threads).
pub async fn udp(addr: SocketAddr, name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let q = query(name, qtype, edns);
    let bytes = udp_raw(addr, q).await.expect("an answer over UDP");
    Message::from_vec(&bytes).unwrap()
}

pub async fn udp_raw(addr: SocketAddr, packet: Vec<u8>) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.send_to(&packet, addr).unwrap();
        let mut buf = vec![0u8; 65535];
        let n = s.recv(&mut buf).ok()?;
        buf.truncate(n);
        Some(buf)
    })
    .await
    .unwrap()
}

pub async fn tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let q = query(name, qtype, None);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&(q.len() as u16).to_be_bytes()).await.unwrap();
    s.write_all(&q).await.unwrap();
    let len = s.read_u16().await.unwrap() as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

pub fn data(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// A fake upstream resolver on 127.0.0.1 (UDP and TCP on one port), counting questions:
/// - `nx…` names: NXDOMAIN with an SOA (TTL 60, minimum 10);
/// - `tc…` names: TC over UDP, the answer over TCP;
/// - `big…` names: 40 A records;
/// - `short…` names: A 192.0.2.2 with TTL 2;
/// - anything else: A 192.0.2.1 with TTL 300.
pub struct Upstream {
    pub addr: SocketAddr,
    pub asked: Arc<Mutex<HashMap<String, usize>>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        let asked: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let a = asked.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(reply) = answer(&buf[..n], &a, false) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        let a = asked.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    return;
                };
                let a = a.clone();
                tokio::spawn(async move {
                    let Ok(len) = s.read_u16().await else { return };
                    let mut buf = vec![0u8; len as usize];
                    if s.read_exact(&mut buf).await.is_err() {
                        return;
                    }
                    if let Some(reply) = answer(&buf, &a, true) {
                        let _ = s.write_all(&(reply.len() as u16).to_be_bytes()).await;
                        let _ = s.write_all(&reply).await;
                    }
                });
            }
        });
        Upstream { addr, asked }
    }

    pub fn count(&self, name: &str) -> usize {
        self.asked.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.asked.lock().unwrap().values().sum()
    }
}

fn answer(q: &[u8], asked: &Mutex<HashMap<String, usize>>, over_tcp: bool) -> Option<Vec<u8>> {
    let q = Message::from_vec(q).ok()?;
    let question = q.queries.first()?.clone();
    let name = question.name().to_string();
    *asked.lock().unwrap().entry(name.clone()).or_default() += 1;
    let mut r = Message::response(q.metadata.id, OpCode::Query);
    r.metadata.message_type = MessageType::Response;
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.add_query(question.clone());
    if let Some(e) = &q.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(e.max_payload().max(512));
        r.set_edns(edns);
    }
    let owner = question.name().clone();
    let a = |ip: Ipv4Addr, ttl| Record::from_rdata(owner.clone(), ttl, RData::A(A(ip)));
    if name.starts_with("nx") {
        r.metadata.response_code = ResponseCode::NXDomain;
        let soa = SOA::new(
            Name::from_str("ns.example.").unwrap(),
            Name::from_str("hostmaster.example.").unwrap(),
            1,
            7200,
            1800,
            86400,
            10,
        );
        r.add_authority(Record::from_rdata(
            Name::from_str("example.").unwrap(),
            60,
            RData::SOA(soa),
        ));
    } else if name.starts_with("tc") && !over_tcp {
        r.metadata.truncation = true;
    } else if question.query_type() != RecordType::A {
        // NODATA for other types.
    } else if name.starts_with("big") {
        for i in 0..40 {
            r.add_answer(a(Ipv4Addr::new(192, 0, 2, i), 300));
        }
    } else if name.starts_with("short") {
        r.add_answer(a(Ipv4Addr::new(192, 0, 2, 2), 2));
    } else {
        r.add_answer(a(Ipv4Addr::new(192, 0, 2, 1), 300));
    }
    r.to_vec().ok()
}

// --- cluster objects, fed straight into the catalog ---

use podnet_k8s_model::{DnsEndpoint, DnsEndpointSlice, DnsPort, DnsService, DnsServiceKind};

pub fn cluster_ip(ns: &str, name: &str, ip: &str, ports: &[(&str, &str, u16)]) -> DnsService {
    DnsService {
        namespace: ns.into(),
        name: name.into(),
        kind: DnsServiceKind::ClusterIp(vec![ip.parse().unwrap()]),
        ports: ports
            .iter()
            .map(|(n, p, port)| dns_port(n, p, *port))
            .collect(),
        publish_not_ready: false,
    }
}

pub fn headless(ns: &str, name: &str) -> DnsService {
    DnsService {
        namespace: ns.into(),
        name: name.into(),
        kind: DnsServiceKind::Headless,
        ports: vec![],
        publish_not_ready: false,
    }
}

pub fn external(ns: &str, name: &str, target: &str) -> DnsService {
    DnsService {
        namespace: ns.into(),
        name: name.into(),
        kind: DnsServiceKind::ExternalName(target.into()),
        ports: vec![],
        publish_not_ready: false,
    }
}

pub fn dns_port(name: &str, proto: &str, port: u16) -> DnsPort {
    DnsPort {
        name: name.into(),
        protocol: proto.into(),
        port,
    }
}

/// A slice of `svc` with ready endpoints `(address, hostname)`.
pub fn slice(
    ns: &str,
    svc: &str,
    ports: &[(&str, &str, u16)],
    eps: &[(&str, Option<&str>)],
) -> DnsEndpointSlice {
    DnsEndpointSlice {
        namespace: ns.into(),
        name: format!("{svc}-x1"),
        service: Some(svc.into()),
        ports: ports
            .iter()
            .map(|(n, p, port)| dns_port(n, p, *port))
            .collect(),
        endpoints: eps
            .iter()
            .map(|(ip, host)| DnsEndpoint {
                addresses: vec![ip.parse().unwrap()],
                hostname: host.map(Into::into),
                pod_name: None,
                ready: true,
            })
            .collect(),
    }
}
