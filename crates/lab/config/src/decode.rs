//! A strict walker over a YAML tree that keeps the path of every value and collects every
//! error, so one run reports all that is wrong with a config.

use serde_yaml_ng::{Mapping, Value};

use crate::error::FieldError;

pub(crate) struct Decoder {
    pub errors: Vec<FieldError>,
}

/// `parent.key`, or `key` at the root.
pub(crate) fn field(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// How a value reads in an error message: strings quoted, like the API server's.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

// === impl Decoder ===

impl Decoder {
    pub fn new() -> Self {
        Decoder { errors: Vec::new() }
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    pub fn invalid(&mut self, path: &str, v: &Value, why: &str) {
        self.error(path, format!("Invalid value: {}: {why}", shown(v)));
    }

    /// The mapping at `path` with only `known` keys; unknown ones are reported. A null value
    /// reads as absent (None without an error), as it does for kind.
    pub fn object<'a>(&mut self, path: &str, v: &'a Value, known: &[&str]) -> Option<&'a Mapping> {
        let map = match v {
            Value::Null => return None,
            Value::Mapping(m) => m,
            other => {
                self.invalid(path, other, "must be an object");
                return None;
            }
        };
        for key in map.keys() {
            match key.as_str() {
                Some(k) if known.contains(&k) => {}
                Some(k) => {
                    let hint = closest(k, known)
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    self.error(&field(path, k), format!("unknown field{hint}"));
                }
                None => self.invalid(path, key, "keys must be strings"),
            }
        }
        Some(map)
    }

    pub fn seq<'a>(&mut self, path: &str, v: &'a Value) -> Option<&'a [Value]> {
        match v {
            Value::Null => None,
            Value::Sequence(s) => Some(s),
            other => {
                self.invalid(path, other, "must be a list");
                None
            }
        }
    }

    pub fn string<'a>(&mut self, path: &str, v: &'a Value) -> Option<&'a str> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => {
                self.invalid(path, other, "must be a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, path: &str, v: &Value) -> Option<bool> {
        match v {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            other => {
                self.invalid(path, other, "must be true or false");
                None
            }
        }
    }

    pub fn integer(&mut self, path: &str, v: &Value) -> Option<i64> {
        match v {
            Value::Null => None,
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            other => {
                self.invalid(path, other, "must be an integer");
                None
            }
        }
    }

    /// A port in 1..=65535 (`allow_zero`: 0 also, meaning "pick one").
    pub fn port(&mut self, path: &str, v: &Value, allow_zero: bool) -> Option<u16> {
        let n = self.integer(path, v)?;
        let low = if allow_zero { 0 } else { 1 };
        if (low..=65535).contains(&n) {
            Some(n as u16)
        } else {
            self.invalid(
                path,
                v,
                &format!("must be between {low} and 65535, inclusive"),
            );
            None
        }
    }

    /// One of `values`, parsed by `parse`.
    pub fn one_of<T>(
        &mut self,
        path: &str,
        v: &Value,
        values: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.string(path, v)?;
        let parsed = parse(s);
        if parsed.is_none() {
            let list: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            self.error(
                path,
                format!(
                    "Unsupported value: {s:?}: supported values: {}",
                    list.join(", ")
                ),
            );
        }
        parsed
    }

    /// A map with free-form string keys, each value read by `item`.
    pub fn map_of<T>(
        &mut self,
        path: &str,
        v: &Value,
        item: impl Fn(&mut Self, &str, &Value) -> Option<T>,
    ) -> Vec<(String, T)> {
        let map = match v {
            Value::Null => return Vec::new(),
            Value::Mapping(m) => m,
            other => {
                self.invalid(path, other, "must be an object");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, val) in map {
            let Some(k) = k.as_str() else {
                self.invalid(path, k, "keys must be strings");
                continue;
            };
            if let Some(t) = item(self, &field(path, k), val) {
                out.push((k.to_string(), t));
            }
        }
        out
    }

    /// A map of strings to strings (labels, runtimeConfig).
    pub fn string_map(&mut self, path: &str, v: &Value) -> Vec<(String, String)> {
        self.map_of(path, v, |d, p, v| d.string(p, v).map(str::to_string))
    }
}

/// The known key a typo most likely meant: same letters ignoring case, or at most two edits.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(&key.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
