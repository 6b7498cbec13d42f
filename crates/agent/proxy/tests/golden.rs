//! The rendered nftables table for the fixture of every feature, compared with a golden
//! file (`UPDATE_GOLDEN=1` rewrites it), and the transactions derived from it.

use std::path::PathBuf;

use podnet_agent_proxy::fixture::{self, node};
use podnet_agent_proxy::nftables::{NftBackend, transaction};
use podnet_agent_proxy::{NodePortAddressConfig, Plan, ServiceState};
use podnet_k8s_model::AddressFamily;

fn plan() -> Plan {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    plan.update(&state, &node(), &dirty);
    plan
}

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        got,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

#[test]
fn nftables_every_feature_matches_golden() {
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let d = backend.desired(&plan(), AddressFamily::V4);
    golden("nftables-every-feature.nft", &d.dump());
}

#[test]
fn nftables_full_transaction_matches_golden() {
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let d = backend.desired(&plan(), AddressFamily::V4);
    let tx = transaction::full(&d, &Default::default());
    golden("nftables-every-feature.tx", &tx);
    assert!(!tx.contains("vmap {"), "no anonymous verdict maps");
}
