//! Host names: a request's Host as both APIs compare it, and the two wildcard rules —
//! Ingress's `*.foo.com` covers exactly one label, Gateway API's `*.example.com` any
//! number of them (a suffix match); neither covers `foo.com` itself.

/// A request's host as routes compare it: the Host header (or HTTP/2 `:authority`)
/// lowercased, without its port or a trailing dot.
pub fn normalize(host: &str) -> String {
    let host = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal keeps its brackets; only the port after them goes.
        match rest.find(']') {
            Some(end) => &host[..end + 2],
            None => host,
        }
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An Ingress rule's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngressHost {
    /// No host: every request.
    Any,
    Exact(String),
    /// `*.foo.com`, stored as `.foo.com`: one label before it.
    Wildcard(String),
}

impl IngressHost {
    pub fn parse(host: Option<&str>) -> Self {
        match host.map(str::to_ascii_lowercase) {
            None => IngressHost::Any,
            Some(h) if h.is_empty() => IngressHost::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => IngressHost::Wildcard(suffix.to_owned()),
                None => IngressHost::Exact(h),
            },
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        match self {
            IngressHost::Any => true,
            IngressHost::Exact(h) => h == host,
            IngressHost::Wildcard(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        }
    }

    /// Exact hosts before wildcards before rules without a host.
    pub fn rank(&self) -> u8 {
        match self {
            IngressHost::Exact(_) => 2,
            IngressHost::Wildcard(_) => 1,
            IngressHost::Any => 0,
        }
    }
}

/// Whether a Gateway API hostname (`foo.example.com` or `*.example.com`) matches a
/// request's host.
pub fn gateway_matches(hostname: &str, host: &str) -> bool {
    match hostname.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => hostname == host,
    }
}

/// The hostnames a route attached to a listener answers for: the route's hostnames that
/// intersect the listener's (a route's `*.example.com` under a listener's
/// `foo.example.com` narrows to the listener's). `None` when they do not intersect at all
/// (the route is not accepted there); `Some(empty)` when neither names one (any host).
pub fn intersect(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    let Some(listener) = listener else {
        return Some(route.to_vec());
    };
    if route.is_empty() {
        return Some(vec![listener.to_owned()]);
    }
    let both: Vec<String> = route
        .iter()
        .filter_map(|r| {
            if gateway_matches(listener, r) || listener == r {
                Some(r.clone())
            } else if gateway_matches(r, listener) {
                Some(listener.to_owned())
            } else {
                None
            }
        })
        .collect();
    (!both.is_empty()).then_some(both)
}

/// Gateway API's hostname precedence: characters in a matching non-wildcard hostname,
/// then characters in a matching hostname. A route without hostnames ranks lowest.
pub fn gateway_rank(hostname: Option<&str>) -> (usize, usize) {
    match hostname {
        None => (0, 0),
        Some(h) if h.starts_with('*') => (0, h.len()),
        Some(h) => (h.len(), h.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_hosts_lose_port_case_and_trailing_dot() {
        assert_eq!(normalize("Foo.Example.COM:8080"), "foo.example.com");
        assert_eq!(normalize("foo.example.com."), "foo.example.com");
        assert_eq!(normalize("[::1]:80"), "[::1]");
        assert_eq!(normalize("10.0.0.1"), "10.0.0.1");
    }

    /// The Kubernetes documentation's hostname wildcard table.
    #[test]
    fn ingress_wildcards_cover_one_label() {
        let w = IngressHost::parse(Some("*.foo.com"));
        assert!(w.matches("bar.foo.com"));
        assert!(!w.matches("baz.bar.foo.com"));
        assert!(!w.matches("foo.com"));
        assert!(!w.matches("xfoo.com"));
        let e = IngressHost::parse(Some("foo.bar.com"));
        assert!(e.matches("foo.bar.com"));
        assert!(!e.matches("x.foo.bar.com"));
        assert!(IngressHost::parse(None).matches("anything"));
    }

    #[test]
    fn gateway_wildcards_are_suffixes() {
        assert!(gateway_matches("*.example.com", "foo.example.com"));
        assert!(gateway_matches("*.example.com", "a.b.example.com"));
        assert!(!gateway_matches("*.example.com", "example.com"));
        assert!(gateway_matches("foo.example.com", "foo.example.com"));
        assert!(!gateway_matches("foo.example.com", "bar.example.com"));
    }

    /// The examples of HTTPRoute's `hostnames` documentation.
    #[test]
    fn listener_and_route_hostnames_intersect() {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            intersect(
                Some("*.example.com"),
                &v(&["test.example.com", "test.example.net"])
            ),
            Some(v(&["test.example.com"]))
        );
        assert_eq!(
            intersect(Some("test.example.com"), &v(&["*.example.com"])),
            Some(v(&["test.example.com"]))
        );
        assert_eq!(
            intersect(Some("*.example.com"), &v(&["*.foo.example.com"])),
            Some(v(&["*.foo.example.com"]))
        );
        assert_eq!(
            intersect(Some("test.example.com"), &v(&["other.example.com"])),
            None
        );
        assert_eq!(intersect(Some("a.com"), &[]), Some(v(&["a.com"])));
        assert_eq!(intersect(None, &[]), Some(vec![]));
    }
}
