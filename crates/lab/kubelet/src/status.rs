//! Pod status from what the kubelet knows (pure): phase by upstream's rules, IPs,
//! conditions (PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady,
//! Ready) whose lastTransitionTime only moves when their status does, and containerStatuses.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// One container as the kubelet sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ContainerView {
    pub name: String,
    pub image: String,
    pub state: RunState,
    pub last_termination: Option<Termination>,
    pub restart_count: i32,
    pub ready: bool,
    pub started: bool,
    pub container_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RunState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Time,
    },
    Terminated(Termination),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Termination {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub started_at: Option<Time>,
    pub finished_at: Time,
    pub container_id: Option<String>,
}

/// The pod as the kubelet sees it.
#[derive(Clone, Debug)]
pub(crate) struct PodView<'a> {
    /// Sandbox up and networked (PodReadyToStartContainers).
    pub sandbox_ready: bool,
    pub pod_ips: &'a [IpAddr],
    pub host_ip: IpAddr,
    pub start_time: Option<Time>,
    pub containers: &'a [ContainerView],
    pub now: Time,
}

// === impl Termination ===

impl Termination {
    /// `Completed` for 0, else `Error`; a signal gives 128+N as the runtimes report it.
    pub fn from_exit(
        code: Option<i32>,
        signal: Option<i32>,
        started_at: Option<Time>,
        finished_at: Time,
        container_id: Option<String>,
    ) -> Self {
        let exit_code = code.unwrap_or_else(|| 128 + signal.unwrap_or(9));
        Self {
            exit_code,
            signal,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.to_owned(),
            started_at,
            finished_at,
            container_id,
        }
    }

    fn to_api(&self) -> ContainerStateTerminated {
        ContainerStateTerminated {
            exit_code: self.exit_code,
            signal: self.signal,
            reason: Some(self.reason.clone()),
            started_at: self.started_at.clone(),
            finished_at: Some(self.finished_at.clone()),
            container_id: self.container_id.clone(),
            message: None,
        }
    }
}

/// Upstream's getPhase: Pending while a container waits to run for the first time; Running
/// while one runs (or restarts); with every container stopped: Succeeded if all exited 0,
/// else Failed under restartPolicy Never, Running under Always/OnFailure (a restart comes).
pub(crate) fn phase(restart_policy: &str, containers: &[ContainerView]) -> &'static str {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in containers {
        match &c.state {
            RunState::Running { .. } => running += 1,
            RunState::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            RunState::Waiting { .. } if c.last_termination.is_some() => stopped += 1,
            RunState::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 || containers.is_empty() {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    match restart_policy {
        "Always" => "Running",
        "OnFailure" if stopped == succeeded => "Succeeded",
        "OnFailure" => "Running",
        _ if stopped == succeeded => "Succeeded",
        _ => "Failed",
    }
}

/// The status to post for `pod`.
pub(crate) fn pod_status(pod: &Pod, view: &PodView<'_>) -> PodStatus {
    let old = pod.status.as_ref();
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let old_phase = old.and_then(|s| s.phase.as_deref());
    // A terminal phase is final.
    let phase = match old_phase {
        Some(p @ ("Succeeded" | "Failed")) => {
            if p == "Succeeded" {
                "Succeeded"
            } else {
                "Failed"
            }
        }
        _ => phase(policy, view.containers),
    };
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let all_ready = !view.containers.is_empty() && view.containers.iter().all(|c| c.ready);
    let ready_reason = (!all_ready).then(|| {
        let unready: Vec<&str> = view
            .containers
            .iter()
            .filter(|c| !c.ready)
            .map(|c| c.name.as_str())
            .collect();
        (
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    });
    let ready_reason = if terminal && !all_ready {
        Some(("PodCompleted", String::new()))
    } else {
        ready_reason
    };
    let cond = |type_: &str, ok: bool, why: Option<(&str, String)>| {
        let status = if ok { "True" } else { "False" };
        let previous = old
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_));
        let since = match previous {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => Some(view.now.clone()),
        };
        let (reason, message) = match why {
            Some((r, m)) if !ok => (Some(r.to_owned()), (!m.is_empty()).then_some(m)),
            _ => (None, None),
        };
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time: since,
            reason,
            message,
            ..Default::default()
        }
    };
    let conditions = vec![
        cond("PodReadyToStartContainers", view.sandbox_ready, None),
        cond("Initialized", true, None),
        cond("Ready", all_ready, ready_reason.clone()),
        cond("ContainersReady", all_ready, ready_reason),
        cond("PodScheduled", true, None),
    ];
    let ips: Vec<String> = view.pod_ips.iter().map(ToString::to_string).collect();
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        host_ip: Some(view.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: view.host_ip.to_string(),
        }]),
        pod_ip: ips.first().cloned(),
        pod_ips: (!ips.is_empty()).then(|| ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time: view.start_time.clone(),
        container_statuses: Some(view.containers.iter().map(container_status).collect()),
        qos_class: old.and_then(|s| s.qos_class.clone()),
        ..Default::default()
    }
}

/// The statuses of containers reported apart (ephemeral containers).
pub(crate) fn container_statuses(views: &[ContainerView]) -> Vec<ContainerStatus> {
    views.iter().map(container_status).collect()
}

fn container_status(c: &ContainerView) -> ContainerStatus {
    let state = match &c.state {
        RunState::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..Default::default()
        },
        RunState::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(started_at.clone()),
            }),
            ..Default::default()
        },
        RunState::Terminated(t) => ContainerState {
            terminated: Some(t.to_api()),
            ..Default::default()
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: String::new(),
        container_id: c.container_id.clone(),
        ready: c.ready,
        started: Some(c.started),
        restart_count: c.restart_count,
        state: Some(state),
        last_state: Some(ContainerState {
            terminated: c.last_termination.as_ref().map(Termination::to_api),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    fn view(name: &str, state: RunState, last: Option<Termination>, ready: bool) -> ContainerView {
        ContainerView {
            name: name.into(),
            image: "img".into(),
            state,
            last_termination: last,
            restart_count: 0,
            ready,
            started: true,
            container_id: None,
        }
    }

    fn exited(code: i32) -> Termination {
        Termination::from_exit(Some(code), None, None, t("2026-01-01T00:00:00Z"), None)
    }

    fn running() -> RunState {
        RunState::Running {
            started_at: t("2026-01-01T00:00:00Z"),
        }
    }

    fn waiting() -> RunState {
        RunState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: None,
        }
    }

    #[test]
    fn phase_follows_upstream_rules() {
        let first = view(
            "a",
            RunState::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            },
            None,
            false,
        );
        assert_eq!(phase("Always", std::slice::from_ref(&first)), "Pending");
        assert_eq!(
            phase("Never", &[view("a", running(), None, true), first]),
            "Pending"
        );
        assert_eq!(
            phase(
                "Never",
                &[view("a", RunState::Terminated(exited(0)), None, false)]
            ),
            "Succeeded"
        );
        assert_eq!(
            phase(
                "Never",
                &[
                    view("a", RunState::Terminated(exited(0)), None, false),
                    view("b", RunState::Terminated(exited(3)), None, false)
                ]
            ),
            "Failed"
        );
        assert_eq!(
            phase(
                "Always",
                &[view("a", RunState::Terminated(exited(0)), None, false)]
            ),
            "Running"
        );
        assert_eq!(
            phase("OnFailure", &[view("a", waiting(), Some(exited(1)), false)]),
            "Running"
        );
        assert_eq!(
            phase(
                "OnFailure",
                &[view("a", RunState::Terminated(exited(0)), None, false)]
            ),
            "Succeeded"
        );
    }

    #[test]
    fn ready_conditions_keep_their_transition_time_until_they_flip() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns1"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        let ips = ["10.244.1.2".parse().unwrap()];
        let containers = [view("a", running(), None, false)];
        let v = PodView {
            sandbox_ready: true,
            pod_ips: &ips,
            host_ip: "172.18.0.3".parse().unwrap(),
            start_time: None,
            containers: &containers,
            now: t("2026-01-01T00:00:00Z"),
        };
        let s = pod_status(&pod, &v);
        let get = |s: &PodStatus, ty: &str| {
            s.conditions
                .as_ref()
                .unwrap()
                .iter()
                .find(|c| c.type_ == ty)
                .unwrap()
                .clone()
        };
        assert_eq!(
            get(&s, "Ready").last_transition_time,
            Some(t("2025-01-01T00:00:00Z"))
        );
        assert_eq!(
            get(&s, "Ready").reason.as_deref(),
            Some("ContainersNotReady")
        );
        assert_eq!(
            get(&s, "PodScheduled").last_transition_time,
            Some(t("2025-01-01T00:00:00Z"))
        );
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.2"));
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let containers = [view("a", running(), None, true)];
        let s = pod_status(
            &pod,
            &PodView {
                containers: &containers,
                ..v
            },
        );
        assert_eq!(get(&s, "Ready").status, "True");
        assert_eq!(
            get(&s, "Ready").last_transition_time,
            Some(t("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_signal_is_reported_as_128_plus_its_number() {
        let term = Termination::from_exit(None, Some(15), None, t("2026-01-01T00:00:00Z"), None);
        assert_eq!((term.exit_code, term.reason.as_str()), (143, "Error"));
    }
}
