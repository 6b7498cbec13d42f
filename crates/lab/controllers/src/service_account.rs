//! The `default` ServiceAccount in every namespace, as kube-controller-manager's
//! serviceaccounts controller keeps it (created when missing, never changed).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::per_namespace::{self, Keep};

pub const DEFAULT: &str = "default";

pub fn default_account(namespace: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let keep = Keep {
        what: "serviceaccount",
        name: DEFAULT,
        want: Box::new(default_account),
        drifted: |_, _| false,
    };
    per_namespace::run(client, keep, shutdown).await
}
