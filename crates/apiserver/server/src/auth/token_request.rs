//! `POST .../serviceaccounts/NAME/token`: the TokenRequest API (authentication.k8s.io/v1),
//! as kube-apiserver's serviceaccount token REST: defaults, validation, the bound object's
//! checks, and a signed token in `status`.

use axum::http::StatusCode;
use ring::rand::SecureRandom as _;
use serde_json::{Value, json};

use super::token::{self, Claims, ISSUER, Private, Ref};
use crate::App;
use crate::error::ApiError;
use crate::http::{Reply, Req, Target};
use crate::resources::ResourceType;
use crate::validate::Errors;

/// kube-apiserver's default lifetime when the request names none.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// `ValidateTokenRequest`'s bounds.
const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

pub fn create(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let namespace = t.namespace.as_deref().unwrap_or_default();
    let name = t.name.as_deref().unwrap_or_default();
    let mut request = req.object()?;
    let spec = &mut request["spec"];
    if spec["expirationSeconds"].as_i64().is_none() {
        spec["expirationSeconds"] = json!(DEFAULT_EXPIRATION_SECONDS);
    }
    if spec["audiences"].as_array().is_none_or(Vec::is_empty) {
        spec["audiences"] = json!([ISSUER]);
    }
    validate(&request)?;
    let account = get(app, "serviceaccounts", namespace, name)?;
    let bound = bound_object(app, namespace, name, &request["spec"]["boundObjectRef"])?;

    let now = jiff::Timestamp::now().as_second();
    let lifetime = request["spec"]["expirationSeconds"]
        .as_i64()
        .expect("defaulted above");
    let audiences = request["spec"]["audiences"]
        .as_array()
        .expect("defaulted above")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let (pod, secret) = match bound {
        Some(("Pod", r)) => (Some(r), None),
        Some((_, r)) => (None, Some(r)),
        None => (None, None),
    };
    let claims = Claims {
        aud: audiences,
        exp: now + lifetime,
        iat: now,
        iss: ISSUER.into(),
        jti: random_uuid(),
        kubernetes: Private {
            namespace: namespace.into(),
            pod,
            secret,
            serviceaccount: Ref {
                name: name.into(),
                uid: uid_of(&account),
            },
        },
        nbf: now,
        sub: token::subject(namespace, name),
    };
    let signed = token::issue(&app.auth.signing_key, &claims);
    let expires = jiff::Timestamp::from_second(claims.exp).expect("a lifetime of ≤ 2^32 s fits");
    tracing::info!(%namespace, serviceaccount = %name, lifetime, "issued a token");
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({"name": name, "namespace": namespace,
        "creationTimestamp": jiff::Timestamp::from_second(now).expect("now fits").to_string()});
    request["status"] = json!({"token": signed,
        "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
    Ok(Reply::with(StatusCode::CREATED, request))
}

fn validate(request: &Value) -> Result<(), ApiError> {
    let mut errs = Errors::default();
    let seconds = &request["spec"]["expirationSeconds"];
    let field = "spec.expirationSeconds";
    match seconds.as_i64() {
        Some(s) if s < MIN_EXPIRATION_SECONDS => {
            errs.invalid(
                field,
                seconds,
                "may not specify a duration less than 10 minutes",
            );
        }
        Some(s) if s > MAX_EXPIRATION_SECONDS => {
            errs.invalid(
                field,
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            );
        }
        _ => {}
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            group: "authentication.k8s.io",
            kind: "TokenRequest",
            name: String::new(),
            causes: errs.0,
        })
    }
}

/// The object a token is bound to (a Pod running as this account, or a Secret), which must
/// exist with the uid the request names.
fn bound_object(
    app: &App,
    namespace: &str,
    account: &str,
    reference: &Value,
) -> Result<Option<(&'static str, Ref)>, ApiError> {
    if !reference.is_object() {
        return Ok(None);
    }
    let kind = reference["kind"].as_str().unwrap_or_default();
    let name = reference["name"].as_str().unwrap_or_default();
    let (kind, plural) = match kind {
        "Pod" => ("Pod", "pods"),
        "Secret" => ("Secret", "secrets"),
        other => {
            return Err(ApiError::BadRequest(format!(
                "cannot bind token against object of kind {other}"
            )));
        }
    };
    let object = get(app, plural, namespace, name)?;
    let uid = uid_of(&object);
    if let Some(wanted) = reference["uid"].as_str().filter(|u| !u.is_empty())
        && wanted != uid
    {
        return Err(ApiError::Conflict {
            qualified: plural.into(),
            name: name.into(),
            message: format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in \
                 record. The object might have been deleted and then recreated"
            ),
        });
    }
    if kind == "Pod" {
        let runs_as = object["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default");
        if runs_as != account {
            return Err(ApiError::BadRequest(format!(
                "cannot bind token for serviceaccount {account:?} to pod running with \
                 different serviceaccount name."
            )));
        }
    }
    Ok(Some((
        kind,
        Ref {
            name: name.into(),
            uid,
        },
    )))
}

fn get(app: &App, plural: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
    let rt = ResourceType::find("", "v1", plural).expect("core kinds are served");
    let obj = app.store.get(&rt.store_resource().key(namespace, name))?;
    Ok((*obj).clone())
}

fn uid_of(obj: &Value) -> String {
    obj["metadata"]["uid"].as_str().unwrap_or_default().into()
}

/// A version-4 UUID for the token's `jti`.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the system RNG works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
