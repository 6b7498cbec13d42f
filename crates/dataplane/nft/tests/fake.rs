//! The battery on the fake alone (no root needed): every case gives what it must.

use podnet_nft::Fake;
use podnet_nft::fixture::battery;

#[test]
fn battery_on_the_fake() {
    let mut failures = Vec::new();
    for case in battery::cases() {
        let mut fake = Fake::new();
        if let Err(e) = battery::run(&case, &mut fake) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
