//! The fuzz targets' bodies: for each input parser podnet exposes to the outside (DNS
//! datagrams, Corefiles, CNI stdin, IPAM's data dir, API request bodies and patches, kind
//! configs), one function that feeds it an input and panics on what that input must not
//! break. `fuzz/` wraps each in a cargo-fuzz target (nightly, libFuzzer); the suite runs the
//! same functions on stable over the seed corpus in `fuzz/seeds/` and generated mutations of
//! it (`tests/seeds.rs`), so a regression shows in every test run, not only in a fuzzing one.

mod api_body;
mod api_patch;
mod cni_config;
mod corefile;
mod dns_message;
mod ipam_state;
mod kind_config;

pub use api_body::api_body;
pub use api_patch::api_patch;
pub use cni_config::cni_config;
pub use corefile::corefile;
pub use dns_message::dns_message;
pub use ipam_state::ipam_state;
pub use kind_config::kind_config;

/// A target's body: one input, a panic on what it must not break.
pub type Check = fn(&[u8]);

/// Every target by its cargo-fuzz name (the name of its directory in `fuzz/seeds/`).
pub const TARGETS: &[(&str, Check)] = &[
    ("dns_message", dns_message),
    ("corefile", corefile),
    ("cni_config", cni_config),
    ("ipam_state", ipam_state),
    ("api_body", api_body),
    ("api_patch", api_patch),
    ("kind_config", kind_config),
];
