//! Names of the policy table's chains and sets: readable (`np/x/deny-all/ingress`,
//! `pod/x/a/egress`) so live state maps back to the objects, within nftables' 256 bytes.

use crate::model::{Direction, ObjectRef};

/// nftables allows 256 bytes; the longest suffix (`/ingress/NNNN/named`) needs under 24.
const BASE_MAX: usize = 200;

/// `np/NS/NAME/DIR`: one policy's rules of one direction.
pub fn policy_chain(policy: &ObjectRef, direction: Direction) -> String {
    format!("{}/{direction}", base("np", policy))
}

/// `pod/NS/NAME/DIR`: the policies isolating one pod in one direction, then drop.
pub fn pod_chain(pod: &ObjectRef, direction: Direction) -> String {
    format!("{}/{direction}", base("pod", pod))
}

/// `np/NS/NAME/DIR/RULE/KIND`: a set of one rule (`pods`, `cidrs`, `named`).
pub fn rule_set(policy: &ObjectRef, direction: Direction, rule: usize, kind: &str) -> String {
    chain_set(&policy_chain(policy, direction), rule, kind)
}

/// `CHAIN/RULE/KIND`: a set of rule `rule` of the policy chain `chain`.
pub fn chain_set(chain: &str, rule: usize, kind: &str) -> String {
    format!("{chain}/{rule}/{kind}")
}

/// `cnp/NAME/DIR`: one ClusterNetworkPolicy's rules of one direction.
pub fn cluster_policy_chain(name: &str, direction: Direction) -> String {
    format!("{}/{direction}", base("cnp", name))
}

/// `pod/NS/NAME/DIR/np`: a pod's tiers after Admin (where an Admin Pass goes).
pub fn pod_after_admin_chain(pod: &ObjectRef, direction: Direction) -> String {
    format!("{}/np", pod_chain(pod, direction))
}

/// `KIND/NAME` (a NAME of `NS/NAME` for namespaced objects), or for names too long a prefix
/// of it and a hash of the whole.
fn base(kind: &str, obj: impl std::fmt::Display) -> String {
    let full = format!("{kind}/{obj}");
    if full.len() <= BASE_MAX {
        return full;
    }
    let mut cut = BASE_MAX - 17;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{:016x}", &full[..cut], fnv1a(&full))
}

/// FNV-1a, 64 bits: stable across builds (names outlive the agent that wrote them).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_the_objects_and_stay_within_the_limit() {
        let p = ObjectRef::new("x", "deny-all");
        assert_eq!(
            policy_chain(&p, Direction::Ingress),
            "np/x/deny-all/ingress"
        );
        assert_eq!(
            rule_set(&p, Direction::Egress, 2, "pods"),
            "np/x/deny-all/egress/2/pods"
        );
        let long = ObjectRef::new(&"n".repeat(63), &"p".repeat(253));
        let a = rule_set(&long, Direction::Ingress, 9999, "named");
        assert!(a.len() < 256, "{}", a.len());
        let other = ObjectRef::new(&"n".repeat(63), &format!("{}q", "p".repeat(252)));
        assert_ne!(
            policy_chain(&long, Direction::Ingress),
            policy_chain(&other, Direction::Ingress)
        );
    }
}
