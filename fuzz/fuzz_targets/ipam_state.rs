//! podnet-ipam over whatever it may find in its data dir (reservations with any content,
//! names that are addresses in or out of the ranges, stale markers, crashed writers' temp
//! files, anything else), then a sequence of ADD, DEL, CHECK, GC and STATUS through the
//! plugin's real entry point. Nothing panics, and after each verb the state says what the
//! verb promised: an ADD's addresses are in the ranges and held by that attachment alone,
//! nothing of a deleted attachment is left, and after GC only valid attachments hold
//! anything.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::ipam_state(data));
