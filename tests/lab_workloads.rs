//! The Kubernetes documentation's manifests (examples/manifests), applied unchanged to a
//! lab: the fluentd-elasticsearch DaemonSet on every node, the `web` StatefulSet behind the
//! headless Service `nginx` (so `web-0.nginx` resolves from a pod), the `hello` CronJob of
//! "Running Automated Tasks with a CronJob" (its first Job runs to completion), the CronTab
//! CustomResourceDefinition with its custom resource, and RBAC's `pod-reader` Role bound to
//! the user jane.
//!
//! The `pi` Job is applied unchanged in crates/lab/controllers/tests/job.rs (with a kubelet
//! stand-in), not here: a lab runs the host's perl, and Debian 12's perl 5.36 fails
//! `perl -Mbignum=bpi -wle 'print bpi(2000)'` ("Can't use an undefined value as an ARRAY
//! reference at …/Math/BigInt/Calc.pm line 1049"), so its pods fail on this host.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, eventually};

fn manifest(name: &str) -> String {
    format!("{}/examples/manifests/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn documentation_workloads_run_on_a_lab() {
    let lab = Lab::up("workloads", &[]);
    for file in ["daemonset.yaml", "statefulset.yaml"] {
        lab.kubectl_ok(&["apply", "-f", &manifest(file)]);
    }

    let nodes = eventually(120, "a running fluentd pod on each node", || {
        let out = lab.kubectl_ok(&[
            "get",
            "pods",
            "-n",
            "kube-system",
            "-l",
            "name=fluentd-elasticsearch",
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
        ]);
        let mut running: Vec<String> = out
            .lines()
            .filter(|l| l.ends_with(" Running"))
            .map(|l| l.trim_end_matches(" Running").to_string())
            .collect();
        running.sort();
        (running.len() == 3).then_some(running)
    });
    assert_eq!(
        nodes,
        [
            format!("{}-control-plane", lab.name),
            format!("{}-worker", lab.name),
            format!("{}-worker2", lab.name),
        ]
    );

    eventually(120, "web-0, web-1 and web-2 running", || {
        let out = lab.kubectl_ok(&["get", "pods", "-l", "app=nginx"]);
        (out.matches("Running").count() == 3).then_some(())
    });
    let web0_ip = lab.kubectl_ok(&["get", "pod", "web-0", "-o", "jsonpath={.status.podIP}"]);
    let resolved = eventually(60, "web-0.nginx resolving from web-1", || {
        let out = lab.podnet(&["exec", "web-1", "--", "getent", "hosts", "web-0.nginx"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && text.contains(&web0_ip)).then_some(text)
    });
    assert!(resolved.contains("web-0.nginx"), "{resolved}");
}

#[test]
fn documentation_cron_job_custom_resource_and_rbac_on_a_lab() {
    let lab = Lab::up("docs-cron", &[]);
    for file in ["cronjob.yaml", "crontab-crd.yaml", "rbac.yaml"] {
        lab.kubectl_ok(&["apply", "-f", &manifest(file)]);
    }

    // The CRD's kind is served once it is established: retried as a user would.
    let created = eventually(30, "the CronTab applied", || {
        let out = lab.kubectl(&["apply", "-f", &manifest("crontab.yaml")]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(created.contains("crontab.stable.example.com/my-new-cron-object created"));
    let spec = lab.kubectl_ok(&[
        "get",
        "ct",
        "my-new-cron-object",
        "-o",
        "jsonpath={.spec.cronSpec}",
    ]);
    assert_eq!(spec, "* * * * */5");

    let can = |verb: &str| {
        let out = lab.kubectl(&["auth", "can-i", verb, "pods", "--as", "jane"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(can("list"), "yes");
    assert_eq!(can("delete"), "no");

    // "* * * * *": the first Job starts at the next whole minute, then runs `date; echo …`.
    let job = eventually(150, "a Job of the hello CronJob complete", || {
        let out = lab.kubectl_ok(&[
            "get",
            "jobs",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.succeeded}{\"\\n\"}{end}",
        ]);
        out.lines()
            .find(|l| l.starts_with("hello-") && l.ends_with(" 1"))
            .map(|l| l.trim_end_matches(" 1").to_string())
    });
    let last = lab.kubectl_ok(&[
        "get",
        "cronjob",
        "hello",
        "-o",
        "jsonpath={.status.lastScheduleTime}",
    ]);
    assert!(!last.is_empty(), "lastScheduleTime is set");
    let pod = lab.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        &format!("job-name={job}"),
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let log = lab.ok(&["logs", &pod]);
    assert!(log.contains("Hello from the Kubernetes cluster"), "{log}");
}
