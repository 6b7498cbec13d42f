//! The store's behaviour through its public API, on a real state directory.

use std::io::Write;

use podnet_apiserver_store::{
    DeleteOptions, Deleted, EventType, Filter, LabelSelector, Options, Resource, Store, StoreError,
    WatchStart, meta,
};
use serde_json::{Value, json};

fn pods() -> Resource {
    Resource::new("", "pods")
}

fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default()).unwrap()
}

fn rv(obj: &Value) -> u64 {
    meta::resource_version(obj).unwrap()
}

#[test]
fn create_fills_in_uid_timestamp_generation_and_a_generated_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let obj = json!({"metadata": {"generateName": "web-"}});
    let created = store.create(&pods(), "ns1", obj).unwrap();
    let name = meta::name(&created);
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    assert_eq!(created["metadata"]["namespace"], "ns1");
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(rv(&created), 1);

    let again = store.create(&pods(), "ns1", pod(name, json!({})));
    assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
    let nameless = store.create(&pods(), "ns1", json!({"metadata": {}}));
    assert!(matches!(nameless, Err(StoreError::NameRequired)));
}

#[test]
fn a_stale_resource_version_conflicts_and_a_current_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let created = store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
    let key = pods().key("ns1", "a");

    let mut first = (*created).clone();
    first["spec"]["nodeName"] = json!("node-1");
    let updated = store.update(&key, first).unwrap();
    assert_eq!(rv(&updated), 2);
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);

    let mut second = (*created).clone();
    second["spec"]["nodeName"] = json!("node-2");
    let err = store.update(&key, second).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.get(&key).unwrap()["spec"]["nodeName"], "node-1");

    // A status-only change keeps the generation; a no-op keeps the resourceVersion.
    let mut status = (*updated).clone();
    status["status"] = json!({"phase": "Running"});
    let with_status = store.update(&key, status).unwrap();
    assert_eq!(with_status["metadata"]["generation"], 2);
    let same = store.update(&key, (*with_status).clone()).unwrap();
    assert_eq!(rv(&same), rv(&with_status));
}

#[test]
fn list_filters_by_namespace_labels_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .create(&pods(), "ns1", pod("a", json!({"app": "web"})))
        .unwrap();
    store
        .create(&pods(), "ns1", pod("b", json!({"app": "db"})))
        .unwrap();
    store
        .create(&pods(), "ns2", pod("c", json!({"app": "web"})))
        .unwrap();
    store
        .create(
            &Resource::new("", "services"),
            "ns1",
            json!({"metadata": {"name": "s"}}),
        )
        .unwrap();
    let names = |ns: Option<&str>, labels: &str, fields: &str| -> Vec<String> {
        let filter = Filter {
            labels: LabelSelector::parse(labels).unwrap(),
            fields: podnet_apiserver_store::FieldSelector::parse(fields).unwrap(),
        };
        let list = store.list(&pods(), ns, &filter);
        assert_eq!(list.resource_version, 4);
        list.items
            .iter()
            .map(|o| meta::name(o).to_string())
            .collect()
    };
    assert_eq!(names(None, "", ""), ["a", "b", "c"]);
    assert_eq!(names(Some("ns1"), "", ""), ["a", "b"]);
    assert_eq!(names(None, "app=web", ""), ["a", "c"]);
    assert_eq!(names(None, "app notin (web)", ""), ["b"]);
    assert_eq!(names(None, "", "metadata.namespace=ns2"), ["c"]);
    assert_eq!(names(None, "app=web", "metadata.name!=a"), ["c"]);
}

#[test]
fn finalizers_keep_a_deleted_object_until_the_last_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut obj = json!({"metadata": {"name": "cm", "finalizers": ["example.com/hold"]}});
    let cms = Resource::new("", "configmaps");
    store.create(&cms, "ns1", obj.clone()).unwrap();
    let key = cms.key("ns1", "cm");
    let deleted = store.delete(&key, &DeleteOptions::default()).unwrap();
    let Deleted::Terminating(marked) = deleted else {
        panic!("a finalizer must hold the object");
    };
    assert!(meta::is_terminating(&marked));
    assert!(store.get(&key).is_ok());

    obj = (*marked).clone();
    obj["metadata"]["finalizers"] = json!([]);
    store.update(&key, obj).unwrap();
    assert!(matches!(store.get(&key), Err(StoreError::NotFound { .. })));
}

#[test]
fn the_held_hook_keeps_a_deleted_object_and_mark_changes_it_in_the_same_write() {
    let dir = tempfile::tempdir().unwrap();
    // Held while `spec.finalizers` is not empty, as the server holds namespaces.
    let options = Options {
        held: |_, obj| {
            obj["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        },
        ..Default::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let namespaces = Resource::new("", "namespaces");
    let obj = json!({"metadata": {"name": "x"}, "spec": {"finalizers": ["kubernetes"]}});
    store.create(&namespaces, "", obj).unwrap();
    let key = namespaces.key("", "x");
    let marking = DeleteOptions {
        mark: Some(|obj| obj["status"] = json!({"phase": "Terminating"})),
        ..Default::default()
    };
    let Deleted::Terminating(marked) = store.delete(&key, &marking).unwrap() else {
        panic!("the hook must hold the object");
    };
    assert!(meta::is_terminating(&marked));
    assert_eq!(marked["status"]["phase"], "Terminating");
    assert_eq!(rv(&marked), 2, "marked in one write");

    // Any other change keeps it; emptying what the hook looks at removes it.
    let mut next = (*marked).clone();
    next["metadata"]["labels"] = json!({"a": "b"});
    store.update(&key, next.clone()).unwrap();
    assert!(store.get(&key).is_ok());
    next["spec"]["finalizers"] = json!([]);
    next["metadata"]["resourceVersion"] = json!(null);
    store.update(&key, next).unwrap();
    assert!(matches!(store.get(&key), Err(StoreError::NotFound { .. })));
}

#[test]
fn a_graceful_delete_keeps_the_pod_until_a_zero_grace_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
    let key = pods().key("ns1", "a");
    let graceful = DeleteOptions {
        grace_period_seconds: Some(30),
        ..Default::default()
    };
    let Deleted::Terminating(marked) = store.delete(&key, &graceful).unwrap() else {
        panic!("a 30 s grace period must keep the pod");
    };
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    // Deleting again with the same grace changes nothing; the node's grace-0 delete removes.
    let Deleted::Terminating(same) = store.delete(&key, &graceful).unwrap() else {
        panic!("still terminating");
    };
    assert_eq!(rv(&same), rv(&marked));
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        store.delete(&key, &now).unwrap(),
        Deleted::Removed(_)
    ));
}

#[test]
fn delete_preconditions_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
    let key = pods().key("ns1", "a");
    let wrong = DeleteOptions {
        uid: Some("not-it".into()),
        ..Default::default()
    };
    assert!(matches!(
        store.delete(&key, &wrong),
        Err(StoreError::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_watch_from_an_old_version_replays_every_change_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store
        .create(&pods(), "ns1", pod("a", json!({"app": "web"})))
        .unwrap();
    let start = rv(&a);
    let mut changed = (*a).clone();
    changed["metadata"]["labels"]["app"] = json!("db");
    store.update(&pods().key("ns1", "a"), changed).unwrap();
    store
        .create(&pods(), "ns1", pod("b", json!({"app": "web"})))
        .unwrap();
    store
        .delete(&pods().key("ns1", "b"), &DeleteOptions::default())
        .unwrap();

    let mut all = store
        .watch(&pods(), None, Filter::default(), WatchStart::After(start))
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = all.next().await.unwrap();
        seen.push((e.kind, meta::name(&e.object).to_string(), e.rv));
    }
    assert_eq!(
        seen,
        [
            (EventType::Modified, "a".into(), 2),
            (EventType::Added, "b".into(), 3),
            (EventType::Deleted, "b".into(), 4)
        ]
    );

    // A selector watch sees `a` leave its selection as a DELETED event.
    let web = Filter {
        labels: LabelSelector::parse("app=web").unwrap(),
        ..Default::default()
    };
    let mut filtered = store
        .watch(&pods(), None, web, WatchStart::After(start))
        .unwrap();
    let kinds: Vec<_> = [(); 3]
        .iter()
        .map(|_| {
            filtered
                .try_next()
                .unwrap()
                .map(|e| (e.kind, meta::name(&e.object).to_string()))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            Some((EventType::Deleted, "a".into())),
            Some((EventType::Added, "b".into())),
            Some((EventType::Deleted, "b".into()))
        ]
    );
}

#[tokio::test]
async fn a_live_watch_wakes_on_a_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
    let mut w = store
        .watch(&pods(), Some("ns1"), Filter::default(), WatchStart::Current)
        .unwrap();
    let initial = w.next().await.unwrap();
    assert_eq!(
        (initial.kind, meta::name(&initial.object)),
        (EventType::Added, "a")
    );
    let writer = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        writer
            .create(&pods(), "ns2", pod("other-ns", json!({})))
            .unwrap();
        writer.create(&pods(), "ns1", pod("b", json!({}))).unwrap();
    });
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), w.next())
        .await
        .unwrap();
    assert_eq!(meta::name(&next.unwrap().object), "b");
    assert_eq!(w.resource_version(), 3);
}

#[test]
fn a_watch_older_than_the_history_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        history: 2,
        ..Default::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    for name in ["a", "b", "c", "d"] {
        store.create(&pods(), "ns1", pod(name, json!({}))).unwrap();
    }
    let res = store.watch(&pods(), None, Filter::default(), WatchStart::After(1));
    assert!(matches!(
        res,
        Err(StoreError::Expired {
            requested: 1,
            oldest: 2
        })
    ));
    assert!(
        store
            .watch(&pods(), None, Filter::default(), WatchStart::After(2))
            .is_ok()
    );
}

#[test]
fn a_reopened_store_has_every_object_and_keeps_counting() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
        store.create(&pods(), "ns1", pod("b", json!({}))).unwrap();
        store
            .delete(&pods().key("ns1", "a"), &DeleteOptions::default())
            .unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.resource_version(), 3);
    assert!(store.get(&pods().key("ns1", "a")).is_err());
    assert_eq!(
        meta::name(&store.get(&pods().key("ns1", "b")).unwrap()),
        "b"
    );
    let c = store.create(&pods(), "ns1", pod("c", json!({}))).unwrap();
    assert_eq!(rv(&c), 4);
    // The log's events seed the history, so a watch from before the restart still replays.
    let mut w = store
        .watch(&pods(), None, Filter::default(), WatchStart::After(1))
        .unwrap();
    assert_eq!(w.try_next().unwrap().unwrap().rv, 2);
}

#[test]
fn a_torn_write_at_the_end_of_the_log_is_dropped_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.create(&pods(), "ns1", pod("a", json!({}))).unwrap();
        store.create(&pods(), "ns1", pod("b", json!({}))).unwrap();
    }
    // A crash in the middle of appending a third record: a header promising more bytes than
    // were written, followed by half a payload.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("wal.log"))
        .unwrap();
    log.write_all(&500u32.to_le_bytes()).unwrap();
    log.write_all(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
    log.write_all(br#"{"rv":3,"type":"ADDED","resou"#).unwrap();
    drop(log);

    let store = open(dir.path());
    assert_eq!(store.resource_version(), 2);
    assert!(store.get(&pods().key("ns1", "b")).is_ok());
    store.create(&pods(), "ns1", pod("c", json!({}))).unwrap();
    drop(store);
    // The cut tail does not hide the record written after it.
    let store = open(dir.path());
    assert_eq!(store.resource_version(), 3);
    assert!(store.get(&pods().key("ns1", "c")).is_ok());
}

#[test]
fn compaction_folds_the_log_into_a_snapshot_that_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        compact_after: 3,
        ..Default::default()
    };
    {
        let store = Store::open(dir.path(), options.clone()).unwrap();
        for i in 0..7 {
            store
                .create(&pods(), "ns1", pod(&format!("p{i}"), json!({})))
                .unwrap();
        }
        store
            .delete(&pods().key("ns1", "p0"), &DeleteOptions::default())
            .unwrap();
    }
    assert!(dir.path().join("snapshot.json").exists());
    let store = Store::open(dir.path(), options).unwrap();
    assert_eq!(store.resource_version(), 8);
    let list = store.list(&pods(), None, &Filter::default());
    assert_eq!(list.items.len(), 6);
    assert!(!dir.path().join("snapshot.json.tmp").exists());
}

#[tokio::test]
async fn concurrent_writers_are_all_durable_and_watched_in_order() {
    // Writers share fsyncs (group commit); each is acknowledged only once on disk, and a
    // watcher sees every change exactly once, in resourceVersion order.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut w = store
        .watch(&pods(), None, Filter::default(), WatchStart::After(0))
        .unwrap();
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    store
                        .create(&pods(), "ns1", pod(&format!("p-{t}-{i}"), json!({})))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 320 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), w.next())
            .await
            .expect("every acknowledged write is announced")
            .unwrap();
        seen.push(event.rv);
    }
    assert_eq!(seen, (1..=320).collect::<Vec<u64>>());

    drop(w);
    drop(store);
    let reopened = open(dir.path());
    let all = reopened.list(&pods(), None, &Filter::default());
    assert_eq!(all.items.len(), 320);
    assert_eq!(all.resource_version, 320);
}

#[tokio::test]
async fn an_expiring_object_goes_with_a_deleted_event_once_its_time_after_the_last_write_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let events = Resource::new("", "events");
    let ttl = std::time::Duration::from_secs(3600);
    let options = Options {
        expire_after: vec![(events.clone(), ttl)],
        ..Default::default()
    };
    let store = Store::open(dir.path(), options).unwrap();
    let start = std::time::Instant::now();
    store
        .create(&events, "ns1", json!({"metadata": {"name": "e"}}))
        .unwrap();
    store.create(&pods(), "ns1", pod("p", json!({}))).unwrap();
    let written = store.next_expiry().expect("the event expires");
    assert!(written >= start + ttl);
    let mut watch = store
        .watch(&events, None, Filter::default(), WatchStart::Current)
        .unwrap();
    assert_eq!(watch.next().await.unwrap().kind, EventType::Added);

    // A write renews the deadline: it is not due at the first one any more.
    let key = events.key("ns1", "e");
    let mut renewed = (*store.get(&key).unwrap()).clone();
    renewed["message"] = json!("again");
    store.update(&key, renewed).unwrap();
    assert_eq!(store.expire(written).unwrap(), 0);
    let renewed_at = store.next_expiry().unwrap();
    assert!(renewed_at > written);
    let modified = watch.next().await.unwrap();
    assert_eq!(modified.kind, EventType::Modified);

    assert_eq!(store.expire(renewed_at).unwrap(), 1);
    assert!(matches!(store.get(&key), Err(StoreError::NotFound { .. })));
    assert!(
        store.get(&pods().key("ns1", "p")).is_ok(),
        "pods never expire"
    );
    let deleted = watch.next().await.unwrap();
    assert_eq!(deleted.kind, EventType::Deleted);
    assert_eq!(meta::name(&deleted.object), "e");
    assert!(rv(&deleted.object) > rv(&modified.object));
    assert_eq!(store.next_expiry(), None);
}
