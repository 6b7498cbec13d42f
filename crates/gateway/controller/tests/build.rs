//! The objects → configuration step, from YAML as a user writes it: which Ingresses are
//! served (class, default class, others' classes), backends by port number and name
//! resolved to ready endpoints through EndpointSlices.

use http::{HeaderMap, Method};
use podnet_gateway_controller::{CONTROLLER_NAME, Objects, build};
use podnet_gateway_router::{Backend, BackendRef, Request, ServicePort};

fn objects(yaml: &str) -> Objects {
    let mut o = Objects::default();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        let key = (
            v["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            v["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        match v["kind"].as_str().unwrap() {
            "Ingress" => drop(o.ingresses.insert(key, serde_json::from_value(v).unwrap())),
            "IngressClass" => drop(
                o.ingress_classes
                    .insert(key, serde_json::from_value(v).unwrap()),
            ),
            "Service" => drop(o.services.insert(key, serde_json::from_value(v).unwrap())),
            "EndpointSlice" => drop(
                o.endpoint_slices
                    .insert(key, serde_json::from_value(v).unwrap()),
            ),
            other => panic!("{other}"),
        }
    }
    o
}

const CLUSTER: &str = r#"
kind: IngressClass
apiVersion: networking.k8s.io/v1
metadata:
  name: podnet
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: podnet.io/gateway}
---
kind: IngressClass
apiVersion: networking.k8s.io/v1
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
kind: Service
apiVersion: v1
metadata: {name: web, namespace: default}
spec:
  ports:
  - {name: http, port: 8080, targetPort: 8080}
  - {name: metrics, port: 9090, targetPort: 9000}
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata:
  name: web-abc
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http, port: 8080}
- {name: metrics, port: 9000}
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
- addresses: [10.244.2.7]
- addresses: [10.244.2.9]
  conditions: {ready: false}
---
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata: {name: example-ingress, namespace: default}
spec:
  ingressClassName: podnet
  rules:
  - host: hello-world.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
      - {path: /metrics, pathType: ImplementationSpecific, backend: {service: {name: web, port: {name: metrics}}}}
---
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata: {name: classless, namespace: default}
spec:
  rules:
  - host: default-class.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
---
kind: Ingress
apiVersion: networking.k8s.io/v1
metadata: {name: theirs, namespace: default}
spec:
  ingressClassName: nginx
  rules:
  - host: nginx.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
"#;

fn routed(
    built: &podnet_gateway_controller::build::Built,
    host: &str,
    path: &str,
) -> Option<Backend> {
    let headers = HeaderMap::new();
    let req = Request {
        method: &Method::GET,
        host,
        path,
        query: None,
        headers: &headers,
    };
    let r = built.config.table.route(80, &req)?;
    match &r.action.backends[0].backend {
        BackendRef::Service(b) => Some(b.clone()),
        BackendRef::Invalid => None,
    }
}

#[test]
fn classes_decide_which_ingresses_are_served() {
    let built = build(&objects(CLUSTER), CONTROLLER_NAME, &[]);
    let names: Vec<_> = built.ingresses.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["classless", "example-ingress"]);
    assert!(routed(&built, "hello-world.example", "/").is_some());
    assert!(routed(&built, "default-class.example", "/").is_some());
    assert!(routed(&built, "nginx.example", "/").is_none());

    // Without a default class of ours, a class-less Ingress is nobody's.
    let mut o = objects(CLUSTER);
    o.ingress_classes
        .get_mut(&(String::new(), "podnet".into()))
        .unwrap()
        .metadata
        .annotations = None;
    let built = build(&o, CONTROLLER_NAME, &[]);
    assert!(routed(&built, "default-class.example", "/").is_none());
}

#[test]
fn backends_by_number_and_name_resolve_to_ready_endpoints() {
    let built = build(&objects(CLUSTER), CONTROLLER_NAME, &[]);
    let by_number = routed(&built, "hello-world.example", "/x").unwrap();
    assert_eq!(by_number.port, ServicePort::Number(8080));
    let eps: Vec<String> = built.config.endpoints[&by_number]
        .iter()
        .map(|a| a.to_string())
        .collect();
    // Ready and unset-ready endpoints; not the one that is not ready.
    assert_eq!(eps, ["10.244.1.5:8080", "10.244.2.7:8080"]);
    let by_name = routed(&built, "hello-world.example", "/metrics/a").unwrap();
    assert_eq!(by_name.port, ServicePort::Name("metrics".into()));
    let eps: Vec<String> = built.config.endpoints[&by_name]
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(eps, ["10.244.1.5:9000", "10.244.2.7:9000"]);
    assert!(built.config.synced);
}
