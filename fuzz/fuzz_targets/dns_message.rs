//! A datagram into the cluster DNS answer path, as `podnet dns` runs it for every query
//! (parse, answer from the published snapshot, or write the rejection): nothing panics, an
//! answer is a well-formed message whose section counts match its records, it carries the
//! client's ID and fits the client's UDP limit, and a rejection other than a silent drop is a
//! well-formed message too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::dns_message(data));
