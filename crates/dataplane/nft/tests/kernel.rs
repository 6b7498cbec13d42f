//! Against the real kernel, each case in a namespace of its own: the `nft -f` executor must
//! give what the fake gives, step by step, outcome and table read back — so the fake cannot
//! drift from the kernel.

use podnet_nft::fixture::battery;
use podnet_nft::{Fake, Nft};
use podnet_test_util::Netns;

#[test]
fn kernel_applies_atomically_inside_the_netns() {
    let ns = Netns::new("nft");
    let nft = Nft::new(Some(ns.path()));
    assert_eq!(nft.list_table("inet", "podnet-t").unwrap(), None);
    nft.apply(
        "add table inet podnet-t\n\
         add chain inet podnet-t post { type nat hook postrouting priority srcnat; policy accept; }\n\
         add rule inet podnet-t post ip saddr 10.1.0.2 masquerade\n",
    )
    .unwrap();
    let listed = nft.list_table("inet", "podnet-t").unwrap().unwrap();
    assert!(listed.contains("ip saddr 10.1.0.2 masquerade"), "{listed}");
    // The namespace's own view agrees, and nothing leaked into ours.
    assert!(ns.exec(&["nft", "list", "ruleset"]).contains("podnet-t"));

    // A bad line applies nothing, and the error says why.
    let err = nft
        .apply(
            "add rule inet podnet-t post ip saddr 10.1.0.3 masquerade\n\
             add rule inet podnet-t nosuchchain accept\n",
        )
        .unwrap_err();
    assert!(err.to_string().contains("nosuchchain"), "{err}");
    let listed = nft.list_table("inet", "podnet-t").unwrap().unwrap();
    assert!(!listed.contains("10.1.0.3"), "{listed}");
    nft.check("delete table inet podnet-t\n").unwrap();
    assert!(nft.list_table("inet", "podnet-t").unwrap().is_some());
}

#[test]
fn kernel_battery_agrees_with_the_fake() {
    battery_against_the_fake(|ns| Box::new(Nft::new(Some(ns.path()))));
}

/// The same battery through the netlink executor: the same outcomes (refusals included,
/// mapped from the kernel's errno) and the same tables read back.
#[test]
fn kernel_battery_through_netlink_agrees_with_the_fake() {
    battery_against_the_fake(|ns| Box::new(podnet_nft::NetlinkExecutor::new(Some(ns.path()))));
}

fn battery_against_the_fake(executor: impl Fn(&Netns) -> Box<dyn podnet_nft::Executor>) {
    let mut failures = Vec::new();
    for case in battery::cases() {
        let ns = Netns::new("nft-bat");
        let mut kernel = executor(&ns);
        let mut fake = Fake::new();
        let got = battery::run(&case, kernel.as_mut());
        let want = battery::run(&case, &mut fake);
        match (got, want) {
            (Ok(k), Ok(f)) => {
                for (i, (k, f)) in k.iter().zip(&f).enumerate() {
                    if k != f {
                        failures.push(format!(
                            "{} step {i}: the kernel and the fake differ\nkernel {:?}:\n{}\nfake {:?}:\n{}",
                            case.name,
                            k.outcome,
                            k.dump.as_ref().map(ToString::to_string).unwrap_or_default(),
                            f.outcome,
                            f.dump.as_ref().map(ToString::to_string).unwrap_or_default(),
                        ));
                    }
                }
            }
            (k, f) => failures.push(format!(
                "{}: kernel: {:?}\n  fake: {:?}",
                case.name,
                k.err(),
                f.err()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The netlink reader reads back what was written: chains with their base definition, as
/// many rules with their comments (handles increasing in order), set declarations and typed
/// elements (intervals and concatenated intervals included) — compared with the desired
/// table itself, and the handles with nft's own listing.
#[test]
fn kernel_netlink_reader_reads_back_what_was_written() {
    use podnet_nft::fixture::{battery, every_expression, family_specific};
    use podnet_nft::netlink::NetlinkReader;
    use podnet_nft::types::Family;
    use podnet_nft::{Executor, diff};

    let every = every_expression("podnet-nl");
    let tables = [
        every.clone(),
        battery::changed(&every),
        family_specific(Family::Inet, "podnet-nl"),
        family_specific(Family::Ip6, "podnet-nl"),
    ];
    for t in tables {
        let ns = Netns::new("nft-nl");
        let mut nft = Nft::new(Some(ns.path()));
        let reader = NetlinkReader::new(Some(ns.path()));
        assert_eq!(reader.read(&t.id).unwrap(), None, "no table yet");
        assert_eq!(reader.names(&t.id).unwrap(), None);
        nft.execute(&diff(None, &t)).unwrap();
        let read = reader.read(&t.id).unwrap().unwrap();
        let label = format!("{} {:?}", t.id.name, t.id.family);
        assert!(read.chains.keys().eq(t.chains.keys()), "{label}");
        for (name, c) in &t.chains {
            let r = &read.chains[name];
            assert_eq!(r.base, c.decl.base, "{label}: chain {name}");
            let comments: Vec<Option<&str>> =
                r.rules.iter().map(|x| x.comment.as_deref()).collect();
            let want: Vec<Option<&str>> = c.rules.iter().map(|x| x.comment.as_deref()).collect();
            assert_eq!(comments, want, "{label}: rules of chain {name}");
            assert!(r.rules.windows(2).all(|w| w[0].handle < w[1].handle));
        }
        assert!(read.sets.keys().eq(t.sets.keys()), "{label}");
        for (name, s) in &t.sets {
            assert_eq!(read.sets[name].decl, s.decl, "{label}: set {name}");
            assert_eq!(
                read.sets[name].elements, s.elements,
                "{label}: elements of {name}"
            );
        }
        // The handles are the kernel's: nft's listing names the same ones.
        let listed = ns.exec(&["nft", "-a", "list", "table", t.id.family.name(), &t.id.name]);
        let read_handles: Vec<u64> = read
            .chains
            .values()
            .flat_map(|c| c.rules.iter().map(|r| r.handle))
            .collect();
        for h in &read_handles {
            assert!(
                listed.contains(&format!("# handle {h}\n")),
                "{label}: handle {h}"
            );
        }
        let names = reader.names(&t.id).unwrap().unwrap();
        assert!(names.chains.iter().eq(t.chains.keys()));
        assert!(names.sets.iter().eq(t.sets.keys()));
    }
}

/// The netlink executor writes what `nft -f` writes: after applying each fixture table
/// (every expression, the battery's changed table, the `inet` and `ip6` specifics) through
/// each executor in a namespace of its own, `nft list table` prints the same text — which
/// proves the nf_tables encoding expression by expression, since nft decodes the kernel's
/// state to print it.
#[test]
fn kernel_netlink_executor_writes_what_nft_writes() {
    use podnet_nft::fixture::{battery, every_expression, family_specific};
    use podnet_nft::types::Family;
    use podnet_nft::{Executor, NetlinkExecutor, diff};

    let every = every_expression("podnet-nlw");
    let tables = [
        every.clone(),
        battery::changed(&every),
        family_specific(Family::Inet, "podnet-nlw"),
        family_specific(Family::Ip6, "podnet-nlw"),
    ];
    for t in tables {
        let (by_nft, by_netlink) = (Netns::new("nft-w"), Netns::new("nl-w"));
        Nft::new(Some(by_nft.path()))
            .execute(&diff(None, &t))
            .unwrap();
        NetlinkExecutor::new(Some(by_netlink.path()))
            .execute(&diff(None, &t))
            .unwrap_or_else(|e| panic!("{} {:?}: {e}", t.id.name, t.id.family));
        let list = |ns: &Netns| ns.exec(&["nft", "list", "table", t.id.family.name(), &t.id.name]);
        assert_eq!(
            list(&by_netlink),
            list(&by_nft),
            "{} {:?}: netlink (left) vs nft -f (right)",
            t.id.name,
            t.id.family
        );
    }
}
