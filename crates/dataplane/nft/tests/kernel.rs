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
    let mut failures = Vec::new();
    for case in battery::cases() {
        let ns = Netns::new("nft-bat");
        let mut kernel = Nft::new(Some(ns.path()));
        let mut fake = Fake::new();
        let got = battery::run(&case, &mut kernel);
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
