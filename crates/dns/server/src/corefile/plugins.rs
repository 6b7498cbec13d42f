//! Each supported plugin's arguments and options, with CoreDNS's defaults.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use podnet_dns_records::{Name, PodMode, ZoneConfig};

use super::lexer::Token;
use super::syntax::{Block, Directive};
use super::{Cache, CacheClass, Forward, Health, Kubernetes, Policy, Prefetch, ServerBlock};
use crate::error::{Error, Result};

/// Plugins CoreDNS has that podnet accepts without acting on them (a warning says so).
const IGNORED: &[&str] = &[
    "any",
    "acl",
    "autopath",
    "bufsize",
    "cancel",
    "chaos",
    "debug",
    "dnssec",
    "dns64",
    "erratic",
    "file",
    "hosts",
    "k8s_external",
    "local",
    "minimal",
    "metadata",
    "nsid",
    "rewrite",
    "root",
    "secondary",
    "sign",
    "template",
    "trace",
    "transfer",
    "tls",
    "whoami",
];

fn err(t: &Token, directive: &str, reason: impl Into<String>) -> Error {
    Error::Corefile {
        line: t.line,
        directive: directive.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn server_block(
    b: &Block,
    default_port: u16,
    warnings: &mut Vec<String>,
) -> Result<ServerBlock> {
    let first = b.keys.first().cloned().unwrap_or(Token {
        text: ".".into(),
        line: 1,
        quoted: false,
    });
    let mut zones = Vec::new();
    let mut port = None;
    for key in &b.keys {
        let (zone, p) = server_key(key, default_port)?;
        if port.is_some_and(|q| q != p) {
            return Err(err(
                key,
                &key.text,
                "all keys of a server block must use the same port",
            ));
        }
        port = Some(p);
        zones.push(zone);
    }
    let mut s = ServerBlock {
        line: first.line,
        zones,
        port: port.unwrap_or(default_port),
        bind: Vec::new(),
        kubernetes: None,
        forward: None,
        cache: None,
        health: None,
        ready: None,
        prometheus: None,
        log: false,
        errors: false,
        reload: None,
        loop_detect: false,
        loadbalance: false,
    };
    for d in &b.directives {
        let name = d.name.text.as_str();
        let once = |present: bool| {
            if present {
                Err(err(
                    &d.name,
                    name,
                    "given more than once in this server block",
                ))
            } else {
                Ok(())
            }
        };
        match name {
            "kubernetes" => {
                once(s.kubernetes.is_some())?;
                s.kubernetes = Some(kubernetes(d, &s.zones, warnings)?);
            }
            "forward" => {
                once(s.forward.is_some())?;
                s.forward = Some(forward(d, warnings)?);
            }
            "cache" => {
                once(s.cache.is_some())?;
                s.cache = Some(cache(d)?);
            }
            "health" => {
                once(s.health.is_some())?;
                let addr = opt_addr(d, 8080)?;
                let mut lameduck = Duration::ZERO;
                for o in &d.block {
                    match o.name.text.as_str() {
                        "lameduck" => lameduck = duration_arg(o, "health lameduck")?,
                        other => return Err(unknown_option(o, "health", other)),
                    }
                }
                s.health = Some(Health { addr, lameduck });
            }
            "ready" => {
                once(s.ready.is_some())?;
                s.ready = Some(opt_addr(d, 8181)?);
            }
            "prometheus" => {
                once(s.prometheus.is_some())?;
                s.prometheus = Some(opt_addr(d, 9153)?);
            }
            "bind" => {
                for a in &d.args {
                    match a.text.parse() {
                        Ok(ip) => s.bind.push(ip),
                        Err(_) => {
                            warnings.push(format!(
                                "line {}: bind {:?}: interface names are not supported; ignored",
                                a.line, a.text
                            ));
                        }
                    }
                }
            }
            "log" => s.log = true,
            "errors" => s.errors = true,
            "loop" => s.loop_detect = true,
            "loadbalance" => s.loadbalance = true,
            "reload" => {
                let every = match d.args.first() {
                    Some(a) => {
                        parse_duration(&a.text).ok_or_else(|| err(a, "reload", "not a duration"))?
                    }
                    None => Duration::from_secs(30),
                };
                s.reload = Some(every);
            }
            "import" => {
                return Err(err(&d.name, name, "snippets and imports are not supported"));
            }
            n if IGNORED.contains(&n) => warnings.push(format!(
                "line {}: plugin {n:?} is not supported by podnet dns; ignored",
                d.name.line
            )),
            n => warnings.push(format!(
                "line {}: unknown plugin {n:?}; ignored",
                d.name.line
            )),
        }
    }
    Ok(s)
}

/// `[dns://]ZONE[:PORT]`.
fn server_key(key: &Token, default_port: u16) -> Result<(Name, u16)> {
    let mut text = key.text.as_str();
    if let Some((scheme, rest)) = text.split_once("://") {
        if scheme != "dns" {
            return Err(err(
                key,
                &key.text,
                format!("{scheme}:// servers are not supported (dns:// only)"),
            ));
        }
        text = rest;
    }
    let (zone, port) = match text.rsplit_once(':') {
        Some((z, p)) => {
            let port = p
                .parse()
                .map_err(|_| err(key, &key.text, format!("{p:?} is not a port")))?;
            (z, port)
        }
        None => (text, default_port),
    };
    let zone = Name::parse(if zone.is_empty() { "." } else { zone })
        .map_err(|e| err(key, &key.text, e.to_string()))?;
    Ok((zone, port))
}

fn kubernetes(
    d: &Directive,
    block_zones: &[Name],
    warnings: &mut Vec<String>,
) -> Result<Kubernetes> {
    let texts: Vec<&str> = d.args.iter().map(|a| a.text.as_str()).collect();
    let mut zone = if texts.is_empty() {
        let owned: Vec<String> = block_zones.iter().map(|z| z.to_string()).collect();
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        ZoneConfig::for_zones(&refs)
    } else {
        ZoneConfig::for_zones(&texts)
    }
    .map_err(|e| err(&d.name, "kubernetes", e.to_string()))?;
    // CoreDNS's defaults for the plugin (the default Corefile sets pods insecure and ttl 30).
    zone.ttl = 5;
    zone.pods = PodMode::Disabled;
    let mut kubeconfig = None;
    for o in &d.block {
        let opt = o.name.text.as_str();
        let what = format!("kubernetes {opt}");
        match opt {
            "pods" => {
                zone.pods = match o.args.first().map(|a| a.text.as_str()) {
                    Some("disabled") => PodMode::Disabled,
                    Some("insecure") => PodMode::Insecure,
                    Some("verified") => PodMode::Verified,
                    _ => return Err(err(&o.name, &what, "want disabled, insecure or verified")),
                }
            }
            "ttl" => {
                let a = one_arg(o, &what)?;
                let ttl: u32 = a.text.parse().map_err(|_| {
                    err(a, &what, format!("{:?} is not a number of seconds", a.text))
                })?;
                if ttl > 3600 {
                    return Err(err(a, &what, format!("{ttl} is out of range 0..3600")));
                }
                zone.ttl = ttl;
            }
            "fallthrough" => {
                let mut zones = Vec::new();
                for a in &o.args {
                    zones.push(Name::parse(&a.text).map_err(|e| err(a, &what, e.to_string()))?);
                }
                zone.fallthrough = Some(zones);
            }
            "endpoint_pod_names" => zone.endpoint_pod_names = true,
            "namespaces" => {
                zone.namespaces = o.args.iter().map(|a| a.text.to_ascii_lowercase()).collect()
            }
            "kubeconfig" => {
                let path = one_or_two(o, &what)?;
                kubeconfig = Some((
                    PathBuf::from(&path[0].text),
                    path.get(1).map(|c| c.text.clone()),
                ));
            }
            "endpoint"
            | "tls"
            | "labels"
            | "namespace_labels"
            | "noendpoints"
            | "ignore"
            | "multicluster"
            | "startup_timeout"
            | "apiserver_qps"
            | "apiserver_burst"
            | "apiserver_max_inflight" => warnings.push(format!(
                "line {}: kubernetes option {opt:?} is not supported by podnet dns; ignored",
                o.name.line
            )),
            other => return Err(unknown_option(o, "kubernetes", other)),
        }
    }
    Ok(Kubernetes { zone, kubeconfig })
}

fn forward(d: &Directive, warnings: &mut Vec<String>) -> Result<Forward> {
    let Some((from, to)) = d.args.split_first() else {
        return Err(err(&d.name, "forward", "want: forward FROM TO…"));
    };
    if to.is_empty() {
        return Err(err(&d.name, "forward", "no upstream given"));
    }
    let from = Name::parse(&from.text).map_err(|e| err(from, "forward", e.to_string()))?;
    let mut upstreams = Vec::new();
    for a in to {
        upstreams.extend(upstream(a)?);
    }
    if upstreams.is_empty() {
        return Err(err(&d.name, "forward", "no upstream found"));
    }
    let mut f = Forward {
        from,
        to: upstreams,
        except: Vec::new(),
        force_tcp: false,
        max_concurrent: 1000,
        policy: Policy::Random,
        timeout: Duration::from_secs(2),
    };
    for o in &d.block {
        let opt = o.name.text.as_str();
        let what = format!("forward {opt}");
        match opt {
            "except" => {
                for a in &o.args {
                    f.except
                        .push(Name::parse(&a.text).map_err(|e| err(a, &what, e.to_string()))?);
                }
            }
            "force_tcp" => f.force_tcp = true,
            "prefer_udp" => f.force_tcp = false,
            "max_concurrent" => {
                let a = one_arg(o, &what)?;
                f.max_concurrent = a
                    .text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(a, &what, "not a positive number"))?;
            }
            "policy" => {
                f.policy = match one_arg(o, &what)?.text.as_str() {
                    "random" => Policy::Random,
                    "round_robin" => Policy::RoundRobin,
                    "sequential" => Policy::Sequential,
                    _ => {
                        return Err(err(
                            &o.name,
                            &what,
                            "want random, round_robin or sequential",
                        ));
                    }
                }
            }
            "expire"
            | "health_check"
            | "max_fails"
            | "tls"
            | "tls_servername"
            | "next"
            | "failfast_all_unhealthy_upstreams"
            | "failover" => warnings.push(format!(
                "line {}: forward option {opt:?} is not supported by podnet dns; ignored",
                o.name.line
            )),
            other => return Err(unknown_option(o, "forward", other)),
        }
    }
    Ok(f)
}

/// One `TO` of `forward`: an address with an optional port, `dns://…`, or a resolv.conf-style
/// file whose `nameserver` lines are the upstreams.
fn upstream(a: &Token) -> Result<Vec<SocketAddr>> {
    let text = a.text.strip_prefix("dns://").unwrap_or(&a.text);
    if text.contains("://") {
        return Err(err(
            a,
            "forward",
            format!("{:?}: only plain DNS upstreams are supported", a.text),
        ));
    }
    if let Some(addr) = parse_hostport(text, 53) {
        return Ok(vec![addr]);
    }
    if text.starts_with('/') {
        let body = std::fs::read_to_string(text)
            .map_err(|e| err(a, "forward", format!("reading {text}: {e}")))?;
        let found: Vec<SocketAddr> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        if found.is_empty() {
            return Err(err(a, "forward", format!("{text} lists no nameserver")));
        }
        return Ok(found);
    }
    Err(err(
        a,
        "forward",
        format!("{:?} is neither an address nor a file", a.text),
    ))
}

fn cache(d: &Directive) -> Result<Cache> {
    let mut max_ttl = None;
    let mut zones = Vec::new();
    for (i, a) in d.args.iter().enumerate() {
        match (i, a.text.parse::<u32>()) {
            (0, Ok(ttl)) => max_ttl = Some(ttl),
            _ => zones.push(Name::parse(&a.text).map_err(|e| err(a, "cache", e.to_string()))?),
        }
    }
    let mut c = Cache {
        zones,
        success: CacheClass {
            capacity: 9984,
            max_ttl: max_ttl.unwrap_or(3600),
            min_ttl: 5,
        },
        denial: CacheClass {
            capacity: 9984,
            max_ttl: max_ttl.unwrap_or(1800),
            min_ttl: 5,
        },
        prefetch: None,
        disable_success: Vec::new(),
        disable_denial: Vec::new(),
    };
    for o in &d.block {
        let opt = o.name.text.as_str();
        let what = format!("cache {opt}");
        match opt {
            "success" | "denial" => {
                let nums = numbers(o, &what, 1, 3)?;
                let class = if opt == "success" {
                    &mut c.success
                } else {
                    &mut c.denial
                };
                class.capacity = nums[0] as usize;
                if let Some(t) = nums.get(1) {
                    class.max_ttl = *t;
                }
                if let Some(t) = nums.get(2) {
                    class.min_ttl = *t;
                }
            }
            "prefetch" => {
                let Some(amount) = o.args.first() else {
                    return Err(err(
                        &o.name,
                        &what,
                        "want prefetch AMOUNT [DURATION] [PERCENTAGE%]",
                    ));
                };
                let amount: u32 = amount
                    .text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(amount, &what, "AMOUNT is a positive number"))?;
                let mut p = Prefetch {
                    amount,
                    window: Duration::from_secs(60),
                    percentage: 10,
                };
                for a in &o.args[1..] {
                    if let Some(pct) = a.text.strip_suffix('%') {
                        p.percentage = pct
                            .parse()
                            .ok()
                            .filter(|n| (1..=100).contains(n))
                            .ok_or_else(|| err(a, &what, "PERCENTAGE is 1% to 100%"))?;
                    } else {
                        p.window = parse_duration(&a.text)
                            .ok_or_else(|| err(a, &what, "not a duration"))?;
                    }
                }
                c.prefetch = Some(p);
            }
            "disable" => {
                let Some((kind, zs)) = o.args.split_first() else {
                    return Err(err(&o.name, &what, "want disable success|denial [ZONES…]"));
                };
                let mut names = Vec::new();
                for z in zs {
                    names.push(Name::parse(&z.text).map_err(|e| err(z, &what, e.to_string()))?);
                }
                if names.is_empty() {
                    names.push(Name::root());
                }
                match kind.text.as_str() {
                    "success" => c.disable_success.extend(names),
                    "denial" => c.disable_denial.extend(names),
                    _ => return Err(err(kind, &what, "want success or denial")),
                }
            }
            "serve_stale" | "servfail" | "keepttl" => {}
            other => return Err(unknown_option(o, "cache", other)),
        }
    }
    Ok(c)
}

fn numbers(o: &Directive, what: &str, min: usize, max: usize) -> Result<Vec<u32>> {
    if o.args.len() < min || o.args.len() > max {
        return Err(err(&o.name, what, format!("want {min} to {max} numbers")));
    }
    o.args
        .iter()
        .map(|a| {
            a.text
                .parse()
                .map_err(|_| err(a, what, format!("{:?} is not a number", a.text)))
        })
        .collect()
}

fn one_arg<'a>(o: &'a Directive, what: &str) -> Result<&'a Token> {
    match o.args.as_slice() {
        [a] => Ok(a),
        _ => Err(err(&o.name, what, "want exactly one value")),
    }
}

fn one_or_two<'a>(o: &'a Directive, what: &str) -> Result<&'a [Token]> {
    match o.args.len() {
        1 | 2 => Ok(&o.args),
        _ => Err(err(&o.name, what, "want PATH [CONTEXT]")),
    }
}

fn duration_arg(o: &Directive, what: &str) -> Result<Duration> {
    let a = one_arg(o, what)?;
    parse_duration(&a.text)
        .ok_or_else(|| err(a, what, format!("{:?} is not a duration (like 5s)", a.text)))
}

fn unknown_option(o: &Directive, plugin: &str, name: &str) -> Error {
    err(
        &o.name,
        &format!("{plugin} {name}"),
        format!("unknown property of the {plugin} plugin"),
    )
}

/// `ADDRESS` of health/ready/prometheus: `[HOST]:PORT`, default port when absent.
fn opt_addr(d: &Directive, default_port: u16) -> Result<SocketAddr> {
    match d.args.as_slice() {
        [] => Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            default_port,
        )),
        [a] => parse_hostport(&a.text, default_port)
            .ok_or_else(|| err(a, &d.name.text, format!("{:?} is not [HOST]:PORT", a.text))),
        _ => Err(err(&d.name, &d.name.text, "want at most one address")),
    }
}

/// `1.2.3.4`, `1.2.3.4:53`, `[::1]:53`, `::1`, `:9153`, `localhost:9153`.
fn parse_hostport(text: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(a);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, default_port));
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// Go-style durations as CoreDNS takes them: `5s`, `1m`, `1m30s`, `500ms`, `2h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let d = match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return None,
        };
        total += d;
        rest = &rest[unit..];
    }
    Some(total)
}
