//! Reading a table back from `nft -j list table` (structure and typed elements) and
//! `nft -a list table` (each rule's canonical text, found by its `# handle N`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value as Json;

use crate::dump::{ChainDump, RuleDump, SetDump, TableDump};
use crate::expr::Verdict;
use crate::object::{
    BaseChain, ChainType, ElemData, ElemExtra, Hook, MapData, Policy, SetDecl, SetFlags, TableId,
};
use crate::render::{ct_bits, icmp_type_number, proto_number};
use crate::types::{AddrType, Atom, DataType, Key, Value};

type Parsed<T> = Result<T, String>;

/// The table `id` from its JSON and text listings.
pub fn table(id: &TableId, json: &str, text: &str) -> Parsed<TableDump> {
    let doc: Json = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let items = doc["nftables"].as_array().ok_or("no \"nftables\" array")?;
    let texts = rule_texts(text);
    let dynamic = dynamic_sets(text);
    let mut dump = TableDump {
        id: id.clone(),
        chains: BTreeMap::new(),
        sets: BTreeMap::new(),
    };
    for item in items {
        if let Some(c) = item.get("chain") {
            let name = str_field(c, "name")?;
            dump.chains.insert(
                name.to_owned(),
                ChainDump {
                    base: base_chain(c)?,
                    rules: Vec::new(),
                },
            );
        } else if let Some(s) = item.get("set").or_else(|| item.get("map")) {
            let mut set = set(s)?;
            // nft 1.0.6's JSON leaves out the dynamic flag; its text listing has it.
            set.decl.flags.dynamic |= dynamic.contains(&set.decl.name);
            dump.sets.insert(set.decl.name.clone(), set);
        } else if let Some(r) = item.get("rule") {
            let chain = str_field(r, "chain")?;
            let handle = r["handle"].as_u64().ok_or("rule without a handle")?;
            let text = texts
                .get(&handle)
                .ok_or_else(|| format!("rule handle {handle} missing from the text listing"))?;
            dump.chains
                .get_mut(chain)
                .ok_or_else(|| format!("rule of unknown chain {chain}"))?
                .rules
                .push(RuleDump {
                    handle,
                    text: text.clone(),
                });
        }
    }
    Ok(dump)
}

/// Rule lines of `nft -a list table`: `\t\t<rule> # handle N`. Counters are reduced to
/// `counter`: their packet and byte counts are state, not definition.
fn rule_texts(listing: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for line in listing.lines() {
        let Some(body) = line.strip_prefix("\t\t") else {
            continue;
        };
        let Some((rule, handle)) = body.rsplit_once(" # handle ") else {
            continue;
        };
        let Ok(handle) = handle.trim().parse::<u64>() else {
            continue;
        };
        out.insert(handle, without_counts(rule));
    }
    out
}

/// Sets whose block in the text listing has `flags` with `dynamic`.
fn dynamic_sets(listing: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<&str> = None;
    for line in listing.lines() {
        if let Some(rest) = line
            .strip_prefix("\tset ")
            .or_else(|| line.strip_prefix("\tmap "))
        {
            current = rest.split_whitespace().next();
        } else if !line.starts_with("\t\t") {
            current = None;
        } else if let (Some(name), Some(flags)) = (current, line.trim().strip_prefix("flags "))
            && flags.split(',').any(|f| f.trim() == "dynamic")
        {
            out.push(name.trim_matches('"').to_owned());
        }
    }
    out
}

fn without_counts(rule: &str) -> String {
    let words: Vec<&str> = rule.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        if words[i] == "counter" && words.get(i + 1) == Some(&"packets") {
            i += 5; // counter packets N bytes M
        } else {
            i += 1;
        }
    }
    out.join(" ")
}

fn str_field<'a>(o: &'a Json, key: &str) -> Parsed<&'a str> {
    o[key]
        .as_str()
        .ok_or_else(|| format!("missing string field {key:?} in {o}"))
}

fn base_chain(c: &Json) -> Parsed<Option<BaseChain>> {
    let Some(hook) = c["hook"].as_str() else {
        return Ok(None);
    };
    let ty = match str_field(c, "type")? {
        "filter" => ChainType::Filter,
        "nat" => ChainType::Nat,
        "route" => ChainType::Route,
        t => return Err(format!("chain type {t}")),
    };
    let hook = match hook {
        "prerouting" => Hook::Prerouting,
        "input" => Hook::Input,
        "forward" => Hook::Forward,
        "output" => Hook::Output,
        "postrouting" => Hook::Postrouting,
        h => return Err(format!("hook {h}")),
    };
    let priority = c["prio"].as_i64().ok_or("chain without prio")?;
    let policy = match c["policy"].as_str() {
        Some("drop") => Policy::Drop,
        _ => Policy::Accept,
    };
    Ok(Some(BaseChain {
        ty,
        hook,
        priority: i32::try_from(priority).map_err(|e| e.to_string())?,
        policy,
    }))
}

fn data_type(j: &Json) -> Parsed<DataType> {
    let name = j.as_str().ok_or_else(|| format!("type {j}"))?;
    DataType::parse(name).ok_or_else(|| format!("unknown type {name}"))
}

fn set(s: &Json) -> Parsed<SetDump> {
    let key = match &s["type"] {
        Json::Array(types) => types.iter().map(data_type).collect::<Parsed<_>>()?,
        t => vec![data_type(t)?],
    };
    let data = match s.get("map") {
        None => None,
        Some(Json::String(v)) if v == "verdict" => Some(MapData::Verdict),
        Some(t) => Some(MapData::Type(data_type(t)?)),
    };
    let flag_names: Vec<&str> = s["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let flags = SetFlags {
        interval: flag_names.contains(&"interval"),
        timeout: flag_names.contains(&"timeout"),
        dynamic: flag_names.contains(&"dynamic"),
    };
    let decl = SetDecl {
        name: str_field(s, "name")?.to_owned(),
        key,
        data,
        flags,
        timeout: s["timeout"].as_u64().map(|t| t as u32),
        comment: s["comment"].as_str().map(str::to_owned),
    };
    let mut elements = BTreeMap::new();
    for e in s["elem"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let (key, extra) = element(&decl, e)?;
        elements.insert(key, extra);
    }
    Ok(SetDump { decl, elements })
}

/// One element: `key`, `{"elem": {"val": key, "comment": …}}`, or `[key, data]` in a map.
fn element(decl: &SetDecl, e: &Json) -> Parsed<(Key, ElemExtra)> {
    let (key_json, data_json) = match (e, decl.data) {
        (Json::Array(pair), Some(_)) if pair.len() == 2 => (&pair[0], Some(&pair[1])),
        (e, _) => (e, None),
    };
    let mut extra = ElemExtra::default();
    let key_json = match key_json.get("elem") {
        Some(inner) => {
            extra.comment = inner["comment"].as_str().map(str::to_owned);
            &inner["val"]
        }
        None => key_json,
    };
    let atoms = match key_json.get("concat") {
        Some(Json::Array(parts)) => parts.iter().collect::<Vec<_>>(),
        _ => vec![key_json],
    };
    if atoms.len() != decl.key.len() {
        return Err(format!(
            "element {e} has not the set's {} fields",
            decl.key.len()
        ));
    }
    let key = Key(atoms
        .into_iter()
        .zip(&decl.key)
        .map(|(j, t)| atom(*t, j))
        .collect::<Parsed<_>>()?);
    extra.data = match (decl.data, data_json) {
        (Some(MapData::Verdict), Some(d)) => Some(ElemData::Verdict(verdict(d)?)),
        (Some(MapData::Type(t)), Some(d)) => Some(ElemData::Value(value(t, d)?)),
        _ => None,
    };
    Ok((key, extra))
}

fn atom(t: DataType, j: &Json) -> Parsed<Atom> {
    if let Some(p) = j.get("prefix") {
        let addr: IpAddr = str_field(p, "addr")?
            .parse()
            .map_err(|e| format!("prefix {p}: {e}"))?;
        let len = p["len"].as_u64().ok_or("prefix without len")?;
        return Ok(Atom::Prefix(addr, len as u8));
    }
    if let Some(Json::Array(r)) = j.get("range")
        && r.len() == 2
    {
        return Ok(Atom::Range(value(t, &r[0])?, value(t, &r[1])?));
    }
    value(t, j).map(Atom::Value)
}

/// A value of type `t` as nft's JSON writes it.
pub fn value(t: DataType, j: &Json) -> Parsed<Value> {
    let bad = || format!("{j} is not a {}", t.name());
    let num = || j.as_u64().ok_or_else(bad);
    let names = || -> Vec<&str> {
        match j {
            Json::String(s) => vec![s.as_str()],
            Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        }
    };
    Ok(match t {
        DataType::Ipv4Addr => Value::Ipv4(j.as_str().ok_or_else(bad)?.parse().map_err(|_| bad())?),
        DataType::Ipv6Addr => Value::Ipv6(j.as_str().ok_or_else(bad)?.parse().map_err(|_| bad())?),
        DataType::InetProto => match j {
            Json::String(s) => Value::Proto(proto_number(s).ok_or_else(bad)?),
            _ => Value::Proto(u8::try_from(num()?).map_err(|_| bad())?),
        },
        DataType::InetService => Value::Port(u16::try_from(num()?).map_err(|_| bad())?),
        DataType::Mark => Value::Mark(u32::try_from(num()?).map_err(|_| bad())?),
        DataType::IfName => Value::IfName(j.as_str().ok_or_else(bad)?.to_owned()),
        DataType::CtState => Value::CtState(ct_bits(&names(), false).ok_or_else(bad)?),
        DataType::CtStatus => Value::CtStatus(ct_bits(&names(), true).ok_or_else(bad)?),
        DataType::FibAddrType => Value::AddrType(match j.as_str() {
            Some("local") => AddrType::Local,
            Some("unicast") => AddrType::Unicast,
            Some("broadcast") => AddrType::Broadcast,
            Some("multicast") => AddrType::Multicast,
            _ => return Err(bad()),
        }),
        DataType::IcmpType => Value::IcmpType(match j.as_str() {
            Some(name) => icmp_type_number(name).ok_or_else(bad)?,
            None => u8::try_from(num()?).map_err(|_| bad())?,
        }),
        DataType::NfProto => Value::NfProto(match j.as_str() {
            Some("ipv4") => 2,
            Some("ipv6") => 10,
            _ => u8::try_from(num()?).map_err(|_| bad())?,
        }),
        DataType::Integer => Value::Integer(u32::try_from(num()?).map_err(|_| bad())?),
    })
}

fn verdict(j: &Json) -> Parsed<Verdict> {
    let target = |k: &str| -> Parsed<String> { Ok(str_field(&j[k], "target")?.to_owned()) };
    let obj = j.as_object().ok_or_else(|| format!("verdict {j}"))?;
    let kind = obj.keys().next().ok_or_else(|| format!("verdict {j}"))?;
    Ok(match kind.as_str() {
        "accept" => Verdict::Accept,
        "drop" => Verdict::Drop,
        "continue" => Verdict::Continue,
        "return" => Verdict::Return,
        "jump" => Verdict::Jump(target("jump")?),
        "goto" => Verdict::Goto(target("goto")?),
        k => return Err(format!("verdict {k}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Family, proto};

    /// What nft 1.0.6 printed for a small table (`-j` and `-a`), captured from the kernel.
    const JSON: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip", "name": "t", "handle": 1}}, {"set": {"family": "ip", "name": "aff", "table": "t", "type": "ipv4_addr", "handle": 18, "size": 65535, "flags": ["timeout"], "timeout": 10800}}, {"map": {"family": "ip", "name": "m", "table": "t", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 3, "map": "verdict", "elem": [[{"elem": {"val": {"concat": ["10.0.0.1", "tcp", 80]}, "comment": "c1"}}, {"goto": {"target": "a"}}]]}}, {"set": {"family": "ip", "name": "s2", "table": "t", "type": ["ipv4_addr", "ipv4_addr"], "handle": 20, "flags": ["interval"], "elem": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, "1.2.3.4"]}]}}, {"set": {"family": "ip", "name": "ps", "table": "t", "type": "inet_service", "handle": 30, "flags": ["interval"], "elem": [80, {"range": [1000, 2000]}]}}, {"chain": {"family": "ip", "table": "t", "name": "a", "handle": 4}}, {"chain": {"family": "ip", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": -110, "policy": "drop"}}, {"rule": {"family": "ip", "table": "t", "chain": "in", "handle": 8, "expr": []}}, {"rule": {"family": "ip", "table": "t", "chain": "in", "handle": 12, "expr": []}}]}"#;
    const TEXT: &str = "table ip t { # handle 1\n\tset aff { # handle 18\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n\tchain in { # handle 1\n\t\ttype filter hook input priority -110; policy drop;\n\t\tct state established,related accept # handle 8\n\t\tlimit rate 10/second counter packets 3 bytes 180 log prefix \"x \" drop # handle 12\n\t}\n}\n";

    #[test]
    fn a_table_reads_back_typed() {
        let d = table(&TableId::new(Family::Ip, "t"), JSON, TEXT).unwrap();
        let input = &d.chains["in"];
        assert_eq!(input.base.unwrap().priority, -110);
        assert_eq!(input.base.unwrap().policy, Policy::Drop);
        let texts: Vec<&str> = input.rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "ct state established,related accept",
                "limit rate 10/second counter log prefix \"x \" drop"
            ]
        );
        assert!(d.sets["aff"].decl.flags.dynamic, "from the text listing");
        assert_eq!(d.sets["aff"].decl.timeout, Some(10800));
        let (key, extra) = d.sets["m"].elements.iter().next().unwrap();
        assert_eq!(
            *key,
            Key(vec![
                Atom::Value(Value::Ipv4("10.0.0.1".parse().unwrap())),
                Atom::Value(Value::Proto(proto::TCP)),
                Atom::Value(Value::Port(80)),
            ])
        );
        assert_eq!(extra.comment.as_deref(), Some("c1"));
        assert_eq!(
            extra.data,
            Some(ElemData::Verdict(Verdict::Goto("a".into())))
        );
        assert_eq!(d.sets["s2"].elements.len(), 1);
        assert!(d.sets["ps"].elements.contains_key(&Key(vec![Atom::Range(
            Value::Port(1000),
            Value::Port(2000)
        )])));
    }

    #[test]
    fn a_rule_missing_from_the_text_listing_is_an_error() {
        let err = table(&TableId::new(Family::Ip, "t"), JSON, "").unwrap_err();
        assert!(err.contains("handle 8"), "{err}");
    }
}
