//! How a pod's container runs in the lab, which has no images: agnhost (by any of its registry
//! names) runs its built-in sub-command, a container with a command runs that command from the
//! host's filesystem, and a container with neither gets netexec's servers on its declared ports.
//!
//! Kubernetes semantics of `command` and `args` are kept: `command` replaces the image's
//! ENTRYPOINT, `args` replaces its CMD, and a `command` without `args` drops the CMD. agnhost's
//! image has ENTRYPOINT `["/agnhost"]` and CMD `["pause"]`.

use crate::Result;
use crate::args::{PauseArgs, PortSpec, PortsArgs, Workload};

/// Repositories the agnhost test image has been published under.
const AGNHOST_REPOSITORIES: [&str; 4] = [
    "registry.k8s.io/e2e-test-images/agnhost",
    "k8s.gcr.io/e2e-test-images/agnhost",
    "gcr.io/kubernetes-e2e-test-images/agnhost",
    "us.gcr.io/k8s-artifacts-prod/e2e-test-images/agnhost",
];

/// Repositories of the pod infra image, which only waits.
const PAUSE_REPOSITORIES: [&str; 3] = [
    "registry.k8s.io/pause",
    "k8s.gcr.io/pause",
    "gcr.io/google_containers/pause",
];

/// The parts of a container spec that decide what runs.
#[derive(Debug, Clone, Copy)]
pub struct ContainerSpec<'a> {
    pub image: &'a str,
    pub command: &'a [String],
    pub args: &'a [String],
    pub ports: &'a [PortSpec],
}

/// What to start for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A built-in workload: run `podnet workload` with `argv`, which `workload` is parsed from.
    Builtin {
        workload: Workload,
        argv: Vec<String>,
    },
    /// A program from the host's filesystem: `argv[0]` is looked up in PATH as a runtime would.
    Host { argv: Vec<String> },
}

/// Maps a container to what runs it. Errors name the container's image and what is wrong
/// (an agnhost sub-command podnet does not provide, flags agnhost would refuse).
pub fn launch_for(spec: &ContainerSpec<'_>) -> Result<Launch> {
    let repository = repository_of(spec.image);
    if AGNHOST_REPOSITORIES.contains(&repository) {
        let argv = effective_argv(spec, &["/agnhost"], &["pause"]);
        return match argv.split_first() {
            Some((exe, rest)) if is_agnhost(exe) => builtin(rest.to_vec()),
            _ => Ok(Launch::Host { argv }),
        };
    }
    if !spec.command.is_empty() || !spec.args.is_empty() {
        // Images other than agnhost are not known: their ENTRYPOINT is taken to be empty, so
        // `args` alone is the command, as for busybox-like images.
        return Ok(Launch::Host {
            argv: effective_argv(spec, &[], &[]),
        });
    }
    if PAUSE_REPOSITORIES.contains(&repository) || spec.ports.is_empty() {
        return Ok(Launch::Builtin {
            workload: Workload::Pause(PauseArgs { delay_shutdown: 0 }),
            argv: vec!["pause".to_owned()],
        });
    }
    let mut argv = vec!["ports".to_owned()];
    argv.extend(spec.ports.iter().map(PortSpec::to_string));
    Ok(Launch::Builtin {
        workload: Workload::Ports(PortsArgs {
            ports: spec.ports.to_vec(),
        }),
        argv,
    })
}

fn builtin(argv: Vec<String>) -> Result<Launch> {
    let workload = Workload::from_agnhost_args(&argv)?;
    Ok(Launch::Builtin { workload, argv })
}

/// ENTRYPOINT + CMD after the container's overrides.
fn effective_argv(spec: &ContainerSpec<'_>, entrypoint: &[&str], cmd: &[&str]) -> Vec<String> {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut argv = if spec.command.is_empty() {
        owned(entrypoint)
    } else {
        spec.command.to_vec()
    };
    if !spec.args.is_empty() {
        argv.extend_from_slice(spec.args);
    } else if spec.command.is_empty() {
        argv.extend(owned(cmd));
    }
    argv
}

/// `/agnhost`, `agnhost` or the image's `agnhost-2` alias (used by entrypoint tests).
fn is_agnhost(exe: &str) -> bool {
    let base = exe.rsplit('/').next().unwrap_or(exe);
    base == "agnhost" || base == "agnhost-2"
}

/// The image name without its tag or digest: `registry.k8s.io/e2e-test-images/agnhost:2.53`
/// → `registry.k8s.io/e2e-test-images/agnhost`.
fn repository_of(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    match image.rfind(':') {
        // A colon after the last slash starts a tag; one before it is a registry's port.
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::args::Protocol;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn launch(image: &str, command: &[&str], args: &[&str], ports: &[PortSpec]) -> Result<Launch> {
        let (command, args) = (strings(command), strings(args));
        launch_for(&ContainerSpec {
            image,
            command: &command,
            args: &args,
            ports,
        })
    }

    fn builtin_argv(l: Launch) -> Vec<String> {
        match l {
            Launch::Builtin { argv, .. } => argv,
            other => panic!("not built in: {other:?}"),
        }
    }

    #[test]
    fn agnhost_args_run_the_builtin_under_every_registry_name() {
        for image in [
            "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "k8s.gcr.io/e2e-test-images/agnhost:2.39",
            "gcr.io/kubernetes-e2e-test-images/agnhost:2.8",
            "registry.k8s.io/e2e-test-images/agnhost@sha256:0123abcd",
            "registry.k8s.io/e2e-test-images/agnhost",
        ] {
            let l = launch(
                image,
                &[],
                &["netexec", "--http-port=8080", "--udp-port=8081"],
                &[],
            );
            let Ok(Launch::Builtin {
                workload: Workload::Netexec(a),
                argv,
            }) = l
            else {
                panic!("{image}: {l:?}")
            };
            assert_eq!((a.http_port, a.udp_port), (8080, 8081));
            assert_eq!(
                argv,
                strings(&["netexec", "--http-port=8080", "--udp-port=8081"])
            );
        }
    }

    #[test]
    fn agnhost_entrypoint_and_cmd_as_kubernetes_combines_them() {
        let image = "registry.k8s.io/e2e-test-images/agnhost:2.53";
        // Neither: ENTRYPOINT + CMD = /agnhost pause.
        assert_eq!(
            builtin_argv(launch(image, &[], &[], &[]).unwrap()),
            strings(&["pause"])
        );
        // command names agnhost itself.
        let l = launch(
            image,
            &["/agnhost", "serve-hostname"],
            &["--port", "80"],
            &[],
        )
        .unwrap();
        assert_eq!(
            builtin_argv(l),
            strings(&["serve-hostname", "--port", "80"])
        );
        let l = launch(
            image,
            &["agnhost-2", "connect", "h:80", "--timeout=1s"],
            &[],
            &[],
        );
        assert_eq!(builtin_argv(l.unwrap())[0], "connect");
        // A shell command in the agnhost image runs from the host.
        let l = launch(image, &["/bin/sh", "-c", "echo hi"], &[], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["/bin/sh", "-c", "echo hi"])
            }
        );
    }

    #[test]
    fn agnhost_sub_commands_podnet_lacks_are_errors() {
        let image = "registry.k8s.io/e2e-test-images/agnhost:2.53";
        let e = launch(image, &[], &["porter"], &[]).unwrap_err();
        assert!(
            matches!(e, Error::UnknownSubcommand(ref s) if s == "porter"),
            "{e}"
        );
        let e = launch(image, &[], &["netexec", "--http-port=abc"], &[]).unwrap_err();
        assert!(matches!(e, Error::Args { .. }), "{e}");
    }

    #[test]
    fn other_images_run_their_command_from_the_host() {
        let l = launch("busybox:1.36", &["sleep"], &["3600"], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["sleep", "3600"])
            }
        );
        let l = launch("busybox", &[], &["sh", "-c", "true"], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["sh", "-c", "true"])
            }
        );
        // A registry with a port is not mistaken for a tag.
        let l = launch("localhost:5000/agnhost", &["true"], &[], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["true"])
            }
        );
    }

    #[test]
    fn imageless_servers_get_netexec_on_each_declared_port() {
        let ports = [
            PortSpec {
                port: 80,
                protocol: Protocol::Tcp,
            },
            PortSpec {
                port: 53,
                protocol: Protocol::Udp,
            },
        ];
        let l = launch("nginx:1.27", &[], &[], &ports).unwrap();
        assert_eq!(builtin_argv(l), strings(&["ports", "80/tcp", "53/udp"]));
        let l = launch("httpbin", &[], &[], &[]).unwrap();
        assert_eq!(builtin_argv(l), strings(&["pause"]));
        let l = launch("registry.k8s.io/pause:3.10", &[], &[], &ports).unwrap();
        assert_eq!(builtin_argv(l), strings(&["pause"]));
    }

    #[test]
    fn repository_drops_tag_and_digest_only() {
        assert_eq!(repository_of("a/b:1"), "a/b");
        assert_eq!(repository_of("host:5000/a/b"), "host:5000/a/b");
        assert_eq!(repository_of("host:5000/a/b:2@sha256:x"), "host:5000/a/b");
    }
}
