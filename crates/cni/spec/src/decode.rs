//! JSON decoding that names the offending field. A syntax error is the spec's code 6
//! (decode failure); a well-formed document with a wrong type or a missing field is
//! reported with its JSON path under the code the caller chooses.

use serde::de::DeserializeOwned;

use crate::error::{CniError, ErrorCode};

/// Decodes `bytes` as `T`; `what` names the document ("network config", "prevResult").
pub fn json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, CniError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| describe(e, what))
}

/// Decodes an already parsed JSON value as `T`.
pub fn value<T: DeserializeOwned>(v: &serde_json::Value, what: &str) -> Result<T, CniError> {
    serde_path_to_error::deserialize(v).map_err(|e| describe(e, what))
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>, what: &str) -> CniError {
    let path = e.path().to_string();
    let inner = e.inner();
    let msg = if path == "." || path.is_empty() {
        format!("failed to decode {what}: {inner}")
    } else {
        format!("failed to decode {what}: field {path:?}: {inner}")
    };
    CniError::new(ErrorCode::DECODE_FAILURE, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Conf {
        mtu: Option<u32>,
        ipam: Option<Ipam>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Ipam {
        ranges: Vec<u8>,
    }

    #[test]
    fn names_the_field_path() {
        let err = json::<Conf>(br#"{"ipam":{"ranges":["x"]}}"#, "network config").unwrap_err();
        assert_eq!(err.code, ErrorCode::DECODE_FAILURE);
        assert!(err.msg.contains("\"ipam.ranges[0]\""), "{}", err.msg);
    }

    #[test]
    fn syntax_errors_are_decode_failures() {
        let err = json::<Conf>(b"{not json", "network config").unwrap_err();
        assert_eq!(err.code, ErrorCode::DECODE_FAILURE);
        assert!(
            err.msg.starts_with("failed to decode network config"),
            "{}",
            err.msg
        );
    }
}
