use std::collections::BTreeSet;

use serde_json::Value;

use crate::{StoreError, meta};

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

// === impl LabelSelector ===

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k` (also `==`, `gt`/`lt` as `>`/`<`).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let mut requirements = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (req, after) = parse_requirement(rest)?;
            requirements.push(req);
            rest = after.trim_start();
            if let Some(after_comma) = rest.strip_prefix(',') {
                rest = after_comma.trim_start();
                if rest.is_empty() {
                    return Err(bad(text, "trailing ','"));
                }
            } else if !rest.is_empty() {
                return Err(bad(text, "expected ','"));
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// A selector built from a `matchLabels` map (as Deployments and Services carry).
    pub fn from_map<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let requirements = labels
            .into_iter()
            .map(|(k, v)| Requirement::Equals(k.to_string(), v.to_string()))
            .collect();
        LabelSelector { requirements }
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = meta::labels(obj);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::GreaterThan(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Requirement::LessThan(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }
}

fn bad(text: &str, why: &str) -> StoreError {
    StoreError::Selector(format!("{text:?}: {why}"))
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn split_word(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_key_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

fn parse_key<'a>(whole: &str, s: &'a str) -> Result<(String, &'a str), StoreError> {
    let (key, rest) = split_word(s);
    if key.is_empty() {
        return Err(bad(whole, "expected a label key"));
    }
    validate_key(whole, key)?;
    Ok((key.to_string(), rest.trim_start()))
}

/// A qualified name: optional DNS-subdomain prefix and `/`, then 1–63 alphanumerics, `-_.`,
/// beginning and ending alphanumeric.
fn validate_key(whole: &str, key: &str) -> Result<(), StoreError> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || prefix.len() > 253 {
                return Err(bad(whole, "invalid label key prefix"));
            }
            name
        }
        None => key,
    };
    if !is_label_value(name) || name.is_empty() {
        return Err(bad(whole, &format!("invalid label key {key:?}")));
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters of alphanumerics and `-_.`, beginning and
/// ending alphanumeric.
pub fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn parse_value<'a>(whole: &str, s: &'a str) -> Result<(String, &'a str), StoreError> {
    let (value, rest) = split_word(s);
    if !is_label_value(value) {
        return Err(bad(whole, &format!("invalid label value {value:?}")));
    }
    Ok((value.to_string(), rest))
}

fn parse_requirement(s: &str) -> Result<(Requirement, &str), StoreError> {
    if let Some(rest) = s.strip_prefix('!') {
        let (key, rest) = parse_key(s, rest.trim_start())?;
        return Ok((Requirement::DoesNotExist(key), rest));
    }
    let (key, rest) = parse_key(s, s)?;
    for (op, make) in [
        (
            "==",
            Requirement::Equals as fn(String, String) -> Requirement,
        ),
        ("!=", Requirement::NotEquals),
        ("=", Requirement::Equals),
    ] {
        if let Some(after) = rest.strip_prefix(op) {
            let (value, after) = parse_value(s, after.trim_start())?;
            return Ok((make(key, value), after));
        }
    }
    for (op, greater) in [(">", true), ("<", false)] {
        if let Some(after) = rest.strip_prefix(op) {
            let (value, after) = split_word(after.trim_start());
            let n = value
                .parse::<i64>()
                .map_err(|_| bad(s, &format!("{value:?} is not an integer")))?;
            let req = if greater {
                Requirement::GreaterThan(key, n)
            } else {
                Requirement::LessThan(key, n)
            };
            return Ok((req, after));
        }
    }
    let (word, after) = split_word(rest);
    match word {
        "in" | "notin" => {
            let after = after
                .trim_start()
                .strip_prefix('(')
                .ok_or_else(|| bad(s, "expected '(' after in/notin"))?;
            let close = after.find(')').ok_or_else(|| bad(s, "missing ')'"))?;
            let mut values = BTreeSet::new();
            for v in after[..close].split(',') {
                let v = v.trim();
                if !is_label_value(v) {
                    return Err(bad(s, &format!("invalid label value {v:?}")));
                }
                values.insert(v.to_string());
            }
            let req = if word == "in" {
                Requirement::In(key, values)
            } else {
                Requirement::NotIn(key, values)
            };
            Ok((req, &after[close + 1..]))
        }
        "" => Ok((Requirement::Exists(key), rest)),
        other => Err(bad(s, &format!("unknown operator {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "labels": labels}})
    }

    #[test]
    fn every_operator_matches_like_the_api_server() {
        let o = obj(json!({"app": "web", "tier": "front", "n": "5"}));
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("app=web,tier=front", true),
            ("app=web, tier=back", false),
            ("n>4", true),
            ("n<5", false),
            ("example.com/role", false),
        ];
        for (sel, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(parsed.matches(&o), want, "{sel}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for sel in [
            "app=",
            "=web",
            "app in web",
            "app in (web",
            "app=web,",
            "app=!x",
            "a b",
        ] {
            let res = LabelSelector::parse(sel);
            if sel == "app=" {
                // An empty value is legal: it matches a label set to "".
                assert!(res.is_ok(), "{sel}");
            } else {
                assert!(res.is_err(), "{sel} should not parse");
            }
        }
    }
}
