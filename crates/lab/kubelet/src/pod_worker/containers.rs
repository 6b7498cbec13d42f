//! A pod's containers at run time: starting one in the pod's namespaces, following its exit
//! (our child, or an adopted process after a kubelet restart), its probes, restarts with
//! back-off (CrashLoopBackOff), and stopping it (SIGTERM, grace period, SIGKILL).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::container::console::{self, ConsoleSpec};
use crate::container::env::{EnvContext, process_spec};
use crate::container::image::{self, ImageUse};
use crate::container::{PodNamespaces, spawn_in};
use crate::downward::PodRuntime;
use crate::logs;
use crate::pod_objects::PodObjects;
use crate::probe::{self, ProbeKind, ProbeTarget};
use crate::process::ProcessId;
use crate::state::{self, ContainerRecord};
use crate::status::{ContainerView, RunState, Termination};

use super::{WorkerCtx, now};

/// A container ran this long without failing: its back-off starts over (upstream: 10 min).
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// One container as the kubelet runs it.
#[derive(Debug)]
pub(crate) struct ContainerRt {
    pub state: RunState,
    pub last_termination: Option<Termination>,
    pub restart_count: i32,
    pub ready: bool,
    pub started: bool,
    pub process: Option<ProcessId>,
    /// Bumped at each start, so that a late report about an earlier run is ignored.
    pub instance: u64,
    probes: Option<CancellationToken>,
    /// When a restart is due (back-off); None when not decided yet.
    pub next_start: Option<Instant>,
    backoff_level: u32,
    ran_since: Option<Instant>,
    /// A liveness or startup failure asked for a restart: a kill is under way.
    killing: bool,
    /// Failed pulls of an image that cannot be had (its pull back-off level).
    pub pull_failures: u32,
}

// === impl ContainerRt ===

impl ContainerRt {
    pub fn new() -> Self {
        Self {
            state: RunState::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            },
            last_termination: None,
            restart_count: 0,
            ready: false,
            started: false,
            process: None,
            instance: 0,
            probes: None,
            next_start: None,
            backoff_level: 0,
            ran_since: None,
            killing: false,
            pull_failures: 0,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, RunState::Running { .. })
    }

    pub fn has_run(&self) -> bool {
        self.instance > 0 || self.last_termination.is_some() || self.restart_count > 0
    }

    pub fn view(&self, c: &Container) -> ContainerView {
        ContainerView {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            state: self.state.clone(),
            last_termination: self.last_termination.clone(),
            restart_count: self.restart_count,
            ready: self.ready,
            started: self.started,
            container_id: self.process.map(|p| format!("podnet://{}", p.pid)),
        }
    }

    pub fn record(&self) -> ContainerRecord {
        ContainerRecord {
            process: self.process.filter(|_| self.is_running()),
            restart_count: self.restart_count,
            started_at: match &self.state {
                RunState::Running { started_at } => Some(started_at.clone()),
                _ => None,
            },
        }
    }

    fn stop_probes(&mut self) {
        if let Some(p) = self.probes.take() {
            p.cancel();
        }
    }
}

/// Whether a stopped container runs again under `restart_policy`.
pub(crate) fn should_restart(restart_policy: &str, exit_code: i32) -> bool {
    match restart_policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// The wait before the restart after `level` earlier back-offs: none for the first restart,
/// then `initial`, doubling, capped at `max` (upstream's container back-off).
pub(crate) fn backoff_delay(level: u32, initial: Duration, max: Duration) -> Duration {
    match level {
        0 => Duration::ZERO,
        n => initial.saturating_mul(1 << (n - 1).min(20)).min(max),
    }
}

/// Decides (once per exit) when a stopped container restarts; returns whether it is due now.
pub(crate) fn restart_due(ctx: &WorkerCtx, pod: &Pod, name: &str) -> bool {
    let policy = restart_policy(pod);
    let key = pod_key(pod);
    let mut st = ctx.state.lock().unwrap();
    let Some(rt) = st.containers.get_mut(name) else {
        return false;
    };
    let exit_code = match (&rt.state, &rt.last_termination) {
        (RunState::Terminated(t), _) => t.exit_code,
        (RunState::Waiting { .. }, Some(t)) if rt.next_start.is_some() => t.exit_code,
        _ => return false,
    };
    if !should_restart(&policy, exit_code) {
        return false;
    }
    let next = *rt.next_start.get_or_insert_with(|| {
        if rt.ran_since.is_some_and(|s| s.elapsed() >= BACKOFF_RESET) {
            rt.backoff_level = 0;
        }
        let delay = backoff_delay(
            rt.backoff_level,
            ctx.shared.config.initial_backoff,
            ctx.shared.config.max_backoff,
        );
        rt.backoff_level += 1;
        Instant::now() + delay
    });
    if Instant::now() >= next {
        return true;
    }
    if let RunState::Terminated(t) = &rt.state {
        rt.last_termination = Some(t.clone());
    }
    crate::events::back_off(&ctx.shared.recorder, pod, name);
    let wait = next.saturating_duration_since(Instant::now()).as_secs() + 1;
    let uid = pod.metadata.uid.as_deref().unwrap_or("");
    rt.state = RunState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some(format!(
            "back-off {wait}s restarting failed container={name} pod={}({uid})",
            key.replace('/', "_")
        )),
    };
    false
}

/// Keeps container `c` from starting: Waiting with CreateContainerConfigError and `message`.
pub(crate) fn config_error(ctx: &WorkerCtx, pod: &Pod, c: &Container, message: String) {
    crate::events::failed(&ctx.shared.recorder, pod, &c.name, &message);
    let mut st = ctx.state.lock().unwrap();
    let rt = st
        .containers
        .entry(c.name.clone())
        .or_insert_with(ContainerRt::new);
    rt.state = RunState::Waiting {
        reason: "CreateContainerConfigError".into(),
        message: Some(message),
    };
}

/// Starts (or restarts) container `c`: its process in the pod's namespaces, its exit watch
/// and its probes. `objects` are what its environment is read from.
pub(crate) fn start(ctx: &WorkerCtx, pod: &Pod, c: &Container, objects: &PodObjects) {
    let config = &ctx.shared.config;
    let (ns, ips, uid, namespace, name) = {
        let st = ctx.state.lock().unwrap();
        let Some(infra) = st.record.infra else {
            return;
        };
        let ns = PodNamespaces {
            infra,
            own_network: st.record.netns.is_some(),
        };
        let r = &st.record;
        (
            ns,
            r.pod_ips.clone(),
            r.uid.clone(),
            r.namespace.clone(),
            r.name.clone(),
        )
    };
    let emulated = match image::image_use(c) {
        ImageUse::Unavailable(reason) => {
            return super::image_pull::unavailable(ctx, pod, c, &reason);
        }
        ImageUse::Emulated => true,
        ImageUse::Command => false,
    };
    let hostname = crate::files::uts_hostname(pod, &config.cluster_domain);
    let allocatable = crate::node::capacity();
    let runtime = PodRuntime {
        pod_ips: &ips,
        host_ip: config.node_ip,
        allocatable: &allocatable,
    };
    let env_ctx = EnvContext::on_node(config, runtime, &hostname, objects);
    let key = format!("{namespace}/{name}");
    let spec = match process_spec(pod, c, &env_ctx) {
        Ok(spec) => spec,
        Err(message) => {
            tracing::info!(pod = %key, container = %c.name, %message, "container config error");
            config_error(ctx, pod, c, message);
            return;
        }
    };
    let restart_count = {
        let st = ctx.state.lock().unwrap();
        st.containers
            .get(&c.name)
            .map_or(0, |rt| rt.restart_count + i32::from(rt.has_run()))
    };
    let log = logs::logger::Instance {
        namespace: &namespace,
        pod: &name,
        uid: &uid,
        container: &c.name,
        restart_count,
    };
    let spawned = logs::logger::start_instance(config, &log).and_then(|(stdout, stderr)| {
        if c.stdin == Some(true) || c.tty == Some(true) {
            let console = ConsoleSpec {
                key: format!("{key}/{}", c.name),
                stdin: c.stdin == Some(true),
                stdin_once: c.stdin_once == Some(true),
                tty: c.tty == Some(true),
            };
            let consoles = &ctx.shared.consoles;
            return console::spawn(
                &key,
                &c.name,
                ns,
                &spec,
                console,
                (stdout, stderr),
                consoles,
            );
        }
        spawn_in(&key, &c.name, ns, &spec, stdout.into(), stderr.into())
    });
    let mut st = ctx.state.lock().unwrap();
    let rt = st
        .containers
        .entry(c.name.clone())
        .or_insert_with(ContainerRt::new);
    if rt.has_run() {
        rt.restart_count += 1;
    }
    if let RunState::Terminated(t) = &rt.state {
        rt.last_termination = Some(t.clone());
    }
    rt.instance += 1;
    rt.next_start = None;
    rt.killing = false;
    let instance = rt.instance;
    match spawned {
        Err(error) => {
            tracing::warn!(pod = %key, container = %c.name, %error, "container failed to start");
            crate::events::failed(&ctx.shared.recorder, pod, &c.name, &error.to_string());
            // Upstream's StartError: counts as a run that failed, restarted per policy.
            rt.state = RunState::Terminated(Termination {
                exit_code: 128,
                signal: None,
                reason: "StartError".into(),
                started_at: None,
                finished_at: now(),
                container_id: None,
            });
            rt.process = None;
        }
        Ok((process, child)) => {
            tracing::info!(pod = %key, container = %c.name, pid = process.pid, restarts = rt.restart_count, "container started");
            let recorder = &ctx.shared.recorder;
            let runs = emulated.then(|| image::what_runs(&spec.argv, &config.podnet_exe));
            crate::events::pulled(recorder, pod, c, runs.as_deref());
            crate::events::created(recorder, pod, &c.name);
            crate::events::started(recorder, pod, &c.name);
            rt.state = RunState::Running { started_at: now() };
            rt.process = Some(process);
            rt.ran_since = Some(Instant::now());
            rt.started = c.startup_probe.is_none();
            rt.ready = rt.started && c.readiness_probe.is_none();
            let cancel = ctx.cancel.child_token();
            rt.probes = Some(cancel.clone());
            let target = probe_target(
                &key,
                c,
                ns,
                ips.first().copied().unwrap_or(config.node_ip),
                spec.env,
            );
            start_probes(ctx, pod, c, instance, target, cancel);
            let ctx2 = ctx.clone();
            let name = c.name.clone();
            tokio::spawn(async move {
                let mut child = child;
                let status = tokio::select! {
                    s = child.wait() => s.ok(),
                    // Leave the process running; a new kubelet adopts it.
                    _ = ctx2.cancel.cancelled() => return,
                };
                use std::os::unix::process::ExitStatusExt;
                let (code, signal) = status.map_or((None, Some(9)), |s| (s.code(), s.signal()));
                on_exit(&ctx2, &name, instance, code, signal);
            });
        }
    }
    let records = st
        .containers
        .iter()
        .map(|(n, c)| (n.clone(), c.record()))
        .collect();
    st.record.containers = records;
    if let Err(error) = state::save(&config.state_dir, &st.record) {
        tracing::warn!(pod = %key, %error, "saving pod record");
    }
    drop(st);
    ctx.wake.notify_one();
}

/// Takes over a running container process a previous kubelet started; its environment (for
/// exec probes) is read from `objects`.
pub(crate) fn adopt(
    ctx: &WorkerCtx,
    pod: &Pod,
    c: &Container,
    record: &ContainerRecord,
    process: ProcessId,
    objects: &PodObjects,
) {
    let config = &ctx.shared.config;
    let mut st = ctx.state.lock().unwrap();
    let ns = PodNamespaces {
        infra: st.record.infra.expect("adopted pods have an infra process"),
        own_network: st.record.netns.is_some(),
    };
    let ip = st.record.pod_ips.first().copied().unwrap_or(config.node_ip);
    let key = st.record.key();
    let rt = st
        .containers
        .entry(c.name.clone())
        .or_insert_with(ContainerRt::new);
    rt.restart_count = record.restart_count;
    rt.instance = 1;
    rt.state = RunState::Running {
        started_at: record.started_at.clone().unwrap_or_else(now),
    };
    rt.process = Some(process);
    rt.ran_since = Some(Instant::now());
    rt.started = c.startup_probe.is_none();
    rt.ready = rt.started && c.readiness_probe.is_none();
    let cancel = ctx.cancel.child_token();
    rt.probes = Some(cancel.clone());
    drop(st);
    let hostname = crate::files::uts_hostname(pod, &config.cluster_domain);
    let ips = [ip];
    let allocatable = crate::node::capacity();
    let runtime = PodRuntime {
        pod_ips: &ips,
        host_ip: config.node_ip,
        allocatable: &allocatable,
    };
    let env_ctx = EnvContext::on_node(config, runtime, &hostname, objects);
    let env = process_spec(pod, c, &env_ctx)
        .map(|s| s.env)
        .unwrap_or_default();
    start_probes(ctx, pod, c, 1, probe_target(&key, c, ns, ip, env), cancel);
    tracing::info!(pod = %key, container = %c.name, pid = process.pid, "adopted running container");
    let ctx2 = ctx.clone();
    let name = c.name.clone();
    tokio::spawn(async move {
        let (code, signal) = tokio::select! {
            r = wait_adopted(process) => r,
            _ = ctx2.cancel.cancelled() => return,
        };
        on_exit(&ctx2, &name, 1, code, signal);
    });
}

/// Waits for a process that may or may not be our child: its real status when it is (a
/// kubelet restarted in the same process), else "killed" once it is gone.
async fn wait_adopted(process: ProcessId) -> (Option<i32>, Option<i32>) {
    loop {
        match waitpid(Pid::from_raw(process.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return (Some(code), None),
            Ok(WaitStatus::Signaled(_, sig, _)) => return (None, Some(sig as i32)),
            _ if !process.is_alive() => return (None, Some(Signal::SIGKILL as i32)),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn on_exit(ctx: &WorkerCtx, name: &str, instance: u64, code: Option<i32>, signal: Option<i32>) {
    let mut st = ctx.state.lock().unwrap();
    let Some(rt) = st.containers.get_mut(name) else {
        return;
    };
    if rt.instance != instance {
        return;
    }
    let started_at = match &rt.state {
        RunState::Running { started_at } => Some(started_at.clone()),
        _ => None,
    };
    let id = rt.process.map(|p| format!("podnet://{}", p.pid));
    rt.state = RunState::Terminated(Termination::from_exit(code, signal, started_at, now(), id));
    rt.ready = false;
    rt.process = None;
    rt.stop_probes();
    tracing::info!(pod = %st.record.key(), container = name, ?code, ?signal, "container exited");
    let records = st
        .containers
        .iter()
        .map(|(n, c)| (n.clone(), c.record()))
        .collect();
    st.record.containers = records;
    if let Err(error) = state::save(&ctx.shared.config.state_dir, &st.record) {
        tracing::warn!(%error, "saving pod record");
    }
    drop(st);
    ctx.wake.notify_one();
}

fn probe_target(
    key: &str,
    c: &Container,
    ns: PodNamespaces,
    pod_ip: std::net::IpAddr,
    env: Vec<(String, String)>,
) -> ProbeTarget {
    let ports: HashMap<String, i32> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| Some((p.name.clone()?, p.container_port)))
        .collect();
    ProbeTarget {
        pod: key.to_owned(),
        container: c.name.clone(),
        pod_ip,
        ports,
        ns,
        env,
    }
}

/// Startup first; readiness and liveness once the container has started.
fn start_probes(
    ctx: &WorkerCtx,
    pod: &Pod,
    c: &Container,
    instance: u64,
    target: ProbeTarget,
    cancel: CancellationToken,
) {
    let probes: Vec<_> = [
        ProbeKind::Startup,
        ProbeKind::Readiness,
        ProbeKind::Liveness,
    ]
    .into_iter()
    .filter_map(|k| Some((k, k.of(c)?.clone())))
    .collect();
    if probes.is_empty() {
        return;
    }
    let ctx = ctx.clone();
    let pod = Arc::new(pod.clone());
    let name = c.name.clone();
    tokio::spawn(async move {
        let gated = probes.iter().any(|(k, _)| *k == ProbeKind::Startup);
        let mut tasks = tokio::task::JoinSet::new();
        for (kind, probe) in probes {
            let (ctx, pod, name, target, cancel) = (
                ctx.clone(),
                pod.clone(),
                name.clone(),
                target.clone(),
                cancel.clone(),
            );
            tasks.spawn(async move {
                if gated && kind != ProbeKind::Startup {
                    wait_started(&ctx, &name, instance, &cancel).await;
                }
                let report = |ok: bool| report(&ctx, &pod, &name, instance, kind, ok);
                let recorder = &ctx.shared.recorder;
                let failed =
                    |output: &str| crate::events::unhealthy(recorder, &pod, &name, kind, output);
                probe::run(kind, probe, target, cancel, report, failed).await;
            });
        }
        while tasks.join_next().await.is_some() {}
    });
}

async fn wait_started(ctx: &WorkerCtx, name: &str, instance: u64, cancel: &CancellationToken) {
    loop {
        {
            let st = ctx.state.lock().unwrap();
            match st.containers.get(name) {
                Some(rt) if rt.instance == instance && rt.started => return,
                Some(rt) if rt.instance == instance => {}
                _ => return,
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// A probe's thresholded result: readiness sets `ready`; a failed liveness or startup probe
/// kills the container, which then restarts per policy.
fn report(ctx: &WorkerCtx, pod: &Pod, name: &str, instance: u64, kind: ProbeKind, ok: bool) {
    let mut st = ctx.state.lock().unwrap();
    let key = st.record.key();
    let grace = st.grace;
    let Some(rt) = st
        .containers
        .get_mut(name)
        .filter(|rt| rt.instance == instance)
    else {
        return;
    };
    match (kind, ok) {
        (ProbeKind::Readiness, ok) => rt.ready = ok && rt.started && rt.is_running(),
        (ProbeKind::Startup, true) => {
            rt.started = true;
        }
        (ProbeKind::Liveness | ProbeKind::Startup, false) if !rt.killing => {
            tracing::info!(pod = %key, container = name, ?kind, "probe failed, container will be restarted");
            crate::events::probe_kill(&ctx.shared.recorder, pod, name, kind);
            rt.killing = true;
            rt.ready = false;
            if let Some(process) = rt.process {
                tokio::spawn(stop_process(process, grace));
            }
        }
        _ => {}
    }
    drop(st);
    ctx.wake.notify_one();
}

/// SIGTERM, then SIGKILL after `grace`; returns once the process is gone.
pub(crate) async fn stop_process(process: ProcessId, grace: Duration) {
    process.signal(Signal::SIGTERM);
    if !crate::container::wait_gone(process, grace).await {
        process.signal(Signal::SIGKILL);
        crate::container::wait_gone(process, Duration::from_secs(5)).await;
    }
}

pub(crate) fn restart_policy(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".into())
}

pub(crate) fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_restart_is_immediate_then_back_off_doubles_to_the_cap() {
        let (i, m) = (Duration::from_secs(10), Duration::from_secs(300));
        let delays: Vec<u64> = (0..8).map(|l| backoff_delay(l, i, m).as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn restart_policy_decides_by_exit_code() {
        assert!(should_restart("Always", 0));
        assert!(!should_restart("OnFailure", 0));
        assert!(should_restart("OnFailure", 137));
        assert!(!should_restart("Never", 1));
    }
}
