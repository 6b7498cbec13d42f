//! podnet-cni: the bridge CNI plugin (veth pair, node bridge, delegated IPAM).
