use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

fn service(name: &str, f: impl FnOnce(&mut Service)) -> Service {
    let mut s = Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns1".into()),
            uid: Some(format!("{name}-uid")),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some([("app".to_string(), "web".to_string())].into()),
            cluster_ip: Some("10.96.1.1".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    f(&mut s);
    s
}

fn spec(s: &mut Service) -> &mut ServiceSpec {
    s.spec.as_mut().unwrap()
}

fn pod(name: &str, ip: &str, f: impl FnOnce(&mut Pod)) -> Pod {
    let mut p = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns1".into()),
            uid: Some(format!("{name}-uid")),
            labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("kind-worker".into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(ip.into()),
            pod_ips: Some(vec![PodIP { ip: ip.into() }]),
            conditions: Some(vec![ready_condition(true)]),
            ..Default::default()
        }),
    };
    f(&mut p);
    p
}

fn ready_condition(ready: bool) -> PodCondition {
    PodCondition {
        type_: "Ready".into(),
        status: if ready { "True" } else { "False" }.into(),
        ..Default::default()
    }
}

fn unready(p: &mut Pod) {
    p.status.as_mut().unwrap().conditions = Some(vec![ready_condition(false)]);
}

fn terminating(p: &mut Pod) {
    p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
}

/// Gives created slices names, as the server would, so that a plan can be applied.
fn apply(existing: &[EndpointSlice], plan: Plan) -> Vec<EndpointSlice> {
    let gone: Vec<_> = plan
        .delete
        .iter()
        .chain(&plan.update)
        .map(|s| s.name_any())
        .collect();
    let mut out: Vec<EndpointSlice> = existing
        .iter()
        .filter(|s| !gone.contains(&s.name_any()))
        .cloned()
        .collect();
    out.extend(plan.update);
    for (i, mut s) in plan.create.into_iter().enumerate() {
        s.metadata.name = Some(format!(
            "{}{}",
            s.metadata.generate_name.clone().unwrap(),
            out.len() + i
        ));
        out.push(s);
    }
    out
}

fn conditions(e: &Endpoint) -> (bool, bool, bool) {
    let c = e.conditions.as_ref().unwrap();
    (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
}

fn all_endpoints(slices: &[EndpointSlice]) -> Vec<&Endpoint> {
    slices
        .iter()
        .flat_map(|s| s.endpoints.iter().flatten())
        .collect()
}

#[test]
fn selected_pods_with_an_ip_become_one_labelled_owned_slice() {
    let svc = service("web", |_| {});
    let pods = vec![
        pod("a", "10.244.1.2", |_| {}),
        pod("other-app", "10.244.1.3", |p| {
            p.metadata.labels = Some([("app".to_string(), "db".to_string())].into())
        }),
        pod("other-ns", "10.244.1.4", |p| {
            p.metadata.namespace = Some("ns2".into())
        }),
        pod("no-ip", "", |_| {}),
        pod("done", "10.244.1.5", |p| {
            p.spec.as_mut().unwrap().restart_policy = Some("Never".into());
            p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        }),
    ];
    let p = plan(&svc, &pods, &[]);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (1, 0, 0));
    let s = &p.create[0];
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    let labels = s.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[LABEL_SERVICE_NAME], "web");
    assert_eq!(labels[LABEL_MANAGED_BY], "endpointslice-controller.k8s.io");
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", "web-uid", Some(true))
    );
    let eps = s.endpoints.as_ref().unwrap();
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].addresses, ["10.244.1.2"]);
    assert_eq!(eps[0].node_name.as_deref(), Some("kind-worker"));
    let r = eps[0].target_ref.as_ref().unwrap();
    assert_eq!(
        (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
        (Some("Pod"), Some("a"), Some("a-uid"))
    );
    let port = &s.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );
}

#[test]
fn conditions_follow_readiness_and_termination() {
    let svc = service("web", |_| {});
    let pods = vec![
        pod("ready", "10.0.0.1", |_| {}),
        pod("unready", "10.0.0.2", unready),
        pod("ready-terminating", "10.0.0.3", terminating),
        pod("unready-terminating", "10.0.0.4", |p| {
            unready(p);
            terminating(p)
        }),
    ];
    let eps = plan(&svc, &pods, &[]).create.remove(0).endpoints.unwrap();
    let got: Vec<_> = eps.iter().map(conditions).collect();
    // In pod name order: ready, ready-terminating, unready, unready-terminating.
    assert_eq!(
        got,
        [
            (true, true, false),
            (false, true, true),
            (false, false, false),
            (false, false, true)
        ]
    );
}

#[test]
fn publish_not_ready_addresses_makes_every_endpoint_ready() {
    let svc = service("web", |s| spec(s).publish_not_ready_addresses = Some(true));
    let pods = vec![
        pod("unready", "10.0.0.2", unready),
        pod("terminating", "10.0.0.3", terminating),
    ];
    let eps = plan(&svc, &pods, &[]).create.remove(0).endpoints.unwrap();
    let got: Vec<_> = eps.iter().map(conditions).collect();
    assert_eq!(got, [(true, true, true), (true, true, false)]);
}

#[test]
fn hostname_is_published_only_for_the_service_named_by_the_subdomain() {
    let with_sub = |sub: &str| {
        let sub = sub.to_string();
        move |p: &mut Pod| {
            let s = p.spec.as_mut().unwrap();
            s.hostname = Some("db-0".into());
            s.subdomain = Some(sub);
        }
    };
    let svc = service("db", |_| {});
    let eps = plan(&svc, &[pod("p", "10.0.0.1", with_sub("db"))], &[])
        .create
        .remove(0)
        .endpoints
        .unwrap();
    assert_eq!(eps[0].hostname.as_deref(), Some("db-0"));
    let eps = plan(&svc, &[pod("p", "10.0.0.1", with_sub("other"))], &[])
        .create
        .remove(0)
        .endpoints
        .unwrap();
    assert_eq!(eps[0].hostname, None);
}

#[test]
fn named_target_ports_are_resolved_per_pod_into_separate_slices() {
    let svc = service("web", |s| {
        spec(s).ports.as_mut().unwrap()[0].target_port = Some(IntOrString::String("http".into()))
    });
    let on_port = |n: i32| {
        move |p: &mut Pod| {
            p.spec.as_mut().unwrap().containers[0]
                .ports
                .as_mut()
                .unwrap()[0]
                .container_port = n
        }
    };
    let pods = vec![
        pod("a", "10.0.0.1", on_port(8080)),
        pod("b", "10.0.0.2", on_port(9090)),
        pod("c", "10.0.0.3", on_port(8080)),
        pod("unnamed", "10.0.0.4", |p| {
            p.spec.as_mut().unwrap().containers[0].ports = None
        }),
    ];
    let mut slices = plan(&svc, &pods, &[]).create;
    slices.sort_by_key(|s| s.endpoints.as_ref().unwrap().len());
    let summary: Vec<(Vec<i32>, usize)> = slices
        .iter()
        .map(|s| {
            let ports = s.ports.iter().flatten().filter_map(|p| p.port).collect();
            (ports, s.endpoints.as_ref().unwrap().len())
        })
        .collect();
    // The pod without the named port is published without that port, as upstream.
    assert_eq!(summary, [(vec![], 1), (vec![9090], 1), (vec![8080], 2)]);
}

#[test]
fn more_than_a_hundred_endpoints_are_split_into_slices_of_a_hundred() {
    let svc = service("web", |_| {});
    let pods: Vec<Pod> = (0..250)
        .map(|i| {
            pod(
                &format!("p{i:03}"),
                &format!("10.0.{}.{}", i / 200, i % 200 + 1),
                |_| {},
            )
        })
        .collect();
    let slices = plan(&svc, &pods, &[]).create;
    let sizes: Vec<usize> = slices
        .iter()
        .map(|s| s.endpoints.as_ref().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[test]
fn a_change_touches_only_the_slice_it_concerns_and_a_second_plan_is_empty() {
    let svc = service("web", |_| {});
    let mut pods: Vec<Pod> = (0..150)
        .map(|i| pod(&format!("p{i:03}"), &format!("10.0.0.{}", i + 1), |_| {}))
        .collect();
    let slices = apply(&[], plan(&svc, &pods, &[]));
    assert!(plan(&svc, &pods, &slices).is_empty(), "nothing to do twice");
    // One pod in the second slice goes, another comes: the new one fills the hole.
    pods.retain(|p| p.name_any() != "p120");
    pods.push(pod("zz-new", "10.0.1.1", |_| {}));
    let p = plan(&svc, &pods, &slices);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
    let updated = &p.update[0];
    assert_eq!(updated.endpoints.as_ref().unwrap().len(), 50);
    assert!(
        updated
            .endpoints
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.addresses[0] == "10.0.1.1")
    );
    // A pod turning unready rewrites just its slice's condition.
    let slices = apply(&slices, p);
    unready(pods.iter_mut().find(|p| p.name_any() == "p005").unwrap());
    let p = plan(&svc, &pods, &slices);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
    assert_eq!(
        all_endpoints(&p.update)
            .iter()
            .filter(|e| !conditions(e).0)
            .count(),
        1
    );
}

#[test]
fn a_service_without_endpoints_has_one_placeholder_slice() {
    let svc = service("web", |_| {});
    let p = plan(&svc, &[], &[]);
    assert_eq!(p.create.len(), 1);
    assert_eq!(p.create[0].endpoints.as_deref(), Some(&[][..]));
    assert_eq!(p.create[0].ports, None);
    let slices = apply(&[], p);
    assert!(plan(&svc, &[], &slices).is_empty(), "the placeholder stays");
    // Pods arrive: a real slice replaces the placeholder.
    let p = plan(&svc, &[pod("a", "10.0.0.1", |_| {})], &slices);
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
    // And when they all go, the last slice makes way for a placeholder again.
    let slices = apply(&slices, p);
    let p = plan(&svc, &[], &slices);
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
}

#[test]
fn headless_ipv6_and_service_labels_reach_the_slices() {
    let svc = service("db", |s| {
        s.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
        let sp = spec(s);
        sp.cluster_ip = Some("None".into());
        sp.ip_families = Some(vec!["IPv6".into()]);
    });
    let pods = vec![pod("a", "10.0.0.1", |p| {
        p.status.as_mut().unwrap().pod_ips = Some(vec![
            PodIP {
                ip: "10.0.0.1".into(),
            },
            PodIP {
                ip: "fd00::1".into(),
            },
        ])
    })];
    let s = plan(&svc, &pods, &[]).create.remove(0);
    assert_eq!(s.address_type, "IPv6");
    assert_eq!(s.endpoints.as_ref().unwrap()[0].addresses, ["fd00::1"]);
    let labels = s.metadata.labels.unwrap();
    assert_eq!(labels[LABEL_HEADLESS], "");
    assert_eq!(labels["team"], "a");
}

#[test]
fn a_family_the_service_no_longer_has_loses_its_slices() {
    let v4 = service("web", |_| {});
    let slices = apply(&[], plan(&v4, &[pod("a", "10.0.0.1", |_| {})], &[]));
    let v6 = service("web", |s| spec(s).ip_families = Some(vec!["IPv6".into()]));
    let p = plan(&v6, &[pod("a", "10.0.0.1", |_| {})], &slices);
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.create.len(), 1, "a v6 placeholder");
}
