use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn lab() -> LbAllocator {
    LbAllocator::new(vec![LbAllocator::lab_pool()])
}

fn svc(key: &str) -> LbService {
    LbService {
        key: key.to_owned(),
        is_load_balancer: true,
        ports: vec![("TCP".to_owned(), 80)],
        ..LbService::default()
    }
}

fn with_annotation(mut s: LbService, k: &str, v: &str) -> LbService {
    s.annotations.insert(k.to_owned(), v.to_owned());
    s
}

fn assigned(a: &mut LbAllocator, s: &LbService) -> Vec<IpAddr> {
    match a.assign(s) {
        Ok(LbOutcome::Assigned(ips)) => ips,
        other => panic!("{}: {other:?}", s.key),
    }
}

#[test]
fn ranges_parse_as_dash_ranges_or_cidrs() {
    let r = AddressRange::parse("172.18.255.200-172.18.255.250").unwrap();
    assert!(r.contains(ip("172.18.255.200")) && r.contains(ip("172.18.255.250")));
    assert!(!r.contains(ip("172.18.255.251")) && !r.contains(ip("::1")));
    let c = AddressRange::parse("10.0.0.0/30").unwrap();
    assert_eq!(c.addresses().count(), 4);
    assert_eq!(AddressRange::parse("10.0.0.9-10.0.0.1"), None);
    assert_eq!(AddressRange::parse("10.0.0.1-::2"), None);
    assert_eq!(AddressRange::parse("nonsense"), None);
    let v6 = AddressRange::parse("fd00::10-fd00::11").unwrap();
    assert_eq!(
        v6.addresses().collect::<Vec<_>>(),
        [ip("fd00::10"), ip("fd00::11")]
    );
}

#[test]
fn services_get_the_lowest_free_addresses_in_order() {
    let mut a = lab();
    assert_eq!(assigned(&mut a, &svc("ns/a")), [ip("172.18.255.200")]);
    assert_eq!(assigned(&mut a, &svc("ns/b")), [ip("172.18.255.201")]);
    // Assigning again is stable.
    assert_eq!(assigned(&mut a, &svc("ns/a")), [ip("172.18.255.200")]);
    assert_eq!(a.holders_of(ip("172.18.255.201")), ["ns/b"]);
}

#[test]
fn other_classes_and_non_load_balancers_are_not_served_and_release() {
    let mut a = lab();
    let mut s = svc("ns/a");
    assigned(&mut a, &s);
    s.is_load_balancer = false;
    assert_eq!(a.assign(&s), Ok(LbOutcome::NotServed));
    assert!(a.held_by("ns/a").is_empty());

    let mut other = svc("ns/other");
    other.class = Some("example.com/lb".to_owned());
    assert_eq!(a.assign(&other), Ok(LbOutcome::NotServed));
    let mut ours = svc("ns/ours");
    ours.class = Some(LB_CLASS.to_owned());
    assert_eq!(assigned(&mut a, &ours), [ip("172.18.255.200")]);
}

#[test]
fn requests_by_spec_or_annotation_are_honoured_and_checked() {
    let mut a = lab();
    let mut s = svc("ns/a");
    s.load_balancer_ip = Some("172.18.255.230".to_owned());
    assert_eq!(assigned(&mut a, &s), [ip("172.18.255.230")]);

    let b = with_annotation(
        svc("ns/b"),
        ANNOTATION_IPS,
        "172.18.255.231, 172.18.255.232",
    );
    assert_eq!(
        assigned(&mut a, &b),
        [ip("172.18.255.231"), ip("172.18.255.232")]
    );

    let mut taken = svc("ns/c");
    taken.load_balancer_ip = Some("172.18.255.230".to_owned());
    assert_eq!(
        a.assign(&taken),
        Err(LbAllocError::InUse {
            ip: ip("172.18.255.230"),
            holder: "ns/a".to_owned()
        })
    );
    let outside = with_annotation(svc("ns/d"), ANNOTATION_IPS, "10.1.2.3");
    assert_eq!(
        a.assign(&outside),
        Err(LbAllocError::NotInPool { ip: ip("10.1.2.3") })
    );
    let bad = with_annotation(svc("ns/e"), ANNOTATION_IPS, "300.1.1.1");
    assert_eq!(a.assign(&bad).unwrap_err().reason(), "InvalidAddress");
    // A refused Service holds nothing.
    assert!(a.held_by("ns/c").is_empty() && a.held_by("ns/d").is_empty());
}

#[test]
fn sharing_needs_the_same_key_and_distinct_ports() {
    let mut a = lab();
    let web = with_annotation(svc("ns/web"), ANNOTATION_SHARING_KEY, "k");
    let shared = assigned(&mut a, &web);
    let mut dns = with_annotation(svc("ns/dns"), ANNOTATION_SHARING_KEY, "k");
    dns.ports = vec![("UDP".to_owned(), 53)];
    assert_eq!(
        assigned(&mut a, &dns),
        shared,
        "same key, other ports: shared"
    );
    assert_eq!(a.holders_of(shared[0]), ["ns/web", "ns/dns"]);

    let clash = with_annotation(svc("ns/clash"), ANNOTATION_SHARING_KEY, "k");
    let clash = with_annotation(clash, ANNOTATION_IPS, "172.18.255.200");
    assert_eq!(a.assign(&clash).unwrap_err().reason(), "PortCollision");

    let other_key = with_annotation(svc("ns/x"), ANNOTATION_SHARING_KEY, "other");
    let mut other_key = with_annotation(other_key, ANNOTATION_IPS, "172.18.255.200");
    other_key.ports = vec![("TCP".to_owned(), 8080)];
    assert_eq!(a.assign(&other_key).unwrap_err().reason(), "AddressInUse");

    // The address stays until its last holder goes.
    a.release("ns/web");
    assert_eq!(a.holders_of(shared[0]), ["ns/dns"]);
    a.release("ns/dns");
    assert!(a.holders_of(shared[0]).is_empty());
}

#[test]
fn an_exhausted_pool_is_an_error_until_an_address_is_released() {
    let pool = Pool {
        name: "tiny".to_owned(),
        ranges: vec![AddressRange::parse("10.9.0.1-10.9.0.2").unwrap()],
        service_selector: BTreeMap::new(),
        auto_assign: true,
    };
    let mut a = LbAllocator::new(vec![pool]);
    assigned(&mut a, &svc("ns/a"));
    assigned(&mut a, &svc("ns/b"));
    assert_eq!(
        a.assign(&svc("ns/c")),
        Err(LbAllocError::PoolExhausted {
            pool: "tiny".to_owned()
        })
    );
    a.release("ns/a");
    assert_eq!(assigned(&mut a, &svc("ns/c")), [ip("10.9.0.1")]);
}

#[test]
fn pools_select_services_and_honour_auto_assign() {
    let gold = Pool {
        name: "gold".to_owned(),
        ranges: vec![AddressRange::parse("10.1.0.0/30").unwrap()],
        service_selector: [("tier".to_owned(), "gold".to_owned())].into(),
        auto_assign: true,
    };
    let manual = Pool {
        name: "manual".to_owned(),
        ranges: vec![AddressRange::parse("10.2.0.0/30").unwrap()],
        service_selector: BTreeMap::new(),
        auto_assign: false,
    };
    let mut a = LbAllocator::new(vec![gold, manual]);
    assert_eq!(
        a.assign(&svc("ns/plain")),
        Err(LbAllocError::NoMatchingPool)
    );
    let mut g = svc("ns/g");
    g.labels.insert("tier".to_owned(), "gold".to_owned());
    assert_eq!(assigned(&mut a, &g), [ip("10.1.0.0")]);
    let named = with_annotation(svc("ns/m"), ANNOTATION_POOL, "manual");
    assert_eq!(assigned(&mut a, &named), [ip("10.2.0.0")]);
    let asked = with_annotation(svc("ns/asked"), ANNOTATION_IPS, "10.2.0.3");
    assert_eq!(assigned(&mut a, &asked), [ip("10.2.0.3")]);
    let unknown = with_annotation(svc("ns/u"), ANNOTATION_POOL, "nope");
    assert_eq!(a.assign(&unknown).unwrap_err().reason(), "UnknownPool");
}

#[test]
fn a_restart_keeps_the_addresses_services_already_show() {
    let mut before = lab();
    let a1 = assigned(&mut before, &svc("ns/a"));
    let b1 = assigned(&mut before, &svc("ns/b"));
    before.release("ns/a");
    let c1 = assigned(&mut before, &svc("ns/c"));
    assert_eq!(c1, a1, "the freed lowest address is reused");

    // A new allocator replays the Services in another order, with their status.
    let mut after = lab();
    let mut fresh = svc("ns/new");
    let mut b = svc("ns/b");
    b.status_ips = b1.clone();
    let mut c = svc("ns/c");
    c.status_ips = c1.clone();
    assert_eq!(assigned(&mut after, &b), b1);
    assert_eq!(assigned(&mut after, &c), c1);
    fresh.status_ips = vec![];
    assert_eq!(assigned(&mut after, &fresh), [ip("172.18.255.202")]);

    // A status address taken by someone else, or outside every pool, is not kept.
    let mut dup = svc("ns/dup");
    dup.status_ips = b1.clone();
    assert_ne!(assigned(&mut after, &dup), b1);
    let mut stray = svc("ns/stray");
    stray.status_ips = vec![ip("192.0.2.1")];
    assert_ne!(assigned(&mut after, &stray), [ip("192.0.2.1")]);
}
