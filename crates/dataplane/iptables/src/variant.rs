//! Which of the two xtables backends the `iptables` tools talk to.

use std::path::Path;

use crate::Result;
use crate::exec::Place;

/// The two kernel backends behind the same `iptables` syntax.
///
/// - [`Variant::Nft`] (`iptables-nft`, the default of Debian ≥ 11 and of kube-proxy's
///   image on such hosts): rules become nf_tables objects in tables named `nat`, `filter` of
///   family `ip`/`ip6`; `iptables-nft-restore` commits them in one nf_tables transaction.
/// - [`Variant::Legacy`] (`iptables-legacy`): the old x_tables blobs, replaced per table.
///
/// Both may hold rules at once and both are evaluated by the kernel, so a node must use the
/// one everybody else on it uses. podnet decides as kube-proxy's image does (its
/// iptables-wrapper): [`Variant::detect`] picks the backend where the kubelet left its marker
/// chains, else the one with more rules, and **nf_tables when neither has any** — which is
/// what every fresh namespace on this machine (Debian 12) gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    Nft,
    Legacy,
}

/// Chains the kubelet creates in the backend it uses (`KUBE-IPTABLES-HINT` in mangle exists
/// only to say which one that is).
const KUBELET_MARKERS: [&str; 2] = ["KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"];

// === impl Variant ===

impl Variant {
    /// The prefix of this backend's tools: `iptables-nft`, `ip6tables-legacy`, …
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Nft => "nft",
            Self::Legacy => "legacy",
        }
    }

    /// The backend the rest of the node uses, judged from what is already in the kernel of
    /// `netns` (see the type's documentation). Only reads (`*-save`), never creates a table.
    pub fn detect(netns: Option<&Path>) -> Result<Self> {
        let place = Place::new(netns);
        let nft = Census::take(&place, Self::Nft)?;
        let legacy = Census::take(&place, Self::Legacy)?;
        let variant = Self::choose(&nft, &legacy);
        tracing::debug!(
            netns = %place.label(),
            ?variant,
            nft_rules = nft.rules,
            legacy_rules = legacy.rules,
            "detected the iptables backend"
        );
        Ok(variant)
    }

    fn choose(nft: &Census, legacy: &Census) -> Self {
        match (nft.kubelet_markers, legacy.kubelet_markers) {
            (false, true) => Self::Legacy,
            (true, false) => Self::Nft,
            _ if legacy.rules > nft.rules => Self::Legacy,
            _ => Self::Nft,
        }
    }
}

/// What one backend holds, as far as the choice cares.
#[derive(Debug, Default)]
struct Census {
    rules: usize,
    kubelet_markers: bool,
}

// === impl Census ===

impl Census {
    fn take(place: &Place, variant: Variant) -> Result<Self> {
        // iptables-save only lists tables that exist; a missing tool (no legacy support
        // installed) counts as an empty backend.
        let program = format!("iptables-{}-save", variant.suffix());
        let ran = match place.run(&program, &[], b"") {
            Ok(ran) => ran,
            Err(crate::Error::Spawn { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Self::default());
            }
            Err(e) => return Err(e),
        };
        Ok(Self::of(&ran.stdout))
    }

    fn of(saved: &str) -> Self {
        Self {
            rules: saved.lines().filter(|l| l.starts_with("-A ")).count(),
            kubelet_markers: saved.lines().any(|l| {
                KUBELET_MARKERS
                    .iter()
                    .any(|m| l.starts_with(&format!(":{m} ")))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(saved: &str) -> Census {
        Census::of(saved)
    }

    #[test]
    fn empty_backends_mean_nf_tables() {
        assert_eq!(Variant::choose(&census(""), &census("")), Variant::Nft);
    }

    #[test]
    fn the_kubelet_s_marker_chain_decides_over_rule_counts() {
        let legacy = census("*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n");
        let nft = census("*filter\n-A INPUT -j ACCEPT\n-A OUTPUT -j ACCEPT\nCOMMIT\n");
        assert_eq!(Variant::choose(&nft, &legacy), Variant::Legacy);
        assert_eq!(Variant::choose(&legacy, &nft), Variant::Nft);
    }

    #[test]
    fn without_markers_the_backend_with_more_rules_wins() {
        let some = census("*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n");
        assert_eq!(Variant::choose(&census(""), &some), Variant::Legacy);
        assert_eq!(Variant::choose(&some, &census("")), Variant::Nft);
        assert_eq!(Variant::choose(&some, &some), Variant::Nft);
    }
}
