//! Projected ServiceAccount tokens, as the kubelet's token manager gets them: through the
//! TokenRequest API (`serviceaccounts/NAME/token`) bound to the pod, kept until 80% of
//! their lifetime (or 24 h) has passed, then requested again.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;

use super::plan::TokenSpec;
use crate::error::{Error, Result};

/// A token is requested again once this share of its lifetime has passed.
const REFRESH_AT: f64 = 0.8;
/// …or once it is this old, whatever its lifetime.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug)]
struct Held {
    token: String,
    refresh_after: Instant,
}

/// The tokens of one pod's projected volumes.
#[derive(Debug, Default)]
pub(crate) struct Tokens(BTreeMap<TokenSpec, Held>);

// === impl Tokens ===

impl Tokens {
    /// Requests the tokens in `wanted` that are missing or due for refresh, and returns the
    /// current token of each. Tokens no longer wanted are forgotten.
    pub async fn current(
        &mut self,
        client: &Client,
        pod: &Pod,
        wanted: impl IntoIterator<Item = TokenSpec>,
    ) -> Result<BTreeMap<TokenSpec, String>> {
        let wanted: Vec<TokenSpec> = wanted.into_iter().collect();
        self.0.retain(|spec, _| wanted.contains(spec));
        for spec in wanted {
            let due = self
                .0
                .get(&spec)
                .is_none_or(|h| Instant::now() >= h.refresh_after);
            if due {
                let token = request(client, pod, &spec).await?;
                let held = Held {
                    token,
                    refresh_after: Instant::now() + refresh_in(spec.expiration_seconds),
                };
                self.0.insert(spec, held);
            }
        }
        Ok(self
            .0
            .iter()
            .map(|(k, h)| (k.clone(), h.token.clone()))
            .collect())
    }
}

/// How long a token of `expiration_seconds` is used before a new one is requested.
fn refresh_in(expiration_seconds: i64) -> Duration {
    let lifetime = Duration::from_secs(expiration_seconds.max(0) as u64);
    lifetime.mul_f64(REFRESH_AT).min(MAX_AGE)
}

/// One TokenRequest for the pod's ServiceAccount, bound to the pod.
async fn request(client: &Client, pod: &Pod, spec: &TokenSpec) -> Result<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            // None: the API server's own audiences.
            audiences: spec.audience.clone().map(|a| vec![a]),
            expiration_seconds: Some(spec.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let what = || format!("request a token for serviceaccount {namespace}/{account}");
    let answer = api
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|e| Error::api(what(), e))?;
    answer
        .status
        .and_then(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Container {
            pod: format!("{namespace}/{}", pod.metadata.name.as_deref().unwrap_or("")),
            container: String::new(),
            reason: format!("{}: the answer holds no token", what()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_at_80_percent_of_their_lifetime_or_a_day() {
        assert_eq!(refresh_in(3607), Duration::from_secs_f64(3607.0 * 0.8));
        assert_eq!(refresh_in(600), Duration::from_secs(480));
        assert_eq!(refresh_in(7 * 24 * 3600), Duration::from_secs(24 * 3600));
    }
}
