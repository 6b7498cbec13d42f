//! How Go prints things, so that podnet's answers read as agnhost's do: tests and people
//! compare these strings (`/clientip`, `/dial` errors, `NOW: …`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use jiff::Zoned;
use serde_json::Value;

/// `ip:port` as Go's `net.Addr.String()`: an IPv4 client on a dual-stack socket is shown as
/// IPv4 (Go unmaps `::ffff:a.b.c.d`), IPv6 in brackets.
pub fn addr_string(addr: SocketAddr) -> String {
    SocketAddr::new(addr.ip().to_canonical(), addr.port()).to_string()
}

/// The text Go gives a socket error: `connection refused`, `no route to host`, `i/o timeout`.
pub fn errno_text(err: &io::Error) -> String {
    if matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return "i/o timeout".to_owned();
    }
    match err.raw_os_error() {
        Some(n) => lower_first(nix::errno::Errno::from_raw(n).desc()),
        None => err.to_string(),
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// JSON as Go's `json.Marshal` writes it: compact, with `<`, `>` and `&` escaped. Objects must
/// be built with their keys in sorted order (Go sorts map keys).
pub fn json(value: &Value) -> String {
    let text = value.to_string();
    // These characters can only occur inside JSON strings, so replacing them is safe.
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `time.Now().String()`: `2026-11-22 10:04:05.123456789 +0000 UTC m=+1.500000000`, the
/// monotonic part being the time since the process started.
pub fn time_string(now: &Zoned, since_start: Duration) -> String {
    let nanos = now.subsec_nanosecond();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_owned()
    };
    format!(
        "{}{frac} {} m=+{}.{:09}",
        now.strftime("%Y-%m-%d %H:%M:%S"),
        now.strftime("%z %Z"),
        since_start.as_secs(),
        since_start.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_addresses_print_as_go() {
        let v4mapped: SocketAddr = "[::ffff:10.0.0.7]:41234".parse().unwrap();
        assert_eq!(addr_string(v4mapped), "10.0.0.7:41234");
        let v6: SocketAddr = "[fd00::7]:80".parse().unwrap();
        assert_eq!(addr_string(v6), "[fd00::7]:80");
    }

    #[test]
    fn socket_errors_use_gos_words() {
        let refused = io::Error::from_raw_os_error(nix::libc::ECONNREFUSED);
        assert_eq!(errno_text(&refused), "connection refused");
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(errno_text(&timeout), "i/o timeout");
    }

    #[test]
    fn json_escapes_html_as_go() {
        let v = json!({"errors": ["a<b>&c"], "responses": ["x"]});
        assert_eq!(
            json(&v),
            r#"{"errors":["a\u003cb\u003e\u0026c"],"responses":["x"]}"#
        );
    }

    #[test]
    fn time_prints_as_gos_time_string() {
        let t: Zoned = "2026-11-22T10:04:05.1234+00:00[UTC]".parse().unwrap();
        assert_eq!(
            time_string(&t, Duration::from_millis(1500)),
            "2026-11-22 10:04:05.1234 +0000 UTC m=+1.500000000"
        );
    }
}
