//! Desired vs. current on the fake: what a diff changes is only what differs, and a second
//! diff after applying the first is empty.

use podnet_nft::build::*;
use podnet_nft::expr::{Expr, Match, NatTo, Selector};
use podnet_nft::fixture::{every_expression, ip, v4};
use podnet_nft::object::{Policy, Rule, Table};
use podnet_nft::transaction::Op;
use podnet_nft::types::{Value, proto};
use podnet_nft::{Executor, Fake, Transaction, diff};

/// A fake holding the every-expression table, and the table.
fn applied() -> (Fake, Table) {
    let t = every_expression("podnet-diff");
    let mut fake = Fake::new();
    fake.execute(&diff(None, &t)).unwrap();
    (fake, t)
}

/// The diff from what `fake` holds to `desired`, applied; the transaction returned.
fn sync(fake: &mut Fake, desired: &Table) -> Transaction {
    let cur = fake.dump(&desired.id).unwrap();
    let tx = diff(cur.as_ref(), desired);
    fake.execute(&tx).unwrap();
    let again = diff(fake.dump(&desired.id).unwrap().as_ref(), desired);
    assert!(again.is_empty(), "not settled: {again:?}");
    tx
}

#[test]
fn nothing_changed_is_an_empty_transaction() {
    let (mut fake, t) = applied();
    assert_eq!(sync(&mut fake, &t).ops, vec![]);
}

#[test]
fn an_endpoint_moved_rewrites_only_its_chain() {
    let (mut fake, mut t) = applied();
    let ep = t.chains.get_mut("ep-2").unwrap();
    ep.rules = vec![Rule::new(vec![
        Match::eq(l4proto(), Value::Proto(proto::UDP)),
        Expr::Dnat(NatTo {
            addr: ip("10.244.2.99"),
            port: Some(53),
        }),
    ])];
    let rule = ep.rules[0].clone();
    let tx = sync(&mut fake, &t);
    assert_eq!(
        tx.ops,
        vec![
            Op::FlushChain("ep-2".into()),
            Op::AddRule {
                chain: "ep-2".into(),
                rule
            }
        ]
    );
}

#[test]
fn a_map_element_changed_is_deleted_and_added_again() {
    let (mut fake, mut t) = applied();
    let key = svc(v4("10.96.0.10"), proto::UDP, 53);
    let map = t.sets.get_mut("service-ips").unwrap();
    map.elements.get_mut(&key).unwrap().data =
        Some(podnet_nft::object::ElemData::Verdict(goto("svc-web")));
    let tx = sync(&mut fake, &t);
    assert_eq!(tx.ops.len(), 2, "{tx:?}");
    assert!(
        matches!(&tx.ops[0], Op::DeleteElements { set, keys } if set == "service-ips" && keys == &vec![key.clone()])
    );
    assert!(
        matches!(&tx.ops[1], Op::AddElements { set, elements } if set == "service-ips" && elements.len() == 1)
    );
}

#[test]
fn rules_appended_are_only_added() {
    let (mut fake, mut t) = applied();
    let extra = Rule::new(vec![
        Match::eq(
            Selector::Meta(podnet_nft::expr::MetaKey::Mark),
            Value::Mark(7),
        ),
        accept(),
    ]);
    t.chains
        .get_mut("filter-forward")
        .unwrap()
        .rules
        .push(extra.clone());
    let tx = sync(&mut fake, &t);
    assert_eq!(
        tx.ops,
        vec![Op::AddRule {
            chain: "filter-forward".into(),
            rule: extra
        }]
    );
}

#[test]
fn a_policy_changed_redeclares_the_chain_only() {
    let (mut fake, mut t) = applied();
    let c = t.chains.get_mut("filter-forward").unwrap();
    c.decl.base.as_mut().unwrap().policy = Policy::Accept;
    let decl = c.decl.clone();
    let tx = sync(&mut fake, &t);
    assert_eq!(tx.ops, vec![Op::AddChain(decl)]);
}

#[test]
fn a_whole_table_removed_by_diffing_to_an_empty_one() {
    let (mut fake, t) = applied();
    let empty = Table::new(t.id.family, &t.id.name);
    sync(&mut fake, &empty);
    let dump = fake.dump(&t.id).unwrap().unwrap();
    assert!(dump.chains.is_empty() && dump.sets.is_empty(), "{dump}");
}
