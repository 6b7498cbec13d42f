//! The runtime side of CNI (what libcni is): conflists, plugin chains, result cache, DEL/CHECK/GC/STATUS.
