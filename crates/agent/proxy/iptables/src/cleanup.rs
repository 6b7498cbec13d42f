//! Removing everything the iptables mode programmed: for switching to another mode (the
//! nftables mode calls this when the agent starts in it) and for `--proxy-mode none`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use podnet_iptables::{Iptables, Table, Variant};

use crate::error::Result;
use crate::names::is_service_chain;
use crate::render::top::{FILTER_CHAINS, NAT_CHAINS};
use crate::render::{JumpRule, jump_rules};

/// Removes the iptables mode's jumps and chains from `netns` (`None`: the caller's own), in
/// both address families and both backends (a node may have switched backends too).
/// Idempotent; other components' rules in the same tables are left alone.
pub fn cleanup_iptables(netns: Option<&Path>) -> Result<()> {
    for variant in [Variant::Nft, Variant::Legacy] {
        for family in [podnet_iptables::Family::V4, podnet_iptables::Family::V6] {
            let ipt = Iptables::new(netns, family, variant);
            match cleanup_family(&ipt) {
                Ok(()) => {}
                // A backend or family whose tools are not installed holds nothing of ours.
                Err(crate::Error::Iptables(podnet_iptables::Error::Spawn { source, .. }))
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Removes the iptables mode from one family and backend.
pub(crate) fn cleanup_family(ipt: &Iptables) -> Result<()> {
    remove_chains(
        ipt,
        &jump_rules(),
        &FILTER_CHAINS,
        &NAT_CHAINS,
        is_service_chain,
    )
}

/// Unlinks `jumps` and flushes and deletes the chains named in `filter_chains` /
/// `nat_chains` or accepted by `also`, where they exist.
pub(crate) fn remove_chains(
    ipt: &Iptables,
    jumps: &[JumpRule],
    filter_chains: &[&str],
    nat_chains: &[&str],
    also: fn(&str) -> bool,
) -> Result<()> {
    // Look before touching: naming a table of the legacy backend creates it.
    let existing = podnet_iptables::chains_by_table(&ipt.save_all()?);
    let ours = |table: Table, top: &[&str]| -> BTreeSet<String> {
        existing
            .get(table.name())
            .into_iter()
            .flatten()
            .filter(|c| top.contains(&c.as_str()) || also(c))
            .cloned()
            .collect()
    };
    let filter = ours(Table::Filter, filter_chains);
    let nat = ours(Table::Nat, nat_chains);
    if filter.is_empty() && nat.is_empty() {
        return Ok(());
    }
    // Unlink first: a chain still jumped to cannot be deleted.
    for jump in jumps {
        let present = match jump.table {
            Table::Nat => &nat,
            _ => &filter,
        };
        if present.contains(jump.to) {
            let args: Vec<&str> = jump.args.iter().map(String::as_str).collect();
            ipt.delete_rule(jump.table, jump.from, &args)?;
        }
    }
    let mut input = String::new();
    for (table, chains) in [(Table::Filter, &filter), (Table::Nat, &nat)] {
        if chains.is_empty() {
            continue;
        }
        let _ = writeln!(input, "*{table}");
        for c in chains {
            let _ = writeln!(input, ":{c} - [0:0]");
        }
        for c in chains {
            let _ = writeln!(input, "-X {c}");
        }
        input.push_str("COMMIT\n");
    }
    ipt.restore(&input)?;
    tracing::info!(
        netns = ?ipt.netns(),
        family = ?ipt.family(),
        variant = ?ipt.variant(),
        chains = filter.len() + nat.len(),
        "removed a proxy mode's rules"
    );
    Ok(())
}
