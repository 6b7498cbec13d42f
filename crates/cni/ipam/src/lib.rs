//! host-local compatible IPAM: range sets, a crash-safe on-disk store, and the podnet-ipam plugin.
