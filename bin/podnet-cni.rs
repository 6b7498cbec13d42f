//! `podnet-cni`: the bridge CNI plugin (see the `podnet-cni-plugin` crate).
//! Logs go to stderr only (stdout carries the CNI result); `RUST_LOG` overrides `warn`.

fn main() -> std::process::ExitCode {
    podnet_cni_skel::init_logging();
    podnet_cni_skel::run(&podnet_cni_plugin::BridgePlugin)
}
