//! How a pod's container runs in the lab, which has no images: agnhost (by any of its registry
//! names) runs its built-in sub-command, a container with a command runs that command from the
//! machine's filesystem, and a container without one runs what its image's default command
//! would, for the images in [`crate::images::IMAGES`] — others cannot run without a command
//! (the kubelet reports them as an image pull error).
//!
//! Kubernetes semantics of `command` and `args` are kept: `command` replaces the image's
//! ENTRYPOINT, `args` replaces its CMD, and a `command` without `args` drops the CMD. agnhost's
//! image has ENTRYPOINT `["/agnhost"]` and CMD `["pause"]`; the other images are taken to have
//! no ENTRYPOINT, so `args` alone are the command (busybox's and alpine's shape), except
//! curlimages/curl, whose entrypoint runs `curl ARGS` when the first arg is a flag.

use crate::args::{
    BootcampArgs, HelloAppArgs, HttpbinArgs, NodeHelloArgs, PauseArgs, PortSpec, ServeHostnameArgs,
    StaticSiteArgs, Workload,
};
use crate::images::{Emulation, emulated, tag_of};
use crate::{Error, Result};

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
    /// podnet itself (its own images): run the podnet binary with `argv`.
    Podnet { argv: Vec<String> },
}

/// Maps a container to what runs it. Errors name the container's image and what is wrong
/// (an agnhost sub-command podnet does not provide, flags agnhost would refuse, an image the
/// lab does not emulate given no command).
pub fn launch_for(spec: &ContainerSpec<'_>) -> Result<Launch> {
    let emulation = emulated(spec.image).map(|row| row.emulation);
    if emulation == Some(Emulation::Agnhost) {
        let argv = effective_argv(spec, &["/agnhost"], &["pause"]);
        return match argv.split_first() {
            Some((exe, rest)) if is_agnhost(exe) => builtin(rest.to_vec()),
            _ => Ok(Launch::Host { argv }),
        };
    }
    let podnet_entrypoint: Option<&[&str]> = match emulation {
        Some(Emulation::PodnetGateway) => Some(&["podnet", "gateway"]),
        Some(Emulation::Podnet) => Some(&["podnet"]),
        _ => None,
    };
    if let Some(entrypoint) = podnet_entrypoint {
        let argv = effective_argv(spec, entrypoint, &[]);
        return Ok(match argv.split_first() {
            Some((exe, rest)) if exe == "podnet" => Launch::Podnet {
                argv: rest.to_vec(),
            },
            _ => Launch::Host { argv },
        });
    }
    if !spec.command.is_empty() || !spec.args.is_empty() {
        let mut argv = effective_argv(spec, &[], &[]);
        if emulation == Some(Emulation::Curl)
            && spec.command.is_empty()
            && argv.first().is_some_and(|a| a.starts_with('-'))
        {
            argv.insert(0, "curl".to_owned());
        }
        return Ok(Launch::Host { argv });
    }
    let workload = match emulation {
        Some(Emulation::Pause) => Workload::Pause(PauseArgs { delay_shutdown: 0 }),
        Some(Emulation::ServeHostname) => Workload::ServeHostname(ServeHostnameArgs {
            tcp: false,
            udp: false,
            http: true,
            close: false,
            port: 9376,
        }),
        Some(Emulation::HelloApp) => Workload::HelloApp(HelloAppArgs {
            version: crate::hello_app::version_of_tag(tag_of(spec.image)),
            port: 8080,
        }),
        Some(Emulation::Bootcamp) => Workload::KubernetesBootcamp(BootcampArgs {
            version: crate::hello_app::bootcamp_version_of_tag(tag_of(spec.image)),
            port: 8080,
        }),
        Some(Emulation::NodeHello) => Workload::NodeHello(NodeHelloArgs { port: 8080 }),
        Some(Emulation::Nginx) => Workload::Nginx(StaticSiteArgs {
            port: 80,
            root: None,
        }),
        Some(Emulation::Httpd) => Workload::Httpd(StaticSiteArgs {
            port: 80,
            root: None,
        }),
        Some(Emulation::Httpbin) => Workload::Httpbin(HttpbinArgs { port: 80 }),
        Some(Emulation::Shell) => return Ok(host(&["sh"])),
        Some(Emulation::Curl) => return Ok(host(&["curl"])),
        Some(Emulation::Agnhost | Emulation::PodnetGateway | Emulation::Podnet) | None => {
            return Err(Error::ImageNotEmulated {
                image: spec.image.to_owned(),
            });
        }
    };
    let argv = workload_argv(&workload);
    Ok(Launch::Builtin { workload, argv })
}

fn host(argv: &[&str]) -> Launch {
    Launch::Host {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The `podnet workload` argv of an image's default command. hello-app reads $PORT itself,
/// so its port is left to the environment.
fn workload_argv(workload: &Workload) -> Vec<String> {
    let mut argv = vec![workload.name().to_owned()];
    match workload {
        Workload::HelloApp(a) => argv.extend(["--version".to_owned(), a.version.clone()]),
        Workload::KubernetesBootcamp(a) => argv.extend(["--version".to_owned(), a.version.clone()]),
        _ => {}
    }
    argv
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
    fn images_without_a_command_run_their_emulation() {
        let argv = |image| builtin_argv(launch(image, &[], &[], &[]).unwrap());
        assert_eq!(argv("nginx:1.27"), strings(&["nginx"]));
        assert_eq!(argv("registry.k8s.io/nginx-slim:0.24"), strings(&["nginx"]));
        assert_eq!(argv("httpd"), strings(&["httpd"]));
        assert_eq!(argv("kennethreitz/httpbin"), strings(&["httpbin"]));
        assert_eq!(
            argv("registry.k8s.io/serve_hostname"),
            strings(&["serve-hostname"])
        );
        assert_eq!(
            argv("gcr.io/google-samples/hello-app:2.0"),
            strings(&["hello-app", "--version", "2.0.0"])
        );
        assert_eq!(argv("registry.k8s.io/pause:3.10"), strings(&["pause"]));
        assert_eq!(
            argv("jocatalin/kubernetes-bootcamp:v2"),
            strings(&["kubernetes-bootcamp", "--version", "2"])
        );
        for (image, exe) in [
            ("busybox", "sh"),
            ("nicolaka/netshoot", "sh"),
            ("curlimages/curl", "curl"),
        ] {
            assert_eq!(
                launch(image, &[], &[], &[]).unwrap(),
                Launch::Host {
                    argv: strings(&[exe])
                }
            );
        }
        // Each built-in's argv parses back into the same workload.
        for image in [
            "nginx",
            "httpd",
            "kong/httpbin",
            "gcr.io/google-samples/hello-app:1.0",
            "gcr.io/google-samples/node-hello:1.0",
        ] {
            let Launch::Builtin { workload, argv } = launch(image, &[], &[], &[]).unwrap() else {
                panic!("{image}")
            };
            assert_eq!(workload.name(), argv[0], "{image}");
        }
    }

    #[test]
    fn the_podnet_image_runs_podnet_with_its_args() {
        let l = launch(
            "ghcr.io/podnet/podnet:0.1.0",
            &[],
            &["agent", "--routing", "vxlan"],
            &[],
        );
        assert_eq!(
            l.unwrap(),
            Launch::Podnet {
                argv: strings(&["agent", "--routing", "vxlan"])
            }
        );
        let l = launch("ghcr.io/podnet/podnet", &["podnet", "dns"], &[], &[]);
        assert_eq!(
            l.unwrap(),
            Launch::Podnet {
                argv: strings(&["dns"])
            }
        );
    }

    #[test]
    fn the_gateway_image_runs_podnet_gateway_with_its_args() {
        let l = launch(
            "ghcr.io/podnet/gateway:latest",
            &[],
            &["--http-port", "8080"],
            &[],
        );
        assert_eq!(
            l.unwrap(),
            Launch::Podnet {
                argv: strings(&["gateway", "--http-port", "8080"])
            }
        );
        let l = launch("ghcr.io/podnet/gateway", &["/bin/sh"], &["-c", "true"], &[]);
        assert_eq!(
            l.unwrap(),
            Launch::Host {
                argv: strings(&["/bin/sh", "-c", "true"])
            }
        );
    }

    #[test]
    fn curl_images_put_curl_before_flag_args_as_their_entrypoint_does() {
        let l = launch("curlimages/curl", &[], &["-sS", "http://web"], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["curl", "-sS", "http://web"])
            }
        );
        let l = launch("curlimages/curl:8.5.0", &[], &["sh", "-c", "true"], &[]).unwrap();
        assert_eq!(
            l,
            Launch::Host {
                argv: strings(&["sh", "-c", "true"])
            }
        );
    }

    #[test]
    fn unknown_images_without_a_command_are_refused_naming_the_image() {
        let ports = [PortSpec {
            port: 80,
            protocol: Protocol::Tcp,
        }];
        let e = launch("example.com/shop/cart:3", &[], &[], &ports).unwrap_err();
        assert!(
            matches!(e, Error::ImageNotEmulated { ref image } if image == "example.com/shop/cart:3"),
            "{e}"
        );
        assert!(e.to_string().contains("command"), "{e}");
    }
}
