use super::*;

const TIMING: Timing = Timing {
    lease_duration: Duration::from_secs(1),
    renew_deadline: Duration::from_millis(700),
    retry_period: Duration::from_millis(200),
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn record(rv: &str, holder: Option<&str>, transitions: i32) -> Record {
    Record {
        resource_version: rv.to_owned(),
        holder: holder.map(str::to_owned),
        lease_duration: TIMING.lease_duration,
        transitions,
    }
}

#[test]
fn nothing_happens_before_the_record_is_seen() {
    let t0 = Instant::now();
    let e = Election::new("a", TIMING);
    assert_eq!(e.step(t0), Step::Observe);
    assert!(!e.is_holding(t0));
}

#[test]
fn a_missing_lease_is_created_and_held_until_the_renew_deadline_after_sending() {
    let t0 = Instant::now();
    let mut e = Election::new("a", TIMING);
    e.observe(None, t0);
    assert_eq!(e.step(t0), Step::Write(Write::Create));
    assert_eq!(e.transitions_after(Write::Create), 0);
    e.written(t0, record("1", Some("a"), 0), t0 + ms(50));
    assert!(e.is_holding(t0 + ms(50)));
    assert!(e.is_holding(t0 + ms(699)));
    assert!(
        !e.is_holding(t0 + ms(700)),
        "fenced at sent + renew deadline"
    );
    assert_eq!(e.step(t0 + ms(100)), Step::Wait(t0 + ms(200)));
    assert_eq!(e.step(t0 + ms(200)), Step::Write(Write::Renew));
}

#[test]
fn the_holder_stops_at_its_deadline_when_renewals_fail_whatever_the_server_says() {
    let t0 = Instant::now();
    let mut e = Election::new("a", TIMING);
    e.observe(None, t0);
    e.written(t0, record("1", Some("a"), 0), t0);
    // Cut off: every renewal fails; the watch keeps showing our own record.
    for n in 1..10 {
        let at = t0 + ms(200 * n);
        e.failed(at);
        e.observe(Some(record("1", Some("a"), 0)), at);
    }
    assert!(!e.is_holding(t0 + ms(700)));
    assert_eq!(e.holding_until(), Some(t0 + ms(700)));
}

#[test]
fn a_rival_waits_the_lease_duration_from_when_it_saw_the_last_change() {
    let t0 = Instant::now();
    let mut b = Election::new("b", TIMING);
    b.observe(Some(record("5", Some("a"), 2)), t0);
    assert_eq!(b.step(t0 + ms(10)), Step::Wait(t0 + ms(1000)));
    // A renewal seen later restarts the wait.
    b.observe(Some(record("6", Some("a"), 2)), t0 + ms(300));
    assert_eq!(b.step(t0 + ms(1000)), Step::Wait(t0 + ms(1300)));
    // The same version seen again does not.
    b.observe(Some(record("6", Some("a"), 2)), t0 + ms(900));
    assert_eq!(b.step(t0 + ms(1300)), Step::Write(Write::Acquire));
    assert_eq!(b.transitions_after(Write::Acquire), 3);
    assert!(!b.is_holding(t0 + ms(1300)));
}

#[test]
fn a_released_lease_is_taken_at_once() {
    let t0 = Instant::now();
    let mut b = Election::new("b", TIMING);
    b.observe(Some(record("7", None, 1)), t0);
    assert_eq!(b.step(t0), Step::Write(Write::Acquire));
    b.observe(Some(record("8", Some(""), 1)), t0);
    assert_eq!(b.step(t0), Step::Write(Write::Acquire));
}

#[test]
fn a_failed_write_waits_a_retry_period() {
    let t0 = Instant::now();
    let mut b = Election::new("b", TIMING);
    b.observe(Some(record("7", None, 1)), t0);
    b.failed(t0);
    assert_eq!(b.step(t0 + ms(100)), Step::Wait(t0 + ms(200)));
    assert_eq!(b.step(t0 + ms(200)), Step::Write(Write::Acquire));
}

#[test]
fn losing_the_record_to_a_rival_stops_holding_at_once() {
    let t0 = Instant::now();
    let mut a = Election::new("a", TIMING);
    a.observe(None, t0);
    a.written(t0, record("1", Some("a"), 0), t0);
    a.observe(Some(record("2", Some("b"), 1)), t0 + ms(100));
    assert!(!a.is_holding(t0 + ms(100)));
    assert_eq!(a.step(t0 + ms(100)), Step::Wait(t0 + ms(1100)));
}

#[test]
fn a_restarted_holder_named_in_the_record_renews_before_acting() {
    let t0 = Instant::now();
    let mut a = Election::new("a", TIMING);
    a.observe(Some(record("9", Some("a"), 4)), t0);
    assert!(!a.is_holding(t0));
    assert_eq!(a.step(t0), Step::Write(Write::Renew));
    assert_eq!(a.transitions_after(Write::Renew), 4);
}

#[test]
fn resigning_stops_holding() {
    let t0 = Instant::now();
    let mut a = Election::new("a", TIMING);
    a.observe(None, t0);
    a.written(t0, record("1", Some("a"), 0), t0);
    a.resign();
    assert!(!a.is_holding(t0));
}

/// Two candidates on one simulated API server, with a partition that cuts the holder off
/// the server (not from the world): at no instant do both hold, and the rival takes over.
#[test]
fn two_candidates_never_hold_at_once_across_a_partition() {
    struct Server {
        record: Option<Record>,
        rv: u64,
    }
    impl Server {
        fn cas(&mut self, seen: Option<&Record>, holder: &str, transitions: i32) -> Option<Record> {
            if self.record.as_ref() != seen {
                return None;
            }
            self.rv += 1;
            let r = record(&self.rv.to_string(), Some(holder), transitions);
            self.record = Some(r.clone());
            Some(r)
        }
    }
    let t0 = Instant::now();
    let mut server = Server {
        record: None,
        rv: 0,
    };
    let mut nodes = [Election::new("a", TIMING), Election::new("b", TIMING)];
    let mut seen: [Option<Record>; 2] = [None, None];
    let tick = ms(10);
    // a is cut off from the server between 2 s and 4 s.
    let cut = |i: usize, at: Duration| i == 0 && at >= ms(2000) && at < ms(4000);
    let mut holders_over_time = Vec::new();
    for n in 0..800u32 {
        let at = tick * n;
        let now = t0 + at;
        for i in 0..2 {
            // b starts a little later, so a wins first.
            if i == 1 && at < ms(100) {
                continue;
            }
            if !cut(i, at) {
                seen[i] = server.record.clone();
                nodes[i].observe(seen[i].clone(), now);
            }
            if let Step::Write(w) = nodes[i].step(now) {
                let id = nodes[i].identity().to_owned();
                let transitions = nodes[i].transitions_after(w);
                match (!cut(i, at))
                    .then(|| server.cas(seen[i].as_ref(), &id, transitions))
                    .flatten()
                {
                    Some(r) => nodes[i].written(now, r, now),
                    None => nodes[i].failed(now),
                }
            }
        }
        let holding: Vec<_> = (0..2).filter(|i| nodes[*i].is_holding(now)).collect();
        assert!(holding.len() <= 1, "both hold at {at:?}");
        holders_over_time.push(holding.first().copied());
    }
    assert_eq!(holders_over_time[150], Some(0), "a wins first");
    assert!(
        holders_over_time[200..400].contains(&Some(1)),
        "b takes over while a is cut off"
    );
    assert_eq!(holders_over_time[799], Some(1), "a does not take it back");
}
