//! What a container's image runs in the lab, which pulls none: the lab's table of emulated
//! images (`podnet_lab_workloads::images`) and Kubernetes' command/args rules, mapped to the
//! argv the kubelet starts (built-in workloads through `podnet workload`, else a program from
//! the machine).

use std::path::Path;

use k8s_openapi::api::core::v1::Container;
use podnet_lab_workloads::{ContainerSpec, Launch, PortSpec, Protocol};

/// How a container's image is had, for the kubelet's pull step and its Pulled event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ImageUse {
    /// The image's default command is emulated (or agnhost's built in).
    Emulated,
    /// The container's own command runs from the machine.
    Command,
    /// Nothing can run: the image is not emulated and no command is given (the reason).
    Unavailable(String),
}

/// Whether the container can run and how, before anything is started.
pub(crate) fn image_use(c: &Container) -> ImageUse {
    let image = c.image.as_deref().unwrap_or("");
    let has_command = [&c.command, &c.args]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()));
    match podnet_lab_workloads::images::emulated(image) {
        Some(row)
            if !has_command
                || matches!(
                    row.emulation,
                    podnet_lab_workloads::images::Emulation::Agnhost
                        | podnet_lab_workloads::images::Emulation::PodnetGateway
                        | podnet_lab_workloads::images::Emulation::Podnet
                ) =>
        {
            ImageUse::Emulated
        }
        _ if has_command => ImageUse::Command,
        _ => ImageUse::Unavailable(
            podnet_lab_workloads::Error::ImageNotEmulated {
                image: image.to_owned(),
            }
            .to_string(),
        ),
    }
}

/// What an emulated image runs, for the kubelet's Pulled event: `podnet workload nginx`,
/// `sh from the machine`.
pub(crate) fn what_runs(argv: &[String], podnet_exe: &Path) -> String {
    match argv {
        [exe, workload, name, ..] if Path::new(exe) == podnet_exe && workload == "workload" => {
            format!("podnet workload {name}")
        }
        [exe, command, ..] if Path::new(exe) == podnet_exe => format!("podnet {command}"),
        [exe, ..] => format!("{exe} from the machine"),
        [] => String::new(),
    }
}

/// The argv of container `c` with its expanded `command` and `args`; a built-in workload
/// gets `RUST_LOG=info` added to `env` (its log lines are what the image prints).
pub(crate) fn argv(
    c: &Container,
    command: &[String],
    args: &[String],
    podnet_exe: &Path,
    env: &mut Vec<(String, String)>,
) -> Result<Vec<String>, String> {
    let ports: Vec<PortSpec> = c
        .ports
        .iter()
        .flatten()
        .map(|p| PortSpec {
            port: p.container_port as u16,
            protocol: match p.protocol.as_deref() {
                Some("UDP") => Protocol::Udp,
                Some("SCTP") => Protocol::Sctp,
                _ => Protocol::Tcp,
            },
        })
        .collect();
    let launch = podnet_lab_workloads::launch_for(&ContainerSpec {
        image: c.image.as_deref().unwrap_or(""),
        command,
        args,
        ports: &ports,
    })
    .map_err(|e| e.to_string())?;
    Ok(match launch {
        Launch::Builtin { argv, .. } => {
            if !env.iter().any(|(k, _)| k == "RUST_LOG") {
                env.push(("RUST_LOG".into(), "info".into()));
            }
            let mut full = vec![podnet_exe.display().to_string(), "workload".into()];
            full.extend(argv);
            full
        }
        Launch::Host { argv } => argv,
        Launch::Podnet { argv } => std::iter::once(podnet_exe.display().to_string())
            .chain(argv)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn emulated_images_commands_and_unknown_images() {
        let c = container(json!({"name": "c", "image": "nginx:1.27"}));
        assert_eq!(image_use(&c), ImageUse::Emulated);
        let c = container(json!({"name": "c", "image": "nginx", "command": ["sleep", "1"]}));
        assert_eq!(image_use(&c), ImageUse::Command);
        let c = container(
            json!({"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec"]}),
        );
        assert_eq!(image_use(&c), ImageUse::Emulated);
        let c = container(json!({"name": "c", "image": "example.com/app:1"}));
        let ImageUse::Unavailable(why) = image_use(&c) else {
            panic!("runs")
        };
        assert!(
            why.contains("\"example.com/app:1\"") && why.contains("`command`"),
            "{why}"
        );
    }

    #[test]
    fn builtins_run_through_podnet_workload_with_info_logs() {
        let c = container(json!({"name": "c", "image": "kong/httpbin"}));
        let mut env = vec![];
        let run = argv(&c, &[], &[], Path::new("/usr/bin/podnet"), &mut env).unwrap();
        assert_eq!(run, ["/usr/bin/podnet", "workload", "httpbin"]);
        assert_eq!(env, [("RUST_LOG".to_owned(), "info".to_owned())]);
        let c = container(json!({"name": "c", "image": "busybox"}));
        let run = argv(&c, &[], &[], Path::new("/usr/bin/podnet"), &mut vec![]).unwrap();
        assert_eq!(run, ["sh"]);
        assert_eq!(
            what_runs(&run, Path::new("/usr/bin/podnet")),
            "sh from the machine"
        );
        let agnhost =
            ["/usr/bin/podnet", "workload", "netexec", "--http-port=80"].map(String::from);
        assert_eq!(
            what_runs(&agnhost, Path::new("/usr/bin/podnet")),
            "podnet workload netexec"
        );
    }
}
