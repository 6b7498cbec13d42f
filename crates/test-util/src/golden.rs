//! Golden files: a test's output compared with `tests/golden/NAME` in the crate under test.
//!
//! `UPDATE_GOLDEN=1` rewrites the files after an intended change (then review the diff).
//! It can never make CI pass: `scripts/test.sh` refuses to run with it set.

use std::path::PathBuf;

/// Compares `actual` with `tests/golden/NAME` of the crate whose test is running (cargo and
/// nextest give the test process its `CARGO_MANIFEST_DIR`); rewrites it under `UPDATE_GOLDEN`.
#[track_caller]
pub fn golden(name: &str, actual: &str) {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR: golden tests run under cargo test or cargo nextest");
    let path = PathBuf::from(dir).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (UPDATE_GOLDEN=1 rewrites it; review the diff)",
        path.display()
    );
}
