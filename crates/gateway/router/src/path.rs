//! Path matching shared by both APIs. A prefix matches element by element (split on `/`),
//! and a trailing `/` on either side is ignored: `/foo` matches `/foo`, `/foo/` and
//! `/foo/bar`, not `/foobar` — Ingress's `Prefix` and HTTPRoute's `PathPrefix` agree on this.

/// How a path value matches a request's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// The whole path, case-sensitive; `/foo` does not match `/foo/`.
    Exact(String),
    /// Element-wise prefix.
    Prefix(String),
}

impl PathMatch {
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(value) => value == path,
            PathMatch::Prefix(prefix) => prefix_matches(prefix, path),
        }
    }

    /// The number of characters of the value, the length rules of both APIs compare.
    pub fn value_len(&self) -> usize {
        match self {
            PathMatch::Exact(v) | PathMatch::Prefix(v) => v.len(),
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, PathMatch::Exact(_))
    }
}

/// Whether `prefix` matches `path` element-wise.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `path` with the part `prefix` matched replaced by `replacement` (HTTPRoute's
/// `ReplacePrefixMatch`): `/prefix/one/two` with `/prefix/one` → `/one` gives `/one/two`;
/// replacing with `/` strips the prefix, and never leaves an empty path.
pub fn replace_prefix(path: &str, prefix: &str, replacement: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let rest = path.get(prefix.len()..).unwrap_or("");
    let replacement = replacement.trim_end_matches('/');
    let mut out = String::with_capacity(replacement.len() + rest.len() + 1);
    out.push_str(replacement);
    out.push_str(rest);
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Kubernetes documentation's table of Ingress path matches (Examples), plus the
    /// element-wise cases of HTTPRoute's PathPrefix.
    #[test]
    fn ingress_documentation_examples() {
        let cases: &[(PathMatch, &str, bool)] = &[
            (PathMatch::Prefix("/".into()), "/anything/at/all", true),
            (PathMatch::Exact("/foo".into()), "/foo", true),
            (PathMatch::Exact("/foo".into()), "/bar", false),
            (PathMatch::Exact("/foo".into()), "/foo/", false),
            (PathMatch::Exact("/foo/".into()), "/foo", false),
            (PathMatch::Prefix("/foo".into()), "/foo", true),
            (PathMatch::Prefix("/foo".into()), "/foo/", true),
            (PathMatch::Prefix("/foo/".into()), "/foo", true),
            (PathMatch::Prefix("/foo/".into()), "/foo/", true),
            (PathMatch::Prefix("/aaa/bb".into()), "/aaa/bbb", false),
            (PathMatch::Prefix("/aaa/bbb".into()), "/aaa/bbb", true),
            (PathMatch::Prefix("/aaa/bbb/".into()), "/aaa/bbb", true),
            (PathMatch::Prefix("/aaa/bbb".into()), "/aaa/bbb/", true),
            (PathMatch::Prefix("/aaa/bbb".into()), "/aaa/bbb/ccc", true),
            (PathMatch::Prefix("/aaa/bbb".into()), "/aaa/bbbxyz", false),
            (PathMatch::Prefix("/aaa/bbb".into()), "/aaa", false),
        ];
        for (m, path, want) in cases {
            assert_eq!(m.matches(path), *want, "{m:?} on {path}");
        }
    }

    /// Gateway API conformance `HTTPRouteRewritePath`'s prefix cases.
    #[test]
    fn replace_prefix_match_as_the_rewrite_conformance_test() {
        let cases = [
            ("/prefix/one/two", "/prefix/one", "/one", "/one/two"),
            ("/strip-prefix/three", "/strip-prefix", "/", "/three"),
            ("/strip-prefix", "/strip-prefix", "/", "/"),
            ("/strip-prefix/", "/strip-prefix", "/", "/"),
            ("/foo/bar", "/foo/", "/baz", "/baz/bar"),
            ("/foo", "/foo", "/baz/", "/baz"),
            ("/foo/", "/foo", "/baz", "/baz/"),
            ("/anything", "/", "/api", "/api/anything"),
        ];
        for (path, prefix, replacement, want) in cases {
            assert_eq!(
                replace_prefix(path, prefix, replacement),
                want,
                "{path} with {prefix} → {replacement}"
            );
        }
    }
}
