//! A PATCH body of every kind (JSON patch, merge patch, strategic merge patch, server-side
//! apply) onto a live Pod, as the lab API server applies them: nothing panics; a merge patch
//! is idempotent (applying it twice gives what applying it once gave); applying a config
//! twice by the same manager changes nothing the second time.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::api_patch(data));
