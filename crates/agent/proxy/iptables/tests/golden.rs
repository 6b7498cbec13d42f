//! Pure: the fixture of every feature → the iptables mode's ruleset, compared with golden
//! files (`UPDATE_GOLDEN=1` rewrites them after an intended change; review the diff).

#[path = "support/plan.rs"]
mod support;

use podnet_agent_proxy::NodePortAddresses;
use podnet_agent_proxy::fixture::{self, ip};
use podnet_agent_proxy_iptables::IptablesBackend;
use podnet_agent_proxy_iptables::render::RenderConfig;
use podnet_k8s_model::AddressFamily;
use podnet_test_util::golden;
use support::every_feature_plan;

fn render(config: &RenderConfig) -> String {
    IptablesBackend::render(config, &fixture::node(), &every_feature_plan()).dump()
}

#[test]
fn every_feature_renders_kube_proxy_s_iptables_ruleset() {
    golden(
        "every-feature.iptables",
        &render(&RenderConfig::new(AddressFamily::V4)),
    );
}

#[test]
fn node_port_addresses_and_masquerade_all_change_only_their_rules() {
    let mut config = RenderConfig::new(AddressFamily::V4);
    config.node_port_addresses = NodePortAddresses::Only(vec![ip("172.18.0.2"), ip("127.0.0.1")]);
    config.masquerade_all = true;
    config.conntrack_tcp_liberal = true;
    golden(
        "every-feature-nodeport-addresses.iptables",
        &render(&config),
    );
}

#[test]
fn every_feature_renders_kube_proxy_s_ipvs_state() {
    use podnet_agent_proxy_iptables::ipvs::{IpvsConfig, render_ipvs};
    let config = IpvsConfig::new(AddressFamily::V4, vec![ip("172.18.0.2")]);
    let rendered = render_ipvs(&config, &fixture::node(), &every_feature_plan());
    golden("every-feature.ipvs", &rendered.dump());
}
