//! The result's DNS: the network config's `dns` first, then what IPAM returned, without
//! duplicates.

use podnet_cni_spec::Dns;

pub fn merge(conf: Option<&Dns>, ipam: Dns) -> Dns {
    let Some(conf) = conf else {
        return ipam;
    };
    let mut out = conf.clone();
    for (into, from) in [
        (&mut out.nameservers, ipam.nameservers),
        (&mut out.search, ipam.search),
        (&mut out.options, ipam.options),
    ] {
        for item in from {
            if !into.contains(&item) {
                into.push(item);
            }
        }
    }
    out.domain = out.domain.or(ipam.domain);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_first_then_ipam_without_duplicates() {
        let conf = Dns {
            nameservers: vec!["10.96.0.10".into()],
            search: vec!["svc.cluster.local".into()],
            ..Default::default()
        };
        let ipam = Dns {
            nameservers: vec!["10.96.0.10".into(), "1.1.1.1".into()],
            domain: Some("cluster.local".into()),
            ..Default::default()
        };
        let m = merge(Some(&conf), ipam.clone());
        assert_eq!(m.nameservers, ["10.96.0.10", "1.1.1.1"]);
        assert_eq!(m.search, ["svc.cluster.local"]);
        assert_eq!(m.domain.as_deref(), Some("cluster.local"));
        assert_eq!(merge(None, ipam.clone()), ipam);
    }
}
