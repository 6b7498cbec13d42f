//! One service port: its rules in the shared chains and its own chains (KUBE-SVC, KUBE-SVL,
//! KUBE-EXT, KUBE-FW, KUBE-SEP), decided by the plan exactly as kube-proxy's iptables proxier
//! decides them.

use std::net::IpAddr;

use podnet_agent_proxy::{PortPlan, Target};
use podnet_k8s_model::{Endpoint, TrafficPolicy};

use super::Context;
use crate::names::{PortChains, endpoint_chain};
use crate::render::top::{MARK_MASQ, Shared};

/// What one service port renders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRules {
    /// Its rules in the shared chains.
    pub shared: Shared,
    /// Its own nat chains, in kube-proxy's order, each with its rules.
    pub chains: Vec<(String, Vec<String>)>,
}

/// Renders `plan` (which must be of `ctx`'s family).
pub fn render_port(plan: &PortPlan, ctx: &Context) -> PortRules {
    let r = PortRender::new(plan, ctx);
    let mut out = PortRules::default();
    r.capture(&mut out.shared);
    r.own_chains(&mut out.chains);
    out
}

/// The strings every rule of one port repeats, computed once.
struct PortRender<'a> {
    plan: &'a PortPlan,
    ctx: &'a Context,
    /// `ns/svc:port`.
    name: String,
    /// `-m tcp -p tcp`.
    proto: String,
    chains: PortChains,
}

impl<'a> PortRender<'a> {
    fn new(plan: &'a PortPlan, ctx: &'a Context) -> Self {
        let name = plan.key.name.to_string();
        let p = plan.protocol().as_str();
        Self {
            chains: PortChains::new(&name, p),
            proto: format!("-m {p} -p {p}"),
            name,
            plan,
            ctx,
        }
    }

    /// The chain a policy's endpoints are picked in.
    fn policy_chain(&self, policy: TrafficPolicy) -> &str {
        match policy {
            TrafficPolicy::Cluster => &self.chains.svc,
            TrafficPolicy::Local => &self.chains.svl,
        }
    }

    /// For a target without endpoints: the filter verdict and its comment.
    fn refusal(&self, target: Target) -> Option<(&'static str, String)> {
        match target {
            Target::Cluster | Target::Local => None,
            Target::Reject => Some(("REJECT", format!("\"{} has no endpoints\"", self.name))),
            Target::Drop => Some(("DROP", format!("\"{} has no local endpoints\"", self.name))),
        }
    }

    /// `-d IP --dport PORT` with the protocol match, for a destination of this port.
    fn dst(&self, ip: IpAddr, port: u16) -> String {
        format!("{} -d {} --dport {port}", self.proto, host(ip))
    }

    /// The rules that capture this port's traffic in the shared chains.
    fn capture(&self, shared: &mut Shared) {
        let plan = self.plan;
        let has_endpoints = plan.has_endpoints;
        let internal = plan.internal_target();
        let external = plan.external_target();
        let ext_chain = &self.chains.ext;
        let cluster_dst = self.dst(plan.cluster_ip, plan.port);

        match self.refusal(internal) {
            None => shared.nat_services.push(format!(
                "-m comment --comment \"{} cluster IP\" {cluster_dst} -j {}",
                self.name,
                self.policy_chain(plan.internal_policy)
            )),
            Some((verdict, comment)) => shared.filter_services.push(format!(
                "-m comment --comment {comment} {cluster_dst} -j {verdict}"
            )),
        }
        let external_refusal = self.refusal(external);

        for &ip in &plan.external_ips {
            let dst = self.dst(ip, plan.port);
            if has_endpoints {
                shared.nat_services.push(format!(
                    "-m comment --comment \"{} external IP\" {dst} -j {ext_chain}",
                    self.name
                ));
            }
            if let Some((verdict, comment)) = &external_refusal {
                shared
                    .filter_external
                    .push(format!("-m comment --comment {comment} {dst} -j {verdict}"));
            }
        }

        let uses_fw = has_endpoints && plan.uses_firewall();
        let lb_chain = if uses_fw { &self.chains.fw } else { ext_chain };
        for &ip in &plan.load_balancer_ips {
            let dst = self.dst(ip, plan.port);
            if has_endpoints {
                shared.nat_services.push(format!(
                    "-m comment --comment \"{} loadbalancer IP\" {dst} -j {lb_chain}",
                    self.name
                ));
            }
            if uses_fw {
                shared.filter_firewall.push(format!(
                    "-m comment --comment \"{} traffic not accepted by {}\" {dst} -j DROP",
                    self.name, self.chains.fw
                ));
            }
        }
        if let Some((verdict, comment)) = &external_refusal {
            for &ip in &plan.load_balancer_ips {
                shared.filter_external.push(format!(
                    "-m comment --comment {comment} {} -j {verdict}",
                    self.dst(ip, plan.port)
                ));
            }
        }

        if let Some(node_port) = plan.node_port {
            if has_endpoints {
                shared.nat_nodeports.push(format!(
                    "-m comment --comment {} {} --dport {node_port} -j {ext_chain}",
                    self.name, self.proto
                ));
            }
            if let Some((verdict, comment)) = &external_refusal {
                shared.filter_external.push(format!(
                    "-m comment --comment {comment} -m addrtype --dst-type LOCAL {} \
                     --dport {node_port} -j {verdict}",
                    self.proto
                ));
            }
        }

        if let Some(hc) = plan.health_check_node_port {
            // Accepted whether or not this node has a local endpoint: the answer says so.
            shared.filter_nodeports.push(format!(
                "-m comment --comment \"{} health check node port\" -m tcp -p tcp --dport {hc} -j ACCEPT",
                self.name
            ));
        }
    }

    /// The port's own nat chains.
    fn own_chains(&self, out: &mut Vec<(String, Vec<String>)>) {
        let plan = self.plan;
        let ctx = self.ctx;
        let mut svc = Vec::new();
        let mut svl = Vec::new();

        // Internal traffic from outside the cluster CIDR (or all of it, with
        // --masquerade-all) is masqueraded: a node may be asked to forward into the Service
        // range by a static route, and the reply must come back through it.
        if !matches!(plan.internal_target(), Target::Reject | Target::Drop) {
            let rules = match plan.internal_policy {
                TrafficPolicy::Cluster => &mut svc,
                TrafficPolicy::Local => &mut svl,
            };
            let matched = format!(
                "-m comment --comment \"{} cluster IP\" {}",
                self.name,
                self.dst(plan.cluster_ip, plan.port)
            );
            if ctx.config.masquerade_all {
                rules.push(format!("{matched} -j {MARK_MASQ}"));
            } else if let Some(cidr) = ctx.cluster_cidr {
                rules.push(format!("{matched} ! -s {cidr} -j {MARK_MASQ}"));
            }
        }

        if plan.uses_external_dispatch() {
            let mut ext = Vec::new();
            self.external_dispatch(&mut ext);
            out.push((self.chains.ext.clone(), ext));
        }
        if plan.has_endpoints && plan.uses_firewall() {
            out.push((self.chains.fw.clone(), self.firewall()));
        }
        if plan.uses_cluster_endpoints() {
            self.endpoint_pick(&plan.cluster_endpoints, &mut svc);
            out.push((self.chains.svc.clone(), svc));
        }
        if plan.uses_local_endpoints() {
            self.endpoint_pick(&plan.local_endpoints, &mut svl);
            out.push((self.chains.svl.clone(), svl));
        }
        for ep in plan.reachable_endpoints() {
            out.push(self.endpoint_chain(ep));
        }
    }

    /// KUBE-EXT-…: masquerade and the short-circuits of the Local policy, then the policy's
    /// endpoints.
    fn external_dispatch(&self, ext: &mut Vec<String>) {
        let plan = self.plan;
        let name = &self.name;
        let svc = &self.chains.svc;
        match plan.external_policy {
            // Endpoints may be on another node: masquerade so the reply comes back here.
            TrafficPolicy::Cluster => ext.push(format!(
                "-m comment --comment \"masquerade traffic for {name} external destinations\" -j {MARK_MASQ}"
            )),
            TrafficPolicy::Local => {
                // A pod reaching an external address of the Service is treated as if it had
                // gone out to the load balancer and back in: subject to no policy.
                if let (Some(cidr), true) = (self.ctx.cluster_cidr, plan.uses_cluster_endpoints()) {
                    ext.push(format!(
                        "-m comment --comment \"pod traffic for {name} external destinations\" -s {cidr} -j {svc}"
                    ));
                }
                // The node itself: its source address would be the (local) external IP, so
                // masquerade, and use every endpoint.
                ext.push(format!(
                    "-m comment --comment \"masquerade LOCAL traffic for {name} external destinations\" \
                     -m addrtype --src-type LOCAL -j {MARK_MASQ}"
                ));
                if plan.uses_cluster_endpoints() {
                    ext.push(format!(
                        "-m comment --comment \"route LOCAL traffic for {name} external destinations\" \
                         -m addrtype --src-type LOCAL -j {svc}"
                    ));
                }
            }
        }
        if matches!(plan.external_target(), Target::Cluster | Target::Local) {
            ext.push(format!("-j {}", self.policy_chain(plan.external_policy)));
        }
    }

    /// KUBE-FW-…: loadBalancerSourceRanges. What falls through is dropped by the filter
    /// table's KUBE-PROXY-FIREWALL (it was never DNATed).
    fn firewall(&self) -> Vec<String> {
        let plan = self.plan;
        let head = format!("-m comment --comment \"{} loadbalancer IP\"", self.name);
        let ext = &self.chains.ext;
        let mut fw: Vec<String> = plan
            .load_balancer_source_ranges
            .iter()
            .map(|cidr| format!("{head} -s {cidr} -j {ext}"))
            .collect();
        // A VIP-like load balancer often makes the LB IP local: the node's own requests to it
        // then come from the LB IP.
        let node_allowed = self.ctx.node_ip.is_some_and(|ip| {
            plan.load_balancer_source_ranges
                .iter()
                .any(|c| c.contains(&ip))
        });
        if node_allowed {
            fw.extend(
                plan.load_balancer_ips
                    .iter()
                    .map(|ip| format!("{head} -s {} -j {ext}", host(*ip))),
            );
        }
        fw.push(format!(
            "-m comment --comment \"other traffic to {} will be dropped by KUBE-PROXY-FIREWALL\"",
            self.name
        ));
        fw
    }

    /// The pick among `endpoints`: first the ClientIP affinity matches, then a
    /// cascade of `statistic random` rules with probabilities 1/n, 1/(n-1), …, 1 (uniform).
    fn endpoint_pick(&self, endpoints: &[Endpoint], rules: &mut Vec<String>) {
        let comment = |ep: &Endpoint| {
            if self.ctx.large_cluster {
                String::new()
            } else {
                format!("-m comment --comment \"{} -> {}\" ", self.name, ep.addr)
            }
        };
        let sep = |ep: &Endpoint| {
            endpoint_chain(
                &self.name,
                self.plan.protocol().as_str(),
                &ep.addr.to_string(),
            )
        };
        if let Some(timeout) = self.plan.affinity_timeout_secs {
            for ep in endpoints {
                let sep = sep(ep);
                rules.push(format!(
                    "{}-m recent --name {sep} --rcheck --seconds {timeout} --reap -j {sep}",
                    comment(ep)
                ));
            }
        }
        let n = endpoints.len();
        for (i, ep) in endpoints.iter().enumerate() {
            let statistic = if i + 1 < n {
                format!(
                    "-m statistic --mode random --probability {} ",
                    probability(n - i)
                )
            } else {
                String::new()
            };
            rules.push(format!("{}{statistic}-j {}", comment(ep), sep(ep)));
        }
    }

    /// KUBE-SEP-…: hairpin masquerade (an endpoint reaching itself through the Service
    /// must see the reply come from the node), the affinity record, the DNAT.
    fn endpoint_chain(&self, ep: &Endpoint) -> (String, Vec<String>) {
        let chain = endpoint_chain(
            &self.name,
            self.plan.protocol().as_str(),
            &ep.addr.to_string(),
        );
        let comment = if self.ctx.large_cluster {
            String::new()
        } else {
            format!("-m comment --comment {} ", self.name)
        };
        let affinity = if self.plan.affinity_timeout_secs.is_some() {
            format!("-m recent --name {chain} --set ")
        } else {
            String::new()
        };
        let rules = vec![
            format!("{comment}-s {} -j {MARK_MASQ}", host(ep.addr.ip())),
            format!(
                "{comment}{affinity}{} -j DNAT --to-destination {}",
                self.proto, ep.addr
            ),
        ];
        (chain, rules)
    }
}

/// `1/n` with ten decimals, as kube-proxy writes it (`%0.10f`).
fn probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

/// An address as iptables-save prints a host match: with its prefix length.
fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_written_with_ten_decimals() {
        assert_eq!(probability(3), "0.3333333333");
        assert_eq!(probability(2), "0.5000000000");
    }
}
