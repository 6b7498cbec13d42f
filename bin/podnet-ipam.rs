//! `podnet-ipam`: the host-local compatible IPAM plugin (see the `podnet-cni-ipam` crate).
//! Logs go to stderr only (stdout carries the CNI result); `RUST_LOG` overrides `warn`.

fn main() -> std::process::ExitCode {
    podnet_cni_skel::init_logging();
    podnet_cni_skel::run(&podnet_cni_ipam::IpamPlugin::from_env())
}
