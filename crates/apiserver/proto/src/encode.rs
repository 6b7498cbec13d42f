//! JSON → protobuf: walks the message table, writing present fields in tag order. Absent and
//! null fields are not written; present empty strings, zeros and empty messages are (proto2
//! presence), so a decode gives back the same JSON.

use base64::Engine as _;
use serde_json::Value;

use crate::table::{self, Field, Scalar, Type};
use crate::wire::{self, put_key, put_len, put_varint};
use crate::{Error, special};

pub fn message(name: &str, value: &Value, path: &str) -> Result<Vec<u8>, Error> {
    let shaped = special::to_table_shape(name, value, path)?;
    let value = shaped.as_ref().unwrap_or(value);
    let msg = table::message(name).ok_or_else(|| Error::UnknownKind {
        api_version: String::new(),
        kind: name.to_string(),
    })?;
    let obj = value
        .as_object()
        .ok_or_else(|| type_error(path, "an object"))?;
    let mut out = Vec::new();
    for field in msg.fields {
        if let (true, Type::Message(inner)) = (field.inline, field.ty) {
            // The embedded struct's fields are the parent's in JSON; Go always writes it.
            put_len(&mut out, field.tag, &message(inner, value, path)?);
            continue;
        }
        let Some(v) = obj.get(field.json).filter(|v| !v.is_null()) else {
            continue;
        };
        let path = format!("{path}.{}", field.json);
        if field.repeated {
            let items = v.as_array().ok_or_else(|| type_error(&path, "an array"))?;
            for (i, item) in items.iter().enumerate() {
                one(&mut out, field, field.ty, item, &format!("{path}[{i}]"))?;
            }
        } else {
            one(&mut out, field, field.ty, v, &path)?;
        }
    }
    Ok(out)
}

fn one(out: &mut Vec<u8>, field: &Field, ty: Type, v: &Value, path: &str) -> Result<(), Error> {
    match ty {
        Type::Scalar(s) => scalar(out, field.tag, s, v, path),
        Type::Message(name) => {
            let bytes = message(name, v, path)?;
            put_len(out, field.tag, &bytes);
            Ok(())
        }
        Type::Map(value_ty) => {
            let entries = v.as_object().ok_or_else(|| type_error(path, "an object"))?;
            for (key, value) in entries {
                // A map entry is a message {1: key, 2: value}.
                let mut entry = Vec::new();
                put_len(&mut entry, 1, key.as_bytes());
                let entry_field = Field {
                    json: "",
                    tag: 2,
                    repeated: false,
                    inline: false,
                    ty: *value_ty,
                };
                one(
                    &mut entry,
                    &entry_field,
                    *value_ty,
                    value,
                    &format!("{path}.{key}"),
                )?;
                put_len(out, field.tag, &entry);
            }
            Ok(())
        }
    }
}

fn scalar(out: &mut Vec<u8>, tag: u32, s: Scalar, v: &Value, path: &str) -> Result<(), Error> {
    match s {
        Scalar::String => {
            let s = v.as_str().ok_or_else(|| type_error(path, "a string"))?;
            put_len(out, tag, s.as_bytes());
        }
        Scalar::Bytes => {
            let s = v
                .as_str()
                .ok_or_else(|| type_error(path, "a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| Error::Invalid {
                    path: path.to_string(),
                    what: "base64",
                    value: s.to_string(),
                })?;
            put_len(out, tag, &bytes);
        }
        Scalar::Bool => {
            let b = v.as_bool().ok_or_else(|| type_error(path, "a boolean"))?;
            put_key(out, tag, wire::VARINT);
            put_varint(out, u64::from(b));
        }
        Scalar::Int32 | Scalar::Int64 => {
            let n = integer(v).ok_or_else(|| type_error(path, "an integer"))?;
            if s == Scalar::Int32 && i32::try_from(n).is_err() {
                return Err(type_error(path, "a 32-bit integer"));
            }
            // Negative ints are sign-extended to ten bytes, as protobuf's int32/int64 are.
            put_key(out, tag, wire::VARINT);
            put_varint(out, n as u64);
        }
        Scalar::Double => {
            let f = v.as_f64().ok_or_else(|| type_error(path, "a number"))?;
            put_key(out, tag, wire::FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
    }
    Ok(())
}

/// An integer, also when JSON spelled it as an integral float (`3.0`).
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    })
}

pub fn type_error(path: &str, expected: &'static str) -> Error {
    Error::Type {
        path: path.to_string(),
        expected,
    }
}
