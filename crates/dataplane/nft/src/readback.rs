//! A table read back through the `nft` executor: its structure and typed elements over
//! netlink ([`crate::netlink::NetlinkReader`]), each rule's canonical text from
//! `nft -a list table`, found by its `# handle N`.

use std::collections::BTreeMap;

use crate::dump::{ChainDump, RuleDump, TableDump};
use crate::netlink::Listing;
use crate::object::TableId;

/// The dump of table `id` from its netlink listing and nft's text listing.
pub fn table(id: &TableId, listing: Listing, text: &str) -> Result<TableDump, String> {
    let texts = rule_texts(text);
    let mut chains = BTreeMap::new();
    for (name, c) in listing.chains {
        let rules = c
            .rules
            .iter()
            .map(|r| {
                let text = texts.get(&r.handle).ok_or_else(|| {
                    format!(
                        "rule handle {} of chain {name} missing from nft's listing",
                        r.handle
                    )
                })?;
                Ok(RuleDump {
                    handle: r.handle,
                    text: text.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        chains.insert(
            name,
            ChainDump {
                base: c.base,
                rules,
            },
        );
    }
    Ok(TableDump {
        id: id.clone(),
        chains,
        sets: listing.sets,
    })
}

/// Rule lines of `nft -a list table`: `\t\t<rule> # handle N`. Counters are reduced to
/// `counter`: their packet and byte counts are state, not definition.
fn rule_texts(listing: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for line in listing.lines() {
        let Some(body) = line.strip_prefix("\t\t") else {
            continue;
        };
        let Some((rule, handle)) = body.rsplit_once(" # handle ") else {
            continue;
        };
        let Ok(handle) = handle.trim().parse::<u64>() else {
            continue;
        };
        out.insert(handle, without_counts(rule));
    }
    out
}

fn without_counts(rule: &str) -> String {
    let words: Vec<&str> = rule.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        if words[i] == "counter" && words.get(i + 1) == Some(&"packets") {
            i += 5; // counter packets N bytes M
        } else {
            i += 1;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{ListedChain, ListedRule};
    use crate::types::Family;

    /// What `nft -a list table` printed for a small table, captured from the kernel.
    const TEXT: &str = "table ip t { # handle 1\n\tset aff { # handle 18\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n\tchain in { # handle 1\n\t\ttype filter hook input priority -110; policy drop;\n\t\tct state established,related accept # handle 8\n\t\tlimit rate 10/second counter packets 3 bytes 180 log prefix \"x \" drop # handle 12\n\t}\n}\n";

    fn listing(handles: &[u64]) -> Listing {
        let rules = handles
            .iter()
            .map(|h| ListedRule {
                handle: *h,
                comment: None,
            })
            .collect();
        Listing {
            chains: BTreeMap::from([(
                "in".to_owned(),
                ListedChain {
                    handle: 1,
                    base: None,
                    rules,
                },
            )]),
            sets: BTreeMap::new(),
        }
    }

    #[test]
    fn rules_take_their_text_by_handle_without_counters() {
        let id = TableId::new(Family::Ip, "t");
        let d = table(&id, listing(&[8, 12]), TEXT).unwrap();
        let texts: Vec<&str> = d.chains["in"]
            .rules
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(
            texts,
            [
                "ct state established,related accept",
                "limit rate 10/second counter log prefix \"x \" drop"
            ]
        );
    }

    #[test]
    fn a_rule_missing_from_the_text_listing_is_an_error() {
        let id = TableId::new(Family::Ip, "t");
        let err = table(&id, listing(&[8, 9]), TEXT).unwrap_err();
        assert!(err.contains("handle 9"), "{err}");
    }
}
