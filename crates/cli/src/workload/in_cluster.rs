//! `podnet workload list-services`: a Kubernetes client running inside a pod, configured
//! exactly as users' programs are — kube-rs's `Config::incluster()`, which reads
//! KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount files (token, ca.crt, namespace) that
//! the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount — listing the
//! Services of the pod's namespace. The lab's e2e suite runs it to prove the in-cluster path
//! (Service VIP to the API server, TLS verified against the projected CA, RBAC for the
//! ServiceAccount).

use clap::Args;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Client, Config, ResourceExt};

/// List the Services of the pod's namespace with the pod's ServiceAccount (in-cluster config)
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Runs inside a pod (the ServiceAccount files must be mounted). \
Prints one `service/NAME` line per Service; on an API error prints its code and message \
on stderr and exits 1.\n\nExample (a container's command):\n  podnet workload list-services"
)]
pub struct ListServicesArgs {
    /// The namespace to list (default: the pod's, from the ServiceAccount files)
    #[arg(long, short = 'n')]
    namespace: Option<String>,
}

/// Lists the Services; the exit status is 1 when the API refused.
pub fn run(args: ListServicesArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = Config::incluster()?;
        let namespace = args
            .namespace
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)?;
        let api: Api<Service> = Api::namespaced(client, &namespace);
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for svc in list {
                    println!("service/{}", svc.name_any());
                }
                Ok(0)
            }
            Err(kube::Error::Api(status)) => {
                eprintln!("Error from server ({}): {}", status.reason, status.message);
                Ok(1)
            }
            Err(e) => Err(e.into()),
        }
    })
}
