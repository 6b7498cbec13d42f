//! The lab's controllers. They use the Kubernetes API exactly as real controllers do
//! (kube-rs `Api`, `kube::runtime` watchers and controllers), so they run against the lab's
//! API server or any other.
//!
//! Each controller is a module with a pure core (objects in, desired objects or actions out,
//! unit-tested) and a thin reconcile loop with a `run(client, config, shutdown)` entry point:
//!
//! | module | does | upstream counterpart |
//! |---|---|---|
//! | [`namespace`] | system namespaces exist; a deleted namespace is emptied, then finalized | namespace controller |
//! | [`node_ipam`] | the config's nodes exist, each with `spec.podCIDR(s)` from the cluster CIDR | kubelet registration + nodeipam |
//! | [`kubernetes_service`] | the `kubernetes` Service and its EndpointSlice | kube-apiserver's bootstrap controller |
//! | [`deployment`] | Deployments → ReplicaSets, rollouts and revisions | deployment controller |
//! | [`replicaset`] | ReplicaSets → Pods | replicaset controller |
//! | [`statefulset`] | StatefulSets → ordinal Pods with stable DNS names, ControllerRevisions | statefulset controller |
//! | [`job`] | Jobs → Pods run to completion | job controller |
//! | [`cronjob`] | CronJobs → a Job per scheduled time, history limits, concurrency policies | cronjob-controller-v2 |
//! | [`daemonset`] | DaemonSets → a Pod per eligible node, ControllerRevisions | daemonset controller |
//! | [`scheduler`] | binds pods without a node | kube-scheduler (filters + spreading) |
//! | [`lb_ipam`] | `type: LoadBalancer` Services get `status.loadBalancer.ingress[].ip` from the pools | MetalLB / Cilium LB-IPAM controller |
//! | [`endpointslice`] | Services' EndpointSlices from their pods | EndpointSlice controller |
//! | [`gc`] | deletes pods and slices whose controller owner is gone | garbage collector |
//! | [`service_account`] | the `default` ServiceAccount in every namespace | serviceaccounts controller |
//! | [`root_ca`] | the `kube-root-ca.crt` ConfigMap (the cluster CA) in every namespace | root-ca-cert-publisher |
//!
//! ClusterIP and NodePort allocation is not here: it belongs to the API server's create path
//! (a refusal is a 422 at create time); see `podnet-lab-controllers-alloc`.
//! [`run_all`] runs every controller until shutdown.

pub mod config;
pub mod cronjob;
pub mod daemonset;
pub mod dependents;
pub mod deployment;
pub mod endpointslice;
pub mod error;
#[cfg(test)]
mod fixture;
pub mod gc;
pub mod hash;
pub mod job;
pub mod kubernetes_service;
pub mod lb_ipam;
pub mod namespace;
pub mod node_affinity;
pub mod node_ipam;
pub mod per_namespace;
pub mod pods;
mod reconciler;
pub mod replicaset;
pub mod revisions;
pub mod root_ca;
mod run;
pub mod scheduler;
pub mod selector;
pub mod service_account;
pub mod statefulset;
mod status_patch;

pub use config::{Config, NodeConfig, Role};
pub use error::Error;
/// The pure allocators (the lab builds its LoadBalancer pools with them).
pub use podnet_lab_controllers_alloc as alloc;
pub use run::run_all;
pub use tokio_util::sync::CancellationToken;
