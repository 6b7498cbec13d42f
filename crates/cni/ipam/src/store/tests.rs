use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Store::open(&tmp.path().join("net1"), CrashHook::default()).unwrap();
    (tmp, s)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn reservation_files_use_host_locals_format() {
    let (_tmp, s) = store();
    let me = Attachment::new("c1", "eth0");
    let r = s.reserve(ip("10.0.0.2"), &me).unwrap().unwrap();
    assert_eq!(fs::read(s.dir().join("10.0.0.2")).unwrap(), b"c1\r\neth0");
    assert!(
        s.reserve(ip("10.0.0.2"), &Attachment::new("c2", "eth0"))
            .unwrap()
            .is_none()
    );
    assert_eq!(s.scan().unwrap(), std::slice::from_ref(&r));
    s.release(&r).unwrap();
    s.release(&r).unwrap();
    assert!(s.scan().unwrap().is_empty());
}

#[test]
fn last_reserved_is_replaced_and_read_back() {
    let (_tmp, s) = store();
    assert_eq!(s.last_reserved(0), None);
    s.set_last_reserved(0, ip("10.0.0.5")).unwrap();
    s.set_last_reserved(0, ip("10.0.0.6")).unwrap();
    assert_eq!(
        fs::read_to_string(s.dir().join("last_reserved_ip.0")).unwrap(),
        "10.0.0.6"
    );
    assert_eq!(s.last_reserved(0), Some(ip("10.0.0.6")));
    let names: Vec<_> = fs::read_dir(s.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(TEMP_PREFIX)),
        "{names:?}"
    );
}

#[test]
fn scan_sweeps_temp_files_and_skips_other_files() {
    let (_tmp, s) = store();
    fs::write(s.dir().join(".podnet-tmp.99.10.0.0.9"), "c9\r\neth0").unwrap();
    fs::write(s.dir().join("last_reserved_ip.0"), "10.0.0.9").unwrap();
    fs::write(s.dir().join("fd00::3"), "garbage-only-id").unwrap();
    fs::write(s.dir().join("10.0.0.4"), "").unwrap();
    let mut found = s.scan().unwrap();
    found.sort_by_key(|r| r.ip);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].owner, None, "an empty file has no owner");
    assert_eq!(found[1].owner, Some(Attachment::new("garbage-only-id", "")));
    assert!(!s.dir().join(".podnet-tmp.99.10.0.0.9").exists());
}

#[test]
fn legacy_records_belong_to_every_interface_of_their_container() {
    let legacy = Attachment::new("c1", "");
    assert!(legacy.covers(&Attachment::new("c1", "eth0")));
    assert!(!legacy.covers(&Attachment::new("c2", "eth0")));
    assert!(!Attachment::new("c1", "eth1").covers(&Attachment::new("c1", "eth0")));
    assert_eq!(
        Attachment::parse("  c1\r\neth0\n"),
        Some(Attachment::new("c1", "eth0"))
    );
}

#[test]
fn existing_only_does_not_create_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("absent");
    assert!(
        Store::open_existing(&dir, CrashHook::default())
            .unwrap()
            .is_none()
    );
    assert!(!dir.exists());
}
