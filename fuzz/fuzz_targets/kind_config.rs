//! kind cluster configs into the lab's strict parser: nothing panics, a refusal lists at
//! least one field error and every error says what is wrong, and parsing is deterministic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::kind_config(data));
