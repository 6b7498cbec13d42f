//! Name syntaxes (RFC 1123 labels and subdomains, qualified names, IANA service names) with
//! the API server's messages.

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  \
    or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

pub fn dns1123_label_problem(s: &str) -> Option<String> {
    if s.len() > 63 {
        Some("must be no more than 63 characters".into())
    } else if !is_dns1123_label(s) {
        Some(LABEL_MSG.into())
    } else {
        None
    }
}

pub fn dns1123_subdomain_problem(s: &str) -> Option<String> {
    if s.len() > 253 {
        Some("must be no more than 253 characters".into())
    } else if !is_dns1123_subdomain(s) {
        Some(SUBDOMAIN_MSG.into())
    } else {
        None
    }
}

/// A label or annotation key: `[prefix/]name`.
pub fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && let Some(problem) = dns1123_subdomain_problem(prefix)
    {
        return Some(format!("prefix part {problem}"));
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!ok).then(|| {
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and \
         end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
         regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            .to_string()
    })
}

/// An IANA service name (a port name): ≤ 15 characters, lowercase alphanumerics and '-',
/// at least one letter, no leading, trailing or double '-'.
pub fn port_name_problem(s: &str) -> Option<&'static str> {
    if s.len() > 15 {
        Some("must be no more than 15 characters")
    } else if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    } else if s.contains("--") {
        Some("must not contain consecutive hyphens")
    } else if !s.bytes().any(|b| b.is_ascii_lowercase()) {
        Some("must contain at least one letter (a-z)")
    } else if s.starts_with('-') || s.ends_with('-') {
        Some("must not begin or end with a hyphen")
    } else {
        None
    }
}
