//! The rendered nftables table for the fixture of every feature, compared with a golden
//! file (`UPDATE_GOLDEN=1` rewrites it), the transactions derived from it, and packets
//! traced through it.

use podnet_agent_proxy::fixture::{self, node};
use podnet_agent_proxy::nftables::{Applied, NftBackend, transaction};
use podnet_agent_proxy::{NodePortAddressConfig, Plan, ServiceState};
use podnet_k8s_model::AddressFamily;
use podnet_nft::render::script;
use podnet_nft::types::Family;
use podnet_test_util::golden;

fn plan() -> Plan {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    plan.update(&state, &node(), &dirty);
    plan
}

#[test]
fn nftables_every_feature_matches_golden() {
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let d = backend.desired(&plan(), AddressFamily::V4);
    golden("nftables-every-feature.nft", &d.table().to_string());
}

#[test]
fn nftables_full_transaction_matches_golden() {
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let d = backend.desired(&plan(), AddressFamily::V4);
    let tx = script(&transaction::full(d, &Default::default()));
    golden("nftables-every-feature.tx", &tx);
    assert!(!tx.contains("vmap {"), "no anonymous verdict maps");
}

#[test]
fn nftables_partial_transaction_for_one_endpoint_gone_matches_golden() {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    plan.update(&state, &node(), &dirty);
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let before = backend.desired(&plan, AddressFamily::V4);

    // ns1/sticky loses 10.244.2.2; ns1/empty gets its first endpoint.
    let sticky = podnet_k8s_model::ServiceName::new("ns1", "sticky");
    let mut s = state.slices_of(&sticky).next().unwrap().clone();
    s.endpoints.pop();
    state.upsert_slice(s);
    state.upsert_slice(fixture::slice(
        "ns1",
        "empty",
        1,
        vec![fixture::endpoint("10.244.1.12", fixture::NODE)],
        |_| {},
    ));
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node(), &dirty);
    let after = backend.desired(&plan, AddressFamily::V4);
    let keys = changes.iter().map(|c| &c.key).collect();
    let tx = script(&transaction::partial(
        Family::Ip,
        &Applied::of(&before).ports,
        &after.ports,
        &keys,
    ));
    golden("nftables-partial-one-endpoint.tx", &tx);
    // Nothing is deleted before what points at it is gone.
    let pos = |needle: &str| {
        tx.find(needle)
            .unwrap_or_else(|| panic!("{needle} in\n{tx}"))
    };
    assert!(
        pos("delete element ip kube-proxy no-endpoint-services")
            < pos("add element ip kube-proxy service-ips")
    );
    assert!(
        pos("flush chain ip kube-proxy endpoint-EMBAR357")
            < pos("delete chain ip kube-proxy endpoint-EMBAR357")
    );
    assert!(
        pos("add rule ip kube-proxy service-LDSSDLKY")
            < pos("delete chain ip kube-proxy endpoint-EMBAR357")
    );
    assert!(
        pos("delete chain ip kube-proxy endpoint-EMBAR357")
            < pos("delete set ip kube-proxy affinity-EMBAR357")
    );
    assert!(
        !tx.contains("ns1/cluster"),
        "untouched Services are not in the transaction"
    );
}
