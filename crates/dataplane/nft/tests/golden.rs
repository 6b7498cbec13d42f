//! The renderer's output compared with files under `tests/golden/` (`UPDATE_GOLDEN=1`
//! rewrites them after an intended change; review the diff): the `nft -f` script that builds
//! the every-expression table, the table's debug view, and the transactions diffs produce.

use podnet_nft::fixture::{battery, every_expression};
use podnet_nft::{Executor, Fake, diff, render};
use podnet_test_util::golden;

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
