//! agnhost's `connect`: one connection attempt to HOST:PORT. Success exits 0; a failure exits 1
//! with one line on stderr whose first word NetworkPolicy tests match on:
//! `TIMEOUT`, `REFUSED`, `DNS: …`, `OTHER: …` (no route, unreachable…) or `UNKNOWN: …` (bad
//! arguments, and UDP errors that are neither timeout nor refusal).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use crate::args::ConnectArgs;
use crate::{go, sys};

/// Runs the attempt, prints the failure line, returns the exit status.
pub fn run(args: &ConnectArgs) -> i32 {
    let result = match args.protocol.as_str() {
        "" | "tcp" => connect_tcp(&args.dest, args.timeout),
        "udp" => connect_udp(&args.dest, args.timeout, &args.udp_data),
        "sctp" => connect_sctp(&args.dest),
        other => Err(format!("Unsupported protocol\n{other}")),
    };
    match result {
        Ok(()) => 0,
        Err(line) => {
            eprintln!("{line}");
            1
        }
    }
}

fn connect_tcp(dest: &str, timeout: Duration) -> Result<(), String> {
    let (host, port) = split_host_port(dest).map_err(|e| format!("UNKNOWN: {e}"))?;
    let addrs = resolve(host, port)?;
    let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
    let mut first_error = None;
    for addr in &addrs {
        let attempt = match deadline {
            None => TcpStream::connect(addr),
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => TcpStream::connect_timeout(addr, left),
                _ => Err(io::ErrorKind::TimedOut.into()),
            },
        };
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert((*addr, e));
            }
        }
    }
    let (addr, e) = first_error.expect("resolve returns at least one address");
    Err(match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "TIMEOUT".to_owned(),
        io::ErrorKind::ConnectionRefused => "REFUSED".to_owned(),
        _ => format!(
            "OTHER: dial tcp {}: connect: {}",
            go::addr_string(addr),
            go::errno_text(&e)
        ),
    })
}

fn connect_udp(dest: &str, timeout: Duration, data: &str) -> Result<(), String> {
    let (host, port) = split_host_port(dest).map_err(|e| format!("DNS: {e}"))?;
    let addr = resolve(host, port)?[0];
    let any = match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let other = |e: io::Error| {
        format!(
            "OTHER: dial udp {}: {}",
            go::addr_string(addr),
            go::errno_text(&e)
        )
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).map_err(other)?;
    socket.connect(addr).map_err(other)?;
    if !timeout.is_zero() {
        socket.set_read_timeout(Some(timeout)).map_err(other)?;
        socket.set_write_timeout(Some(timeout)).map_err(other)?;
    }
    let pair = format!(
        "{}->{}",
        socket.local_addr().map(go::addr_string).unwrap_or_default(),
        go::addr_string(addr)
    );
    socket
        .send(format!("{data}\n").as_bytes())
        .map_err(|e| udp_failure("write", &pair, &e))?;
    let mut buf = [0u8; 1024];
    let n = socket
        .recv(&mut buf)
        .map_err(|e| udp_failure("read", &pair, &e))?;
    if n == 0 {
        return Err("OTHER: No data received from the server. Cannot guarantee the server received the request.".to_owned());
    }
    Ok(())
}

fn udp_failure(op: &str, pair: &str, e: &io::Error) -> String {
    let detail = format!("{op} udp {pair}: {}", go::errno_text(e));
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!("TIMEOUT: {detail}"),
        io::ErrorKind::ConnectionRefused => {
            format!("REFUSED: {op} udp {pair}: {op}: connection refused")
        }
        _ => format!("UNKNOWN: {detail}"),
    }
}

fn connect_sctp(dest: &str) -> Result<(), String> {
    let (host, port) = split_host_port(dest).map_err(|e| format!("DNS: {e}"))?;
    resolve(host, port)?;
    match sys::sctp_available() {
        Err(e) => Err(format!("OTHER: {}", go::errno_text(&e))),
        Ok(()) => Err("OTHER: podnet's connect has no SCTP client".to_owned()),
    }
}

fn resolve(host: &str, port: &str) -> Result<Vec<SocketAddr>, String> {
    let port_n: u16 = port
        .parse()
        .map_err(|_| format!("DNS: lookup tcp/{port}: unknown port"))?;
    // An empty host means this machine, as for Go's dialer.
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let mut addrs: Vec<SocketAddr> = (host, port_n)
        .to_socket_addrs()
        .map_err(|e| format!("DNS: lookup {host}: {}", lookup_error(&e)))?
        .collect();
    // Go tries IPv4 addresses first when a name has both.
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("DNS: lookup {host}: no such host"));
    }
    Ok(addrs)
}

fn lookup_error(e: &io::Error) -> String {
    let text = e.to_string();
    if text.contains("Name or service not known") || text.contains("No address associated") {
        "no such host".to_owned()
    } else {
        text
    }
}

/// Go's `net.SplitHostPort`, with its error texts.
fn split_host_port(dest: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| format!("address {dest}: {why}");
    if let Some(rest) = dest.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(err("missing ']' in address"));
        };
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None if after.is_empty() => Err(err("missing port in address")),
            None => Err(err("unexpected ']' in address")),
        };
    }
    match dest.rsplit_once(':') {
        None => Err(err("missing port in address")),
        Some((host, _)) if host.contains(':') => Err(err("too many colons in address")),
        Some((host, port)) => Ok((host, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_and_port_as_go() {
        assert_eq!(split_host_port("svc.ns:80"), Ok(("svc.ns", "80")));
        assert_eq!(split_host_port("[fd00::1]:443"), Ok(("fd00::1", "443")));
        assert_eq!(split_host_port(":80"), Ok(("", "80")));
        assert!(split_host_port("svc").unwrap_err().contains("missing port"));
        assert!(
            split_host_port("fd00::1:80")
                .unwrap_err()
                .contains("too many colons")
        );
    }

    #[test]
    fn argument_errors_are_unknown_and_exit_1() {
        let args = |dest: &str, protocol: &str| ConnectArgs {
            dest: dest.to_owned(),
            timeout: Duration::from_secs(1),
            protocol: protocol.to_owned(),
            udp_data: "hostname".to_owned(),
            sctp_data: "hostname".to_owned(),
        };
        assert_eq!(
            connect_tcp("nohost", Duration::ZERO)
                .unwrap_err()
                .split(':')
                .next(),
            Some("UNKNOWN")
        );
        assert_eq!(run(&args("127.0.0.1:1", "icmp")), 1);
        assert!(
            connect_tcp("127.0.0.1:http", Duration::ZERO)
                .unwrap_err()
                .starts_with("DNS: ")
        );
    }
}
