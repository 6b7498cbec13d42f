//! Names and labels, checked with the API server's rules and wording.

/// Node names are `NAME-control-plane`, `NAME-worker2`: the cluster name is a DNS label
/// short enough to leave room for the suffix within 63 bytes.
const MAX_CLUSTER_NAME: usize = 50;

/// A cluster name: also a directory name and the prefix of every node's name.
pub fn validate_cluster_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_CLUSTER_NAME {
        return Err(format!(
            "must be no more than {MAX_CLUSTER_NAME} characters"
        ));
    }
    if !is_dns_label(name) {
        return Err(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric \
                    characters or '-', and must start and end with an alphanumeric character"
                .into(),
        );
    }
    Ok(())
}

/// A label key (optional DNS-subdomain prefix, then a name) and its value.
pub(crate) fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty() || p.len() > 253 || !p.split('.').all(is_dns_label))
    {
        return Err(format!(
            "Invalid value: {key:?}: prefix part a lowercase RFC 1123 subdomain must consist \
             of lower case alphanumeric characters, '-' or '.'"
        ));
    }
    if name.is_empty() || !is_label_value(name) {
        return Err(format!(
            "Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character (63 at most)"
        ));
    }
    if !value.is_empty() && !is_label_value(value) {
        return Err(format!(
            "Invalid value: {value:?}: a valid label must be an empty string or consist of \
             alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (63 at most)"
        ));
    }
    Ok(())
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_label_value(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.bytes()
            .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_some_and(alnum)
        && s.bytes().last().is_some_and(alnum)
}
