//! The messages whose Kubernetes JSON form is not an object of their fields, rewritten between
//! that form and their table shape by message name, so the generic codec does the wire work.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::Error;
use crate::encode::type_error;

mod duration;

const TIME: &str = "apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "apimachinery.pkg.apis.meta.v1.Duration";
const FIELDS_V1: &str = "apimachinery.pkg.apis.meta.v1.FieldsV1";
const RAW_EXTENSION: &str = "apimachinery.pkg.runtime.RawExtension";
const INT_OR_STRING: &str = "apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "apimachinery.pkg.api.resource.Quantity";
const CRD: &str = "apiextensions_apiserver.pkg.apis.apiextensions.v1";

/// Go string slices with a named type (`ExtraValue []string`, `Verbs []string`): a message with
/// one repeated `items` field on the wire, a plain array in JSON.
fn is_string_list(name: &str) -> bool {
    name.ends_with(".ExtraValue") || name == "apimachinery.pkg.apis.meta.v1.Verbs"
}

/// The JSON forms that are embedded JSON documents on the wire (a `raw` bytes field).
fn is_raw_json(name: &str) -> bool {
    matches!(name, FIELDS_V1 | RAW_EXTENSION) || name.strip_prefix(CRD) == Some(".Json")
}

/// `value` in the table shape of message `name`, when its JSON form differs from it.
pub fn to_table_shape(name: &str, value: &Value, path: &str) -> Result<Option<Value>, Error> {
    let shaped = match (name, value) {
        (TIME | MICRO_TIME, Value::String(s)) => {
            let ts: jiff::Timestamp = s.parse().map_err(|_| invalid(path, "timestamp", s))?;
            json!({"seconds": ts.as_second(), "nanos": ts.subsec_nanosecond()})
        }
        (DURATION, Value::String(s)) => {
            let nanos = duration::parse(s).ok_or_else(|| invalid(path, "duration", s))?;
            json!({"duration": nanos})
        }
        (INT_OR_STRING, Value::Number(n)) => {
            let n = n.as_i64().ok_or_else(|| type_error(path, "an integer"))?;
            json!({"type": 0, "intVal": n, "strVal": ""})
        }
        (INT_OR_STRING, Value::String(s)) => json!({"type": 1, "intVal": 0, "strVal": s}),
        (name, Value::Array(_)) if is_string_list(name) => json!({"items": value}),
        (QUANTITY, Value::String(s)) => json!({"string": s}),
        (QUANTITY, Value::Number(n)) => json!({"string": n.to_string()}),
        (name, v) if is_raw_json(name) => {
            let raw = serde_json::to_vec(v).expect("JSON values serialize");
            json!({"raw": base64::engine::general_purpose::STANDARD.encode(raw)})
        }
        (name, v) => match (name.strip_prefix(CRD), v) {
            (Some(".JsonSchemaPropsOrArray"), Value::Array(_)) => json!({"jSonSchemas": v}),
            (
                Some(".JsonSchemaPropsOrArray" | ".JsonSchemaPropsOrStringArray"),
                Value::Object(_),
            ) => {
                json!({"schema": v})
            }
            (Some(".JsonSchemaPropsOrStringArray"), Value::Array(_)) => json!({"property": v}),
            (Some(".JsonSchemaPropsOrBool"), Value::Bool(b)) => json!({"allows": b}),
            (Some(".JsonSchemaPropsOrBool"), Value::Object(_)) => {
                json!({"allows": true, "schema": v})
            }
            _ => return Ok(None),
        },
    };
    Ok(Some(shaped))
}

/// The JSON form of message `name` decoded in its table shape.
pub fn from_table_shape(name: &str, shaped: Value, path: &str) -> Result<Value, Error> {
    let field = |f: &str| shaped.get(f).cloned().unwrap_or(Value::Null);
    let int = |f: &str| shaped.get(f).and_then(Value::as_i64).unwrap_or(0);
    Ok(match name {
        // An empty Time is Go's zero time, which Kubernetes JSON writes as null.
        TIME | MICRO_TIME if shaped.as_object().is_some_and(|o| o.is_empty()) => Value::Null,
        TIME | MICRO_TIME => {
            let ts = jiff::Timestamp::new(int("seconds"), int("nanos") as i32)
                .map_err(|_| invalid(path, "timestamp", &shaped.to_string()))?;
            // metav1.Time is whole seconds in JSON (RFC 3339); MicroTime has six digits.
            let text = if name == TIME {
                format!("{:.0}", ts)
            } else {
                format!("{:.6}", ts)
            };
            Value::String(text)
        }
        DURATION => Value::String(duration::format(int("duration"))),
        INT_OR_STRING if int("type") == 1 => match field("strVal") {
            Value::Null => Value::String(String::new()),
            s => s,
        },
        INT_OR_STRING => Value::from(int("intVal")),
        name if is_string_list(name) => match field("items") {
            Value::Null => json!([]),
            items => items,
        },
        QUANTITY => match field("string") {
            Value::String(s) if !s.is_empty() => Value::String(s),
            _ => Value::String("0".into()),
        },
        name if is_raw_json(name) => match shaped.get("raw").and_then(Value::as_str) {
            None => Value::Null,
            Some(b64) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("the decoder wrote this base64");
                serde_json::from_slice(&raw)
                    .map_err(|_| invalid(path, "embedded JSON", &String::from_utf8_lossy(&raw)))?
            }
        },
        name => match name.strip_prefix(CRD) {
            Some(".JsonSchemaPropsOrArray") if shaped.get("jSonSchemas").is_some() => {
                field("jSonSchemas")
            }
            Some(".JsonSchemaPropsOrStringArray") if shaped.get("property").is_some() => {
                field("property")
            }
            Some(".JsonSchemaPropsOrBool") if shaped.get("schema").is_none() => Value::Bool(
                shaped
                    .get("allows")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
            Some(
                ".JsonSchemaPropsOrArray"
                | ".JsonSchemaPropsOrStringArray"
                | ".JsonSchemaPropsOrBool",
            ) => field("schema"),
            _ => shaped,
        },
    })
}

fn invalid(path: &str, what: &'static str, value: &str) -> Error {
    Error::Invalid {
        path: path.to_string(),
        what,
        value: value.to_string(),
    }
}
