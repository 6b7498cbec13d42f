//! Identity: who a request is and what service-account tokens say.
//!
//! - [`signing`]: the key that signs service-account tokens, kept in a file.
//! - [`token`]: the tokens' claims, issued and verified (pure).
//! - [`token_request`]: `serviceaccounts/NAME/token` (authentication.k8s.io/v1 TokenRequest).
//! - [`authn`]: bearer tokens (static ones and service-account JWTs) → [`UserInfo`].
//! - [`x509`]: a verified client certificate → [`UserInfo`] (CN user, O groups).
//! - [`impersonate`]: `Impersonate-*` headers, allowed by the `impersonate` verb.
//! - [`user`]: the user and the well-known groups.

pub mod authn;
pub mod impersonate;
pub mod signing;
pub mod token;
pub mod token_request;
pub mod user;
pub mod x509;

pub use signing::{KeyError, SigningKey};
pub use user::UserInfo;

/// A bearer token of a fixed user (a line of kube-apiserver's `--token-auth-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticToken {
    pub token: String,
    pub user: UserInfo,
}

/// What authentication needs, shared by every request.
pub struct Auth {
    pub signing_key: SigningKey,
    pub static_tokens: Vec<StaticToken>,
    /// See [`crate::Config::anonymous_is_admin`].
    pub anonymous_is_admin: bool,
}
