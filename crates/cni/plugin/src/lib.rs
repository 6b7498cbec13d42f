//! podnet-cni: the bridge CNI plugin (veth pair, node bridge, delegated IPAM).
//!
//! Configuration keys and results follow the reference `bridge` plugin (`bridge`,
//! `isGateway`, `isDefaultGateway`, `forceAddress`, `ipMasq`, `mtu`, `hairpinMode`,
//! `promiscMode`, `ipam`, `dns`), for every CNI version from 0.3.0 to 1.1.0.
//!
//! How it differs inside: the pod end of the veth is created directly in the pod's
//! namespace under its final name, the host end's name is derived from the attachment
//! (so DEL and GC need no state and no pod namespace), IPv6 addresses skip DAD instead of
//! being waited for, IPAM runs while the links are being made, and masquerading lives in
//! nftables, in a table podnet owns.
//!
//! - [`config`]: the plugin's keys.
//! - `add`, `check`, `del`: the verbs; `masq`: the nftables side of ipMasq.

mod add;
mod check;
pub mod config;
mod del;
mod dns;
mod ipam;
mod kernel;
pub mod masq;
pub mod names;

use podnet_cni_skel::{Invocation, Plugin};
use podnet_cni_spec::{CniError, CniResult};

pub use check::STATE_MISMATCH;

/// The bridge plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct BridgePlugin;

impl Plugin for BridgePlugin {
    fn add(&self, inv: &Invocation) -> Result<CniResult, CniError> {
        add::add(inv)
    }

    fn check(&self, inv: &Invocation) -> Result<(), CniError> {
        check::check(inv)
    }

    fn del(&self, inv: &Invocation) -> Result<(), CniError> {
        del::del(inv)
    }

    /// Ready when the IPAM plugin is (its code 50 comes through); a delegate that
    /// predates STATUS is taken as ready.
    fn status(&self, inv: &Invocation) -> Result<(), CniError> {
        config::BridgeConf::decode(&inv.stdin)?;
        match ipam::Ipam::of(inv)? {
            Some(ipam) => ipam.call_if_1_1("STATUS"),
            None => Ok(()),
        }
    }

    fn gc(&self, inv: &Invocation) -> Result<(), CniError> {
        del::gc(inv)
    }
}
