//! The renderer's output compared with files under `tests/golden/` (`UPDATE_GOLDEN=1`
//! rewrites them after an intended change; review the diff): the `nft -f` script that builds
//! the every-expression table, the table's debug view, and the transactions diffs produce.

use std::path::PathBuf;

use podnet_nft::fixture::{battery, every_expression};
use podnet_nft::{Executor, Fake, diff, render};

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        actual,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

#[test]
fn every_expression_script() {
    let t = every_expression("podnet-golden");
    golden("every-expression.nft", &render::script(&diff(None, &t)));
}

#[test]
fn every_expression_table_view() {
    golden(
        "every-expression.table",
        &every_expression("podnet-golden").to_string(),
    );
}

/// From the every-expression table to its changed twin: what goes, in which order.
#[test]
fn every_expression_changed_transaction() {
    let every = every_expression("podnet-golden");
    let mut fake = Fake::new();
    fake.execute(&diff(None, &every)).unwrap();
    let cur = fake.dump(&every.id).unwrap();
    let tx = diff(cur.as_ref(), &battery::changed(&every));
    golden("every-expression-changed.nft", &render::script(&tx));
}
