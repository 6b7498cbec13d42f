//! The images the lab emulates, in one table: no image is ever pulled, so a container
//! without a `command` runs what its image would, for the images the Kubernetes
//! documentation, its tutorials and its e2e suites use. docs/images.md shows the same table
//! (a test keeps the two in step).

/// How the lab runs an image's default command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulation {
    /// agnhost's sub-commands, built in (ENTRYPOINT `/agnhost`, CMD `pause`).
    Agnhost,
    /// Waits for a signal: the pod infra image, and agents with nothing to talk to here.
    Pause,
    /// `podnet workload serve-hostname` on 9376.
    ServeHostname,
    /// `podnet workload hello-app` on $PORT (8080), the tag's version.
    HelloApp,
    /// `podnet workload kubernetes-bootcamp` on 8080, the tag's version.
    Bootcamp,
    /// `podnet workload node-hello` on 8080.
    NodeHello,
    /// `podnet workload nginx` on 80.
    Nginx,
    /// `podnet workload httpd` on 80.
    Httpd,
    /// `podnet workload httpbin` on 80.
    Httpbin,
    /// The machine's `sh` (and its tools on PATH); `args` alone are the command.
    Shell,
    /// The machine's `curl` (the image's entrypoint runs `curl ARGS` when ARGS start with
    /// a flag).
    Curl,
    /// podnet's own gateway image: ENTRYPOINT `podnet gateway`, the container's `args`
    /// after it.
    PodnetGateway,
    /// podnet's own image (deploy/: the agent, the CNI installer, the DNS): ENTRYPOINT
    /// `podnet`, the container's `args` after it.
    Podnet,
}

/// One row of the table.
#[derive(Debug)]
pub struct EmulatedImage {
    /// Repositories (no tag) that get this emulation; Docker Hub names without
    /// `docker.io/library/`.
    pub repositories: &'static [&'static str],
    pub emulation: Emulation,
}

/// Every emulated image.
pub const IMAGES: &[EmulatedImage] = &[
    EmulatedImage {
        repositories: &[
            "registry.k8s.io/e2e-test-images/agnhost",
            "k8s.gcr.io/e2e-test-images/agnhost",
            "gcr.io/kubernetes-e2e-test-images/agnhost",
            "us.gcr.io/k8s-artifacts-prod/e2e-test-images/agnhost",
        ],
        emulation: Emulation::Agnhost,
    },
    EmulatedImage {
        repositories: &[
            "registry.k8s.io/pause",
            "k8s.gcr.io/pause",
            "gcr.io/google_containers/pause",
            "quay.io/fluentd_elasticsearch/fluentd",
        ],
        emulation: Emulation::Pause,
    },
    EmulatedImage {
        repositories: &[
            "registry.k8s.io/serve_hostname",
            "k8s.gcr.io/serve_hostname",
            "gcr.io/google_containers/serve_hostname",
        ],
        emulation: Emulation::ServeHostname,
    },
    EmulatedImage {
        repositories: &[
            "gcr.io/google-samples/hello-app",
            "us-docker.pkg.dev/google-samples/containers/gke/hello-app",
        ],
        emulation: Emulation::HelloApp,
    },
    EmulatedImage {
        repositories: &[
            "gcr.io/google-samples/kubernetes-bootcamp",
            "jocatalin/kubernetes-bootcamp",
        ],
        emulation: Emulation::Bootcamp,
    },
    EmulatedImage {
        repositories: &["gcr.io/google-samples/node-hello"],
        emulation: Emulation::NodeHello,
    },
    EmulatedImage {
        repositories: &[
            "nginx",
            "registry.k8s.io/nginx-slim",
            "k8s.gcr.io/nginx-slim",
            "registry.k8s.io/e2e-test-images/nginx",
        ],
        emulation: Emulation::Nginx,
    },
    EmulatedImage {
        repositories: &["httpd", "registry.k8s.io/e2e-test-images/httpd"],
        emulation: Emulation::Httpd,
    },
    EmulatedImage {
        repositories: &["kennethreitz/httpbin", "kong/httpbin"],
        emulation: Emulation::Httpbin,
    },
    EmulatedImage {
        repositories: &[
            "busybox",
            "alpine",
            "debian",
            "ubuntu",
            "fedora",
            "nicolaka/netshoot",
            "radial/busyboxplus",
            "infoblox/dnstools",
            "registry.k8s.io/busybox",
            "k8s.gcr.io/busybox",
            "registry.k8s.io/e2e-test-images/busybox",
            "registry.k8s.io/e2e-test-images/jessie-dnsutils",
            "gcr.io/kubernetes-e2e-test-images/dnsutils",
        ],
        emulation: Emulation::Shell,
    },
    EmulatedImage {
        repositories: &["curlimages/curl"],
        emulation: Emulation::Curl,
    },
    EmulatedImage {
        repositories: &["ghcr.io/podnet/gateway"],
        emulation: Emulation::PodnetGateway,
    },
    EmulatedImage {
        repositories: &["ghcr.io/podnet/podnet"],
        emulation: Emulation::Podnet,
    },
];

/// The row of an image reference (`nginx:1.27`, `docker.io/library/nginx@sha256:…`), if the
/// lab emulates it.
pub fn emulated(image: &str) -> Option<&'static EmulatedImage> {
    let repository = normalized_repository(image);
    IMAGES
        .iter()
        .find(|row| row.repositories.contains(&repository))
}

/// The image name without its tag or digest, and Docker Hub's implicit registry and
/// `library/` dropped: `docker.io/library/nginx:1.27` → `nginx`.
pub fn normalized_repository(image: &str) -> &str {
    let repository = repository_of(image);
    let repository = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|p| repository.strip_prefix(p))
        .unwrap_or(repository);
    repository.strip_prefix("library/").unwrap_or(repository)
}

/// The tag of an image reference, if it has one: `hello-app:2.0` → `2.0`.
pub fn tag_of(image: &str) -> Option<&str> {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let repository = repository_of(image);
    image.get(repository.len() + 1..)
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

    #[test]
    fn docker_hub_spellings_and_tags_find_the_same_row() {
        for image in [
            "nginx",
            "nginx:1.27",
            "docker.io/nginx",
            "docker.io/library/nginx:1.27@sha256:00",
        ] {
            assert_eq!(
                emulated(image).unwrap().emulation,
                Emulation::Nginx,
                "{image}"
            );
        }
        assert_eq!(
            emulated("kong/httpbin:latest").unwrap().emulation,
            Emulation::Httpbin
        );
        assert!(emulated("myregistry:5000/nginx").is_none());
        assert!(emulated("perl:5.34.0").is_none());
    }

    #[test]
    fn tags_and_repositories_are_cut_where_docker_cuts_them() {
        assert_eq!(tag_of("gcr.io/google-samples/hello-app:2.0"), Some("2.0"));
        assert_eq!(tag_of("host:5000/a/b"), None);
        assert_eq!(tag_of("a@sha256:x"), None);
        assert_eq!(repository_of("a/b:1"), "a/b");
        assert_eq!(repository_of("host:5000/a/b"), "host:5000/a/b");
        assert_eq!(repository_of("host:5000/a/b:2@sha256:x"), "host:5000/a/b");
    }

    #[test]
    fn the_docs_table_lists_every_emulated_repository() {
        let docs = include_str!("../../../../docs/images.md");
        for row in IMAGES {
            for repository in row.repositories {
                let listed = [format!("`{repository}`"), format!("`{repository}:<v>`")];
                assert!(
                    listed.iter().any(|l| docs.contains(l.as_str())),
                    "docs/images.md does not list {repository}"
                );
            }
        }
    }
}
