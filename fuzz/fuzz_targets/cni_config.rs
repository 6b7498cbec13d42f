//! A CNI plugin's stdin (the network config with its prevResult and runtimeConfig) and the
//! `CNI_ARGS` string into every decoder podnet-cni and podnet-ipam run on them: nothing
//! panics, every refusal says what is wrong, a prevResult read back from the result it
//! renders in 1.1.0 is the same result (and every older format reads back too), and
//! `CNI_ARGS` round-trips.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::cni_config(data));
