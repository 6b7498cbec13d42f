//! DNS settings for the result, read from a resolv.conf file as host-local does
//! (`nameserver`, `domain`, `search`, `options`; `#` and `;` start comments).

use std::path::Path;

use podnet_cni_spec::Dns;

use crate::error::Error;

pub fn read(path: &Path) -> Result<Dns, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(
            "ipam.resolvConf",
            format!("reading {}: {e}", path.display()),
        )
    })?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        let rest = words.map(str::to_owned);
        match key {
            "nameserver" => dns.nameservers.extend(rest.take(1)),
            "domain" => dns.domain = rest.take(1).next(),
            "search" => dns.search.extend(rest),
            "options" => dns.options.extend(rest),
            _ => {}
        }
    }
    dns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key_and_skips_comments() {
        let dns = parse(
            "# generated\nnameserver 10.96.0.10\nnameserver fd00::a ; second\n\
             domain cluster.local\nsearch ns1.svc.cluster.local svc.cluster.local\n\
             options ndots:5 edns0\nsortlist 1.2.3.4\n",
        );
        assert_eq!(dns.nameservers, ["10.96.0.10", "fd00::a"]);
        assert_eq!(dns.domain.as_deref(), Some("cluster.local"));
        assert_eq!(dns.search, ["ns1.svc.cluster.local", "svc.cluster.local"]);
        assert_eq!(dns.options, ["ndots:5", "edns0"]);
    }

    #[test]
    fn a_missing_file_names_the_field() {
        let err = read(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ipam.resolvConf: reading /nonexistent/resolv.conf"),
            "{err}"
        );
    }
}
