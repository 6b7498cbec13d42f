//! The pull step of a container whose image cannot be had (not emulated, no command): the
//! container stays Waiting, `ErrImagePull` at each attempt and `ImagePullBackOff` between
//! attempts, which come after a back-off doubling from the kubelet's initial one, as the
//! kubelet's image puller does.

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::time::Instant;

use super::WorkerCtx;
use super::containers::{ContainerRt, backoff_delay};
use crate::status::RunState;

/// Records one pass of the pull step for `c`, whose image cannot be had for `reason`.
pub(crate) fn unavailable(ctx: &WorkerCtx, pod: &Pod, c: &Container, reason: &str) {
    let config = &ctx.shared.config;
    let image = c.image.as_deref().unwrap_or("");
    let mut st = ctx.state.lock().unwrap();
    let rt = st
        .containers
        .entry(c.name.clone())
        .or_insert_with(ContainerRt::new);
    let now = Instant::now();
    if rt.next_start.is_some_and(|next| now < next) {
        if !matches!(&rt.state, RunState::Waiting { reason, .. } if reason == "ImagePullBackOff") {
            crate::events::pull_back_off(&ctx.shared.recorder, pod, c);
        }
        rt.state = RunState::Waiting {
            reason: "ImagePullBackOff".into(),
            message: Some(format!(
                "Back-off pulling image \"{image}\": ErrImagePull: {reason}"
            )),
        };
        return;
    }
    rt.pull_failures += 1;
    let delay = backoff_delay(rt.pull_failures, config.initial_backoff, config.max_backoff);
    rt.next_start = Some(now + delay);
    rt.state = RunState::Waiting {
        reason: "ErrImagePull".into(),
        message: Some(reason.to_owned()),
    };
    drop(st);
    tracing::info!(pod = %super::containers::pod_key(pod), container = %c.name, %image, "image not available");
    crate::events::pull_failed(&ctx.shared.recorder, pod, c, reason);
}
