//! Service-account tokens as upstream issues them: a JWS (ES256 here) whose claims name the
//! issuer, audiences, lifetime, subject and, under `kubernetes.io`, the namespace, the
//! ServiceAccount and the object the token is bound to. Pure: the key and the time are given.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::signing::SigningKey;

/// The lab's `--service-account-issuer`, kind's default; also its only API audience.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Private,
    pub nbf: i64,
    pub sub: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    pub serviceaccount: Ref,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

/// Why a bearer token is not a valid service-account token of this server.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("invalid signature")]
    Signature,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("issuer {0:?} is not this cluster's")]
    Issuer(String),
    #[error("token audiences {0:?} do not include {ISSUER:?}")]
    Audience(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    kid: String,
}

/// `system:serviceaccount:NS:NAME`.
pub fn subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The signed compact JWS of `claims`.
pub fn issue(key: &SigningKey, claims: &Claims) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = Header {
        alg: "ES256".into(),
        kid: key.key_id().into(),
    };
    let header = b64.encode(serde_json::to_vec(&header).expect("headers serialize"));
    let payload = b64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let signature = b64.encode(key.sign(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The claims of a token this key signed, for this cluster, valid at `now` (Unix seconds).
pub fn verify(key: &SigningKey, token: &str, now: i64) -> Result<Claims, TokenError> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let malformed = |what: &str| TokenError::Malformed(what.into());
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not a compact JWS"));
    };
    let decoded_header = b64.decode(header).map_err(|_| malformed("header"))?;
    let parsed: Header =
        serde_json::from_slice(&decoded_header).map_err(|_| malformed("header"))?;
    if parsed.alg != "ES256" {
        return Err(TokenError::Signature);
    }
    let signature = b64.decode(signature).map_err(|_| malformed("signature"))?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(TokenError::Signature);
    }
    let payload = b64.decode(payload).map_err(|_| malformed("payload"))?;
    let claims: Claims =
        serde_json::from_slice(&payload).map_err(|e| malformed(&format!("claims: {e}")))?;
    if claims.iss != ISSUER {
        return Err(TokenError::Issuer(claims.iss));
    }
    if !claims.aud.iter().any(|a| a == ISSUER) {
        return Err(TokenError::Audience(claims.aud));
    }
    // Upstream allows a minute of clock skew each way.
    const LEEWAY: i64 = 60;
    if now > claims.exp + LEEWAY {
        return Err(TokenError::Expired);
    }
    if now + LEEWAY < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64, lifetime: i64) -> Claims {
        Claims {
            aud: vec![ISSUER.into()],
            exp: now + lifetime,
            iat: now,
            iss: ISSUER.into(),
            jti: "j".into(),
            kubernetes: Private {
                namespace: "default".into(),
                pod: Some(Ref {
                    name: "web".into(),
                    uid: "p-uid".into(),
                }),
                secret: None,
                serviceaccount: Ref {
                    name: "default".into(),
                    uid: "sa-uid".into(),
                },
            },
            nbf: now,
            sub: subject("default", "default"),
        }
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let key = SigningKey::generate();
        let want = claims(1_000_000, 3600);
        let token = issue(&key, &want);
        assert_eq!(verify(&key, &token, 1_000_100), Ok(want));
    }

    #[test]
    fn the_claims_are_upstreams_names() {
        let json = serde_json::to_value(claims(10, 600)).unwrap();
        assert_eq!(json["sub"], "system:serviceaccount:default:default");
        assert_eq!(json["kubernetes.io"]["serviceaccount"]["uid"], "sa-uid");
        assert_eq!(json["kubernetes.io"]["pod"]["name"], "web");
        assert!(json["kubernetes.io"].get("secret").is_none());
    }

    #[test]
    fn expired_future_foreign_and_tampered_tokens_are_refused() {
        let key = SigningKey::generate();
        let token = issue(&key, &claims(1_000_000, 600));
        assert_eq!(
            verify(&key, &token, 1_000_000 + 600 + 61),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&key, &token, 1_000_000 - 61),
            Err(TokenError::NotYetValid)
        );
        let other = SigningKey::generate();
        assert_eq!(
            verify(&other, &token, 1_000_000),
            Err(TokenError::Signature)
        );

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut forged = claims(1_000_000, 600);
        forged.kubernetes.serviceaccount.name = "admin".into();
        let forged_payload = b64.encode(serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(
            verify(&key, &tampered, 1_000_000),
            Err(TokenError::Signature)
        );
        assert!(matches!(
            verify(&key, "not-a-token", 1_000_000),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn a_token_for_another_audience_is_not_for_the_api() {
        let key = SigningKey::generate();
        let mut other = claims(1_000_000, 600);
        other.aud = vec!["vault".into()];
        let token = issue(&key, &other);
        assert_eq!(
            verify(&key, &token, 1_000_000),
            Err(TokenError::Audience(vec!["vault".into()]))
        );
    }
}
