//! nftables: text transactions applied atomically with `nft -f -`.
