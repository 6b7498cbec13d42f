//! A packet tracer over typed tables: walks the base chains of one hook in priority order
//! through rules, jumps, sets and maps, and returns every way the packet can go — `numgen`
//! branches enumerated with their probabilities — with its verdict and the path it took
//! (chains, rules and their comments, DNAT targets, masquerade). The heart of `podnet trace`
//! and of the rulesets' tests; it reads tables only, so a desired state can be traced as well
//! as the fake's.

mod packet;

use std::fmt::{self, Display, Formatter};

pub use packet::Packet;

use crate::expr::{CmpOp, Expr, Match, NatTo, RejectWith, Rhs, Selector, Verdict, VmapRef};
use crate::object::{ElemData, Hook, Policy, Rule, Table};
use crate::render::RuleText;
use crate::types::{Key, Value};

/// How deep jumps may nest before the tracer calls it a loop (the kernel allows 16 levels).
const MAX_DEPTH: usize = 16;

/// Where a branch ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    Accept,
    Drop,
    Reject(RejectWith),
    /// Jumps nested past what the kernel allows.
    Loop,
}

/// One rule the packet met (all its matches held), or a chain it entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Chain {
        table: String,
        chain: String,
    },
    Rule {
        chain: String,
        text: String,
        comment: Option<String>,
    },
}

/// One way the packet can go.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The chance of this branch (1 unless `numgen` split the packet's fate).
    pub probability: f64,
    pub fate: Fate,
    pub path: Vec<Step>,
    pub dnat: Option<NatTo>,
    pub snat: Option<NatTo>,
    pub masquerade: bool,
    /// The packet as it leaves the hook (marks set, addresses NATed).
    pub packet: Packet,
}

/// How a chain (or rule) hands control back.
enum Flow {
    /// The rule did not decide (or the chain fell off its end): go on with the next one.
    Next,
    /// `return`: the chain ends here, its caller goes on.
    Return,
    Jump(String),
    Goto(String),
    Done(Fate),
}

struct Walk<'a> {
    table: &'a Table,
}

/// Every way `packet` goes through the base chains of `hook` in `tables`.
pub fn trace(tables: &[&Table], hook: Hook, packet: &Packet) -> Vec<Outcome> {
    let mut bases: Vec<(i32, usize, &Table, &str, Policy)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        if !packet.seen_by(t.id.family) {
            continue;
        }
        for c in t.chains.values() {
            if let Some(b) = c.decl.base.filter(|b| b.hook == hook) {
                bases.push((b.priority, i, t, &c.decl.name, b.policy));
            }
        }
    }
    bases.sort_by_key(|(prio, i, _, name, _)| (*prio, *i, name.to_string()));
    let mut live = vec![Outcome {
        probability: 1.0,
        fate: Fate::Accept,
        path: Vec::new(),
        dnat: None,
        snat: None,
        masquerade: false,
        packet: packet.clone(),
    }];
    let mut done = Vec::new();
    for (_, _, table, chain, policy) in bases {
        let walk = Walk { table };
        let mut next = Vec::new();
        for o in live {
            for (mut o, flow) in walk.chain(chain, 0, o, 0) {
                match flow {
                    Flow::Next if policy == Policy::Drop => {
                        o.fate = Fate::Drop;
                        done.push(o);
                    }
                    Flow::Next | Flow::Done(Fate::Accept) => next.push(o),
                    Flow::Done(fate) => {
                        o.fate = fate;
                        done.push(o);
                    }
                    Flow::Jump(_) | Flow::Goto(_) | Flow::Return => {
                        unreachable!("resolved inside chain()")
                    }
                }
            }
        }
        live = next;
    }
    live.extend(done);
    live
}

// === impl Walk ===

impl Walk<'_> {
    /// Runs `chain` from rule `from`.
    fn chain(
        &self,
        chain: &str,
        from: usize,
        mut o: Outcome,
        depth: usize,
    ) -> Vec<(Outcome, Flow)> {
        if depth > MAX_DEPTH {
            return vec![(o, Flow::Done(Fate::Loop))];
        }
        let Some(c) = self.table.chains.get(chain) else {
            return vec![(o, Flow::Done(Fate::Drop))];
        };
        if from == 0 {
            o.path.push(Step::Chain {
                table: self.table.id.name.clone(),
                chain: chain.to_owned(),
            });
        }
        let Some(rule) = c.rules.get(from) else {
            return vec![(o, Flow::Next)];
        };
        let mut out = Vec::new();
        for (o, flow) in self.rule(chain, rule, 0, o, false) {
            match flow {
                Flow::Next => out.extend(self.chain(chain, from + 1, o, depth)),
                Flow::Jump(target) => {
                    for (o, f) in self.chain(&target, 0, o, depth + 1) {
                        match f {
                            Flow::Next => out.extend(self.chain(chain, from + 1, o, depth)),
                            f => out.push((o, f)),
                        }
                    }
                }
                Flow::Goto(target) => out.extend(self.chain(&target, 0, o, depth + 1)),
                Flow::Return => out.push((o, Flow::Next)),
                done @ Flow::Done(_) => out.push((o, done)),
            }
        }
        out
    }

    /// Runs `rule` from expression `i`; `met` once every match before `i` held.
    fn rule(
        &self,
        chain: &str,
        rule: &Rule,
        i: usize,
        mut o: Outcome,
        met: bool,
    ) -> Vec<(Outcome, Flow)> {
        let Some(e) = rule.exprs.get(i) else {
            if !met {
                self.met(chain, rule, &mut o);
            }
            return vec![(o, Flow::Next)];
        };
        if let Expr::Match(m) = e {
            let p = self.match_chance(m, &o.packet);
            let mut out = Vec::new();
            if p > 0.0 {
                let mut yes = o.clone();
                yes.probability *= p;
                out.extend(self.rule(chain, rule, i + 1, yes, met));
            }
            if p < 1.0 {
                o.probability *= 1.0 - p;
                out.push((o, Flow::Next));
            }
            return out;
        }
        if !met {
            self.met(chain, rule, &mut o);
        }
        match e {
            Expr::Match(_) => unreachable!("handled above"),
            Expr::Vmap { key, map } => {
                let mut out = Vec::new();
                for (p, verdict) in self.vmap(key, map, &o.packet) {
                    let mut b = o.clone();
                    b.probability *= p;
                    match verdict {
                        Some(v) => out.push((b, verdict_flow(&v))),
                        None => out.push((b, Flow::Next)),
                    }
                }
                out
            }
            Expr::Counter | Expr::Limit { .. } | Expr::Log { .. } | Expr::SetUpdate { .. } => {
                self.rule(chain, rule, i + 1, o, true)
            }
            Expr::MarkSet(op) => {
                o.packet.mark = match *op {
                    crate::expr::MarkOp::Set(v) => v,
                    crate::expr::MarkOp::Or(v) => o.packet.mark | v,
                    crate::expr::MarkOp::Xor(v) => o.packet.mark ^ v,
                    crate::expr::MarkOp::And(v) => o.packet.mark & v,
                };
                self.rule(chain, rule, i + 1, o, true)
            }
            // NAT statements end the rule and accept, as the kernel's do.
            Expr::Dnat(to) => {
                o.dnat = Some(*to);
                o.packet.daddr = to.addr;
                if let Some(p) = to.port {
                    o.packet.dport = p;
                }
                vec![(o, Flow::Done(Fate::Accept))]
            }
            Expr::Snat(to) => {
                o.snat = Some(*to);
                o.packet.saddr = to.addr;
                vec![(o, Flow::Done(Fate::Accept))]
            }
            Expr::Masquerade { .. } => {
                o.masquerade = true;
                vec![(o, Flow::Done(Fate::Accept))]
            }
            // nft makes `reject with tcp reset` depend on `meta l4proto tcp`.
            Expr::Reject(RejectWith::TcpReset) if o.packet.l4proto != crate::types::proto::TCP => {
                vec![(o, Flow::Next)]
            }
            Expr::Reject(with) => vec![(o, Flow::Done(Fate::Reject(*with)))],
            Expr::Verdict(v) => vec![(o, verdict_flow(v))],
        }
    }

    fn met(&self, chain: &str, rule: &Rule, o: &mut Outcome) {
        o.path.push(Step::Rule {
            chain: chain.to_owned(),
            text: RuleText(self.table.id.family, rule).to_string(),
            comment: rule.comment.clone(),
        });
    }

    /// The chance that `m` holds: 0 or 1, or a fraction for a `numgen` match.
    fn match_chance(&self, m: &Match, pkt: &Packet) -> f64 {
        if let [Selector::Numgen { modulus }] = m.left.as_slice() {
            let hits = (0..*modulus)
                .filter(|n| self.holds(m, &[Value::Integer(*n)]))
                .count();
            return hits as f64 / f64::from((*modulus).max(1));
        }
        let values: Option<Vec<Value>> = m.left.iter().map(|s| pkt.read(*s)).collect();
        match values {
            Some(values) => f64::from(u8::from(self.holds(m, &values))),
            None => 0.0,
        }
    }

    fn holds(&self, m: &Match, values: &[Value]) -> bool {
        let values: Vec<Value> = match (m.mask, values) {
            (Some(mask), [Value::Mark(v)]) => vec![Value::Mark(v & mask)],
            _ => values.to_vec(),
        };
        let found = match &m.right {
            // `ct state new,established`: any of the bits.
            Rhs::Key(Key(atoms)) if m.left.len() == 1 && m.left[0].is_flags() => {
                match (&atoms[..], &values[..]) {
                    ([crate::types::Atom::Value(Value::CtState(want))], [Value::CtState(have)])
                    | (
                        [crate::types::Atom::Value(Value::CtStatus(want))],
                        [Value::CtStatus(have)],
                    ) => want & have != 0,
                    _ => false,
                }
            }
            Rhs::Key(k) => k.contains(&values),
            Rhs::AnonSet(keys) => keys.iter().any(|k| k.contains(&values)),
            Rhs::Set(name) => self
                .table
                .sets
                .get(name)
                .is_some_and(|s| s.elements.keys().any(|k| k.contains(&values))),
        };
        found == (m.op == CmpOp::Eq)
    }

    /// The verdicts a vmap gives, with their chances (`None`: no element, the rule ends).
    fn vmap(&self, key: &[Selector], map: &VmapRef, pkt: &Packet) -> Vec<(f64, Option<Verdict>)> {
        let lookup = |values: &[Value]| -> Option<Verdict> {
            match map {
                VmapRef::Anon(elems) => elems
                    .iter()
                    .find(|(k, _)| k.contains(values))
                    .map(|(_, v)| v.clone()),
                VmapRef::Named(name) => {
                    let s = self.table.sets.get(name)?;
                    s.elements
                        .iter()
                        .find(|(k, _)| k.contains(values))
                        .and_then(|(_, x)| match &x.data {
                            Some(ElemData::Verdict(v)) => Some(v.clone()),
                            _ => None,
                        })
                }
            }
        };
        if let [Selector::Numgen { modulus }] = key {
            let p = 1.0 / f64::from((*modulus).max(1));
            return (0..*modulus)
                .map(|n| (p, lookup(&[Value::Integer(n)])))
                .collect();
        }
        let values: Option<Vec<Value>> = key.iter().map(|s| pkt.read(*s)).collect();
        vec![(1.0, values.and_then(|v| lookup(&v)))]
    }
}

fn verdict_flow(v: &Verdict) -> Flow {
    match v {
        Verdict::Accept => Flow::Done(Fate::Accept),
        Verdict::Drop => Flow::Done(Fate::Drop),
        Verdict::Continue => Flow::Next,
        Verdict::Return => Flow::Return,
        Verdict::Jump(c) => Flow::Jump(c.clone()),
        Verdict::Goto(c) => Flow::Goto(c.clone()),
    }
}

// === impl Outcome ===

impl Outcome {
    /// The comments of the rules met, in order: how a path maps back to intent.
    pub fn comments(&self) -> Vec<&str> {
        self.path
            .iter()
            .filter_map(|s| match s {
                Step::Rule { comment, .. } => comment.as_deref(),
                Step::Chain { .. } => None,
            })
            .collect()
    }

    /// The chains entered, in order.
    pub fn chains(&self) -> Vec<&str> {
        self.path
            .iter()
            .filter_map(|s| match s {
                Step::Chain { chain, .. } => Some(chain.as_str()),
                Step::Rule { .. } => None,
            })
            .collect()
    }
}

impl Display for Outcome {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{:.4} {:?}", self.probability, self.fate)?;
        if let Some(d) = &self.dnat {
            write!(f, " dnat {}", d.addr)?;
            if let Some(p) = d.port {
                write!(f, ":{p}")?;
            }
        }
        if self.masquerade {
            f.write_str(" masquerade")?;
        }
        for s in &self.path {
            match s {
                Step::Chain { table, chain } => write!(f, "\n  {table}/{chain}")?,
                Step::Rule { text, .. } => write!(f, "\n    {text}")?,
            }
        }
        Ok(())
    }
}
