use serde_json::Value;

/// RFC 6902 JSON patch (add, remove, replace, move, copy, test).
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for (i, op) in ops.iter().enumerate() {
        let name = op["op"]
            .as_str()
            .ok_or(format!("operation {i}: missing op"))?;
        let path = op["path"]
            .as_str()
            .ok_or(format!("operation {i}: missing path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("operation {i}: missing value"))
        };
        match name {
            "add" => add(target, path, value()?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            "move" | "copy" => {
                let from = op["from"]
                    .as_str()
                    .ok_or(format!("operation {i}: missing from"))?;
                let v = if name == "move" {
                    remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or(format!("{from}: no such path"))?
                };
                add(target, path, v)?;
            }
            "test" => {
                if target.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn split(path: &str) -> Result<(&str, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or(format!("{path:?}: invalid path"))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
        }
        Some(Value::Array(list)) => {
            let at = if last == "-" {
                list.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("{path}: invalid index"))?
            };
            if at > list.len() {
                return Err(format!("{path}: index out of range"));
            }
            list.insert(at, value);
        }
        _ => return Err(format!("{path}: missing parent")),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split(path)?;
    let removed = match target.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&last),
        Some(Value::Array(list)) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < list.len())
            .map(|i| list.remove(i)),
        _ => None,
    };
    removed.ok_or(format!("{path}: no such path"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_apply_in_order() {
        let mut doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        let ops = json!([
            {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "remove", "path": "/list/0"},
            {"op": "test", "path": "/list/0", "value": 2},
        ]);
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"labels": {"a": "x", "b/c": "2"}}, "list": [2, 3]})
        );
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
