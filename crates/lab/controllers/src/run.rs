//! Every controller at once.

use futures::future::join_all;
use kube::Client;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::Error;
use crate::{
    daemonset, deployment, endpointslice, gc, job, kubernetes_service, namespace, node_ipam,
    replicaset, scheduler, statefulset,
};
use crate::{lb_ipam, root_ca, service_account};

/// The lab's controllers run in one daemon per lab (it holds the lab's lock), so one
/// identity across restarts lets a restarted daemon renew its own Lease at once.
const LB_IPAM_IDENTITY: &str = "podnet-lab-controllers";

/// Runs every controller until `shutdown`; the first one that fails stops the others and
/// its error is returned.
pub async fn run_all(
    client: Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let stop = shutdown.child_token();
    let root_ca = config.root_ca.clone();
    let lb_pools = config.load_balancer_pools.clone();
    let mut tasks = vec![
        spawn(
            "namespace",
            namespace::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "node-ipam",
            node_ipam::run(client.clone(), config.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "kubernetes-service",
            kubernetes_service::run(client.clone(), config, stop.clone()),
            &stop,
        ),
        spawn(
            "deployment",
            deployment::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "replicaset",
            replicaset::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "daemonset",
            daemonset::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "statefulset",
            statefulset::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn("job", job::run(client.clone(), stop.clone()), &stop),
        spawn(
            "cronjob",
            crate::cronjob::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "scheduler",
            scheduler::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "endpointslice",
            endpointslice::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "garbage-collector",
            gc::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "serviceaccount",
            service_account::run(client.clone(), stop.clone()),
            &stop,
        ),
        spawn(
            "lb-ipam",
            lb_ipam::run(
                client.clone(),
                lb_pools,
                LB_IPAM_IDENTITY.into(),
                stop.clone(),
            ),
            &stop,
        ),
    ];
    if let Some(ca) = root_ca {
        tasks.push(spawn(
            "root-ca-cert-publisher",
            root_ca::run(client, ca, stop.clone()),
            &stop,
        ));
    }
    let mut first = Ok(());
    for result in join_all(tasks).await {
        let result = result.unwrap_or_else(|e| {
            Err(Error::Stopped {
                controller: "task",
                reason: e.to_string(),
            })
        });
        if first.is_ok() {
            first = result;
        }
    }
    first
}

fn spawn(
    name: &'static str,
    fut: impl Future<Output = Result<(), Error>> + Send + 'static,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), Error>> {
    let stop = stop.clone();
    tokio::spawn(async move {
        let result = fut.await;
        if let Err(error) = &result {
            tracing::error!(controller = name, %error, "controller failed; stopping the others");
        }
        // A controller that ends (failed, or shut down) takes the others with it.
        stop.cancel();
        result
    })
}
