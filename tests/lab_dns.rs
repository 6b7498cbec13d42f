//! Cluster DNS on a whole lab: `podnet dns` deployed by `lab up` as CoreDNS is (Deployment
//! `coredns` behind `kube-dns` at 10.96.0.10), asked from inside a pod with dig and getent
//! through the pod's own resolv.conf and the service proxy: short names via the search path,
//! FQDNs, SRV, PTR, headless with hostnames, ExternalName, a new Service resolvable within a
//! second and a deleted one gone, and outside names through the external host's DNS.

#[path = "lab/support.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Lab, eventually, manifest};

fn dig(lab: &Lab, args: &[&str]) -> String {
    lab.ok(&[
        &[
            "exec", "client", "--", "dig", "+short", "+time=2", "+tries=2",
        ],
        args,
    ]
    .concat())
}

#[test]
fn lab_pods_resolve_cluster_and_outside_names_through_kube_dns() {
    let lab = Lab::up("dns", &["-f", "tests/lab/manifests/dns.yaml"]);
    let web_ip = lab.json(&["get", "svc", "web"])["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_owned();
    let dns: Value = lab.json(&["get", "svc", "kube-dns", "-n", "kube-system"]);
    assert_eq!(dns["spec"]["clusterIP"], "10.96.0.10");

    // The DNS pods are Ready (lab up waited for them) and answer through the Service.
    let fqdn = "web.default.svc.cluster.local";
    let answer = eventually(20, "kube-dns to answer", || {
        let a = dig(&lab, &[fqdn]);
        (a.trim() == web_ip).then_some(a)
    });
    assert_eq!(answer.trim(), web_ip);

    // A short name through the pod's search path, as any program resolves it.
    let hosts = lab.ok(&["exec", "client", "--", "getent", "hosts", "web"]);
    assert!(hosts.starts_with(&format!("{web_ip} ")), "{hosts}");
    let page = lab.ok(&[
        "exec",
        "client",
        "--",
        "curl",
        "-sS",
        "-m",
        "5",
        "http://web/hostname",
    ]);
    assert!(page.starts_with("web-"), "DNS + Service + pod: {page}");

    // SRV for the named port, PTR for the ClusterIP.
    assert_eq!(
        dig(&lab, &["SRV", &format!("_http._tcp.{fqdn}")]).trim(),
        format!("0 100 80 {fqdn}.")
    );
    assert_eq!(dig(&lab, &["-x", &web_ip]).trim(), format!("{fqdn}."));

    // Headless: the pod's own record by hostname.subdomain, and the Service's A records.
    let db_ip = lab.json(&["get", "pod", "db-0"])["status"]["podIP"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        dig(&lab, &["db-0.db.default.svc.cluster.local"]).trim(),
        db_ip
    );
    assert_eq!(dig(&lab, &["db.default.svc.cluster.local"]).trim(), db_ip);

    // ExternalName is a CNAME to the outside name, which resolves through the upstream.
    let ext = dig(&lab, &["ext.default.svc.cluster.local"]);
    assert!(ext.contains("www.example.test."), "{ext}");
    assert_eq!(dig(&lab, &["www.example.test"]).trim(), "203.0.113.10");

    // A missing name is NXDOMAIN, answered by the cluster's server.
    let missing = lab.ok(&[
        "exec",
        "client",
        "--",
        "dig",
        "nope.default.svc.cluster.local",
    ]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");

    // A new Service resolves within a second of being created; a deleted one is gone.
    let tmp = tempfile::tempdir().unwrap();
    let svc = manifest(
        tmp.path(),
        "new.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: fresh}\nspec:\n  selector: {app: web}\n  ports: [{port: 81, targetPort: 8080}]\n",
    );
    lab.ok(&["apply", "-f", svc.to_str().unwrap()]);
    let created = Instant::now();
    let fresh_ip = lab.json(&["get", "svc", "fresh"])["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_owned();
    loop {
        if dig(&lab, &["fresh.default.svc.cluster.local"]).trim() == fresh_ip {
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(30),
            "not resolvable after 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.ok(&["delete", "svc", "fresh"]);
    eventually(5, "the deleted Service's name to go", || {
        dig(&lab, &["fresh.default.svc.cluster.local"])
            .trim()
            .is_empty()
            .then_some(())
    });
}
