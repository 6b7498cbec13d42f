//! Secrets and ServiceAccounts (core/v1), with kube-apiserver's `ValidateSecret`,
//! `ValidateSecretUpdate` and `ValidateServiceAccount` wording.

use serde_json::Value;

use super::{Errors, object_meta};

/// The most a Secret's `data` may hold in total (upstream's `MaxSecretSize`, 1 MiB).
const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// Message of an update that changes a field the object's `immutable: true` froze.
const FROZEN: &str = "field is immutable when `immutable` is set";

pub fn service_account(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
}

pub fn secret(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let data = obj["data"].as_object();
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        super::core::config_key(key, &format!("data[{key}]"), errs);
        size += decoded_len(value);
    }
    if size > MAX_SECRET_SIZE {
        errs.too_long("data", MAX_SECRET_SIZE);
    }
    let has = |key: &str| data.is_some_and(|d| d.contains_key(key));
    match obj["type"].as_str().unwrap_or("Opaque") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if obj["metadata"]["annotations"][annotation]
                .as_str()
                .is_none_or(str::is_empty)
            {
                errs.required(&format!("metadata.annotations[{annotation}]"));
            }
        }
        "kubernetes.io/dockercfg" => required_json(obj, ".dockercfg", errs),
        "kubernetes.io/dockerconfigjson" => required_json(obj, ".dockerconfigjson", errs),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.required("data[username]");
            errs.required("data[password]");
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errs.required("data[ssh-privatekey]");
        }
        "kubernetes.io/tls" => {
            for key in ["tls.key", "tls.crt"] {
                if !has(key) {
                    errs.required(&format!("data[{key}]"));
                }
            }
        }
        _ => {}
    }
}

/// What an update may not change: the type, and anything an `immutable: true` froze.
pub fn secret_update(old: &Value, new: &Value, errs: &mut Errors) {
    let type_of = |o: &Value| o["type"].as_str().unwrap_or("Opaque").to_string();
    if type_of(old) != type_of(new) {
        errs.invalid("type", &new["type"], "field is immutable");
    }
    if old["immutable"] == Value::Bool(true) {
        if new["immutable"] != Value::Bool(true) {
            errs.forbidden("immutable", FROZEN);
        }
        if old["data"] != new["data"] {
            errs.forbidden("data", FROZEN);
        }
    }
}

/// The bytes behind one base64 `data` value (its shape was checked when decoding).
fn decoded_len(value: &Value) -> usize {
    let text = value.as_str().unwrap_or("");
    text.trim_end_matches('=').len() * 3 / 4
}

/// A key that must be present and hold JSON, as the docker config kinds need.
fn required_json(obj: &Value, key: &str, errs: &mut Errors) {
    use base64::Engine as _;
    let field = format!("data[{key}]");
    let Some(encoded) = obj["data"][key].as_str() else {
        errs.required(&field);
        return;
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_default();
    if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
        errs.invalid(
            &field,
            &Value::String("<secret contents redacted>".into()),
            &e.to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn causes(obj: Value) -> Vec<(String, String)> {
        let mut errs = Errors::default();
        secret(&obj, &mut errs);
        errs.0.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn opaque_secret_with_valid_keys_is_valid() {
        let obj = json!({"metadata": {"name": "s", "namespace": "default"},
            "data": {"user.name": b64("a"), "PASS_WORD-1": b64("b")}});
        assert_eq!(causes(obj), vec![]);
    }

    #[test]
    fn data_keys_must_be_config_keys() {
        let obj = json!({"metadata": {"name": "s"}, "data": {"a/b": b64("x")}});
        let got = causes(obj);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "data[a/b]");
        assert!(
            got[0]
                .1
                .starts_with("Invalid value: \"a/b\": a valid config key")
        );
    }

    #[test]
    fn tls_secret_needs_both_key_and_certificate() {
        let obj = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": b64("c")}});
        assert_eq!(
            causes(obj),
            vec![("data[tls.key]".into(), "Required value".into())]
        );
    }

    #[test]
    fn dockerconfigjson_must_be_present_and_json() {
        let missing = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson"});
        assert_eq!(
            causes(missing),
            vec![("data[.dockerconfigjson]".into(), "Required value".into())]
        );
        let garbage = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64("{not json")}});
        let got = causes(garbage);
        assert_eq!(got[0].0, "data[.dockerconfigjson]");
        assert!(
            got[0]
                .1
                .starts_with("Invalid value: \"<secret contents redacted>\"")
        );
    }

    #[test]
    fn service_account_token_secret_names_its_account() {
        let obj = json!({"metadata": {"name": "s"},
            "type": "kubernetes.io/service-account-token"});
        assert_eq!(
            causes(obj),
            vec![(
                "metadata.annotations[kubernetes.io/service-account.name]".into(),
                "Required value".into()
            )]
        );
    }

    #[test]
    fn oversized_data_is_too_long() {
        let obj = json!({"metadata": {"name": "s"},
            "data": {"big": b64(&"x".repeat(MAX_SECRET_SIZE + 1))}});
        assert_eq!(
            causes(obj),
            vec![(
                "data".into(),
                "Too long: must have at most 1048576 bytes".into()
            )]
        );
    }

    #[test]
    fn type_cannot_change_and_immutable_data_is_frozen() {
        let old = json!({"type": "Opaque", "immutable": true, "data": {"a": b64("1")}});
        let new = json!({"type": "kubernetes.io/tls", "immutable": true, "data": {"a": b64("2")}});
        let mut errs = Errors::default();
        secret_update(&old, &new, &mut errs);
        let fields: Vec<&str> = errs.0.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["type", "data"]);
        assert_eq!(
            errs.0[0].message,
            "Invalid value: \"kubernetes.io/tls\": field is immutable"
        );
    }
}
