//! `podnet dns`: the cluster name server (sockets, forwarding, cache, metrics, health, Corefile).
