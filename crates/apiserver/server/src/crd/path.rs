//! The simple JSONPath of CRDs (`.spec.replicas`, `.status.conditions[0].type`,
//! `.metadata.labels['app.kubernetes.io/name']`): what printer columns and the scale
//! subresource's paths use.

use serde_json::Value;

/// One step of a path: a field or a list index.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

fn steps(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    let mut rest = path.strip_prefix('.').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            let quoted = inner.trim_matches(|c| c == '\'' || c == '"');
            out.push(if quoted.len() != inner.len() {
                Step::Field(quoted.to_string())
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = after[end + 1..]
                .strip_prefix('.')
                .unwrap_or(&after[end + 1..]);
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Step::Field(rest[..end].to_string()));
            rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
        }
    }
    Some(out)
}

/// The value at `path` in `obj`, if there is one.
pub fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path)?.iter().try_fold(obj, |v, step| match step {
        Step::Field(f) => v.get(f),
        Step::Index(i) => v.get(*i),
    })
}

/// Sets the value at a path of fields, creating the objects on the way.
pub fn set(obj: &mut Value, path: &str, value: Value) {
    let Some(steps) = steps(path) else { return };
    let mut at = obj;
    for step in steps {
        let Step::Field(f) = step else { return };
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(f)
            .or_insert(Value::Null);
    }
    *at = value;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lookup_table() {
        let obj = json!({"spec": {"replicas": 3},
            "status": {"conditions": [{"type": "Ready"}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        let cases = [
            (".spec.replicas", Some(json!(3))),
            (".status.conditions[0].type", Some(json!("Ready"))),
            (
                ".metadata.labels['app.kubernetes.io/name']",
                Some(json!("web")),
            ),
            ("{.spec.replicas}", Some(json!(3))),
            (".spec.missing", None),
            (".status.conditions[1].type", None),
        ];
        for (path, want) in cases {
            assert_eq!(lookup(&obj, path).cloned(), want, "{path}");
        }
    }

    #[test]
    fn set_creates_parents() {
        let mut obj = json!({"metadata": {"name": "a"}});
        set(&mut obj, ".spec.size.replicas", json!(2));
        assert_eq!(
            obj,
            json!({"metadata": {"name": "a"}, "spec": {"size": {"replicas": 2}}})
        );
    }
}
