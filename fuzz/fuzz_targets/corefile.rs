//! Corefile text into `podnet dns`'s parser and then into the server it configures (blocks,
//! forwarders, caches; nothing is bound): nothing panics, a refusal names a line of the text
//! and the directive at fault, and what parses builds a server.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::corefile(data));
