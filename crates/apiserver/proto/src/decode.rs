//! Protobuf → JSON: walks the message table; fields the table does not know are skipped (a newer
//! client's additions), as protobuf readers do.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::table::{self, Scalar, Type};
use crate::wire::{Raw, Reader};
use crate::{Error, special};

/// How strictly the decoded JSON follows the wire.
#[derive(Clone, Copy)]
pub struct Options {
    /// Leave out singular string fields that are present but empty. Go writes every non-pointer
    /// string, set or not, while its JSON omits empty ones and its defaulting treats "" as
    /// unset: a request decoded this way reads as the client's JSON would have.
    pub omit_empty_strings: bool,
}

pub const FAITHFUL: Options = Options {
    omit_empty_strings: false,
};

pub fn message(name: &str, bytes: &[u8], path: &str, opts: Options) -> Result<Value, Error> {
    let msg = table::message(name).ok_or_else(|| Error::UnknownKind {
        api_version: String::new(),
        kind: name.to_string(),
    })?;
    let mut obj = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, raw)) = reader.field().map_err(|r| malformed(path, r))? {
        let Some(field) = msg.fields.iter().find(|f| f.tag == tag) else {
            continue;
        };
        let path = format!("{path}.{}", field.json);
        match field.ty {
            Type::Map(value_ty) => {
                let Raw::Len(entry) = raw else {
                    return Err(malformed(&path, "map entry is not length-delimited"));
                };
                let (key, value) = map_entry(*value_ty, entry, &path, opts)?;
                let map = obj
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
            }
            ty if field.repeated => {
                let items = obj
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = items else {
                    unreachable!("repeated fields are arrays");
                };
                match (ty, raw) {
                    // Packed repeated numbers: one length-delimited run of varints.
                    (Type::Scalar(s @ (Scalar::Int32 | Scalar::Int64)), Raw::Len(run)) => {
                        let mut r = Reader::new(run);
                        while !r.is_empty() {
                            let v = r.varint().map_err(|e| malformed(&path, e))?;
                            items.push(varint_value(s, v));
                        }
                    }
                    (ty, raw) => items.push(value(ty, raw, &path, opts)?),
                }
            }
            ty => match value(ty, raw, &path, opts)? {
                Value::Object(embedded) if field.inline => obj.extend(embedded),
                Value::String(s) if s.is_empty() && opts.omit_empty_strings => {}
                v => {
                    obj.insert(field.json.to_string(), v);
                }
            },
        }
    }
    special::from_table_shape(name, Value::Object(obj), path)
}

fn map_entry(
    value_ty: Type,
    entry: &[u8],
    path: &str,
    opts: Options,
) -> Result<(String, Value), Error> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(entry);
    while let Some((tag, raw)) = reader.field().map_err(|r| malformed(path, r))? {
        match (tag, raw) {
            (1, Raw::Len(k)) => key = utf8(k, path)?,
            (2, raw) => value = Some(self::value(value_ty, raw, path, opts)?),
            _ => {}
        }
    }
    // An absent value is the type's empty value (protobuf map semantics).
    let value = match value {
        Some(v) => v,
        None => self::value(value_ty, Raw::Len(&[]), path, opts)?,
    };
    Ok((key, value))
}

fn value(ty: Type, raw: Raw<'_>, path: &str, opts: Options) -> Result<Value, Error> {
    match (ty, raw) {
        (Type::Message(name), Raw::Len(bytes)) => message(name, bytes, path, opts),
        (Type::Scalar(Scalar::String), Raw::Len(bytes)) => Ok(Value::String(utf8(bytes, path)?)),
        (Type::Scalar(Scalar::Bytes), Raw::Len(bytes)) => Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
        (Type::Scalar(s @ (Scalar::Bool | Scalar::Int32 | Scalar::Int64)), Raw::Varint(v)) => {
            Ok(varint_value(s, v))
        }
        (Type::Scalar(Scalar::Double), Raw::Fixed64(bits)) => {
            Ok(serde_json::Number::from_f64(f64::from_bits(bits))
                .map_or(Value::Null, Value::Number))
        }
        _ => Err(malformed(path, "wire type does not match the field's type")),
    }
}

fn varint_value(s: Scalar, v: u64) -> Value {
    match s {
        Scalar::Bool => Value::Bool(v != 0),
        // int32 travels sign-extended; truncating gives back the value.
        Scalar::Int32 => Value::from(v as i64 as i32),
        _ => Value::from(v as i64),
    }
}

fn utf8(bytes: &[u8], path: &str) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(path, "string is not UTF-8"))
}

pub fn malformed(path: &str, reason: &'static str) -> Error {
    Error::Malformed {
        path: path.to_string(),
        reason,
    }
}
