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

/// The fake applies in place and rolls back what a refused transaction did: every kind of
/// change before the refused operation is undone, and the table dumps as before.
#[test]
fn a_refused_transaction_undoes_every_change_before_it() {
    use podnet_nft::fixture::every_expression;
    use podnet_nft::object::{ChainDecl, Element, Rule, SetDecl};
    use podnet_nft::transaction::SetKind;
    use podnet_nft::types::{DataType, Value};
    use podnet_nft::{Executor, Refusal, Transaction, diff};

    let t = every_expression("podnet-undo");
    let mut fake = Fake::new();
    fake.execute(&diff(None, &t)).unwrap();
    let before = fake.dump(&t.id).unwrap().unwrap();
    let handle = before.chains["ep-1"].rules[1].handle;
    let mut tx = Transaction::new(t.id.clone());
    tx.push(podnet_nft::transaction::Op::AddTable {
        comment: Some("changed".into()),
    });
    tx.add_chain(ChainDecl::regular("new-chain"))
        .add_rule("new-chain", Rule::new(vec![podnet_nft::build::accept()]))
        .flush_chain("ep-2")
        .delete_rule("ep-1", handle)
        .add_set(SetDecl::set("new-set", vec![DataType::Mark]))
        .add_elements("new-set", vec![Element::key(Value::Mark(7))])
        .delete_elements(
            "cluster-ips",
            vec![podnet_nft::fixture::v4("10.96.0.1").into()],
        )
        .flush_set("ifaces", SetKind::Set)
        .delete_chain("new-chain")
        .add_rule(
            "filter-input",
            Rule::new(vec![podnet_nft::expr::Expr::jump("new-chain")]),
        );
    let err = fake.execute(&tx).unwrap_err();
    assert_eq!(err.refusal(), Some(Refusal::NotFound), "{err}");
    assert_eq!(fake.dump(&t.id).unwrap().unwrap(), before);
    assert_eq!(fake.table(&t.id).unwrap(), t);
}
