//! Against the real kernel, in a namespace of its own.

use podnet_nft::Nft;
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
