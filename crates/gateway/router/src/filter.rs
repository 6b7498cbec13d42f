//! HTTPRoute's filters as data, with the pure parts of applying them: header edits, the
//! redirect's `Location`, the rewritten path. The proxy applies them in the order a rule
//! lists them.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::backend::BackendRef;
use crate::path::replace_prefix;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    RequestRedirect(Redirect),
    UrlRewrite(Rewrite),
    /// A copy of the request goes to this backend too; its answer is dropped.
    RequestMirror(BackendRef),
}

/// `set` replaces, `add` appends a value, `remove` drops every value of a name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderModifier {
    pub set: Vec<(HeaderName, HeaderValue)>,
    pub add: Vec<(HeaderName, HeaderValue)>,
    pub remove: Vec<HeaderName>,
}

impl HeaderModifier {
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathModifier {
    ReplaceFullPath(String),
    /// Replaces the part of the path the rule's `PathPrefix` matched.
    ReplacePrefixMatch(String),
}

impl PathModifier {
    /// The new path for `path`, which matched `prefix` (the rule's PathPrefix value).
    pub fn apply(&self, path: &str, prefix: Option<&str>) -> String {
        match self {
            PathModifier::ReplaceFullPath(p) => p.clone(),
            PathModifier::ReplacePrefixMatch(r) => replace_prefix(path, prefix.unwrap_or("/"), r),
        }
    }
}

/// `RequestRedirect`: unset fields keep the request's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub scheme: Option<String>,
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
    pub port: Option<u16>,
    /// 301 or 302 (the default).
    pub status: u16,
}

/// What a redirect is computed from: the request as the listener received it.
#[derive(Clone, Copy, Debug)]
pub struct RedirectFrom<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub listener_port: u16,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The rule's PathPrefix value the request matched, for `ReplacePrefixMatch`.
    pub prefix: Option<&'a str>,
}

impl Redirect {
    /// The `Location` to answer with. Without a port, the scheme's well-known port when
    /// the redirect sets a scheme, else the listener's; a port that is the scheme's default
    /// (80 for http, 443 for https) is left out, as the spec asks.
    pub fn location(&self, from: &RedirectFrom<'_>) -> String {
        let scheme = self.scheme.as_deref().unwrap_or(from.scheme);
        let port = self.port.unwrap_or(match self.scheme.as_deref() {
            Some("https") => 443,
            Some(_) => 80,
            None => from.listener_port,
        });
        let host = self.hostname.as_deref().unwrap_or(from.host);
        let path = self
            .path
            .as_ref()
            .map_or_else(|| from.path.to_owned(), |m| m.apply(from.path, from.prefix));
        let default_port = matches!((scheme, port), ("http", 80) | ("https", 443));
        let mut out = format!("{scheme}://{host}");
        if !default_port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&path);
        if let Some(q) = from.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

/// `URLRewrite`: the Host header and/or the path sent upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &'static str) -> HeaderName {
        HeaderName::from_static(s)
    }
    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    /// Gateway API conformance `HTTPRouteRequestHeaderModifier`'s cases in one request.
    #[test]
    fn header_modifier_sets_adds_and_removes() {
        let m = HeaderModifier {
            set: vec![(h("x-header-set"), v("set-overwrites-values"))],
            add: vec![(h("x-header-add"), v("add-appends-values"))],
            remove: vec![h("x-header-remove")],
        };
        let mut headers = HeaderMap::new();
        headers.insert(h("x-header-set"), v("some-other-value"));
        headers.insert(h("x-header-add"), v("some-other-value"));
        headers.insert(h("x-header-remove"), v("val"));
        headers.insert(h("x-keep"), v("kept"));
        m.apply(&mut headers);
        assert_eq!(
            headers.get_all("x-header-set").iter().collect::<Vec<_>>(),
            [&v("set-overwrites-values")]
        );
        assert_eq!(
            headers.get_all("x-header-add").iter().collect::<Vec<_>>(),
            [&v("some-other-value"), &v("add-appends-values")]
        );
        assert!(headers.get("x-header-remove").is_none());
        assert_eq!(headers.get("x-keep"), Some(&v("kept")));
    }

    fn from<'a>(path: &'a str, prefix: Option<&'a str>) -> RedirectFrom<'a> {
        RedirectFrom {
            scheme: "http",
            host: "example.org",
            listener_port: 80,
            path,
            query: None,
            prefix,
        }
    }

    fn redirect() -> Redirect {
        Redirect {
            scheme: None,
            hostname: None,
            path: None,
            port: None,
            status: 302,
        }
    }

    /// Gateway API conformance `HTTPRouteRedirectScheme`, `…HostAndStatus`, `…Port`,
    /// `…Path` and `HTTPRouteRedirectPortAndScheme`'s expectations.
    #[test]
    fn redirect_locations_as_the_conformance_tests() {
        let scheme = Redirect {
            scheme: Some("https".into()),
            ..redirect()
        };
        assert_eq!(
            scheme.location(&from("/scheme", None)),
            "https://example.org/scheme"
        );
        let host = Redirect {
            hostname: Some("example.net".into()),
            status: 301,
            ..redirect()
        };
        assert_eq!(
            host.location(&from("/hostname-redirect", None)),
            "http://example.net/hostname-redirect"
        );
        let port = Redirect {
            port: Some(8083),
            ..redirect()
        };
        assert_eq!(
            port.location(&from("/port", None)),
            "http://example.org:8083/port"
        );
        let https_on_443 = Redirect {
            scheme: Some("https".into()),
            port: Some(443),
            ..redirect()
        };
        assert_eq!(
            https_on_443.location(&from("/p", None)),
            "https://example.org/p"
        );
        let http_on_8080 = Redirect {
            scheme: Some("http".into()),
            port: Some(8080),
            ..redirect()
        };
        assert_eq!(
            http_on_8080.location(&from("/p", None)),
            "http://example.org:8080/p"
        );
        let prefix = Redirect {
            path: Some(PathModifier::ReplacePrefixMatch(
                "/replacement-prefix".into(),
            )),
            ..redirect()
        };
        let mut f = from("/original-prefix/lemon", Some("/original-prefix"));
        f.query = Some("a=1");
        assert_eq!(
            prefix.location(&f),
            "http://example.org/replacement-prefix/lemon?a=1"
        );
        let full = Redirect {
            path: Some(PathModifier::ReplaceFullPath(
                "/full-path-replacement".into(),
            )),
            ..redirect()
        };
        assert_eq!(
            full.location(&from("/full/path/original", None)),
            "http://example.org/full-path-replacement"
        );
        // Without a scheme or port the listener's port is kept.
        let mut on_8080 = from("/x", None);
        on_8080.listener_port = 8080;
        assert_eq!(
            Redirect {
                hostname: Some("a.b".into()),
                ..redirect()
            }
            .location(&on_8080),
            "http://a.b:8080/x"
        );
    }
}
