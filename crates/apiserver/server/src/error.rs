//! Errors as the API server reports them: a `metav1.Status` with the matching HTTP code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use podnet_apiserver_store::{ObjectKey, StoreError};
use serde_json::{Value, json};

use crate::negotiate::Encoding;
use crate::resources::ResourceType;
use crate::validate::Cause;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{qualified} \"{name}\" not found")]
    NotFound { qualified: String, name: String },

    #[error("{qualified} \"{name}\" already exists")]
    AlreadyExists { qualified: String, name: String },

    #[error("Operation cannot be fulfilled on {qualified} \"{name}\": {message}")]
    Conflict {
        qualified: String,
        name: String,
        message: String,
    },

    #[error("{kind} \"{name}\" is invalid: {}", summary(.causes))]
    Invalid {
        group: &'static str,
        kind: &'static str,
        name: String,
        causes: Vec<Cause>,
    },

    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },

    #[error("{0}")]
    BadRequest(String),

    #[error("{0}")]
    Forbidden(String),

    /// Credentials were given but are not valid (upstream says no more than this).
    #[error("Unauthorized")]
    Unauthorized,

    #[error("the server could not find the requested resource")]
    NoSuchPath,

    #[error("{0}")]
    MethodNotAllowed(String),

    #[error("{0}")]
    UnsupportedMediaType(String),

    #[error("{0}")]
    Internal(String),
}

fn summary(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

// === impl ApiError ===

impl ApiError {
    pub fn from_store(err: StoreError) -> Self {
        let named = |key: &ObjectKey| (key.resource.to_string(), key.name.clone());
        match err {
            StoreError::NotFound { key } => {
                let (qualified, name) = named(&key);
                ApiError::NotFound { qualified, name }
            }
            StoreError::AlreadyExists { key } => {
                let (qualified, name) = named(&key);
                ApiError::AlreadyExists { qualified, name }
            }
            StoreError::Conflict { key, message } => {
                let (qualified, name) = named(&key);
                ApiError::Conflict {
                    qualified,
                    name,
                    message,
                }
            }
            StoreError::Expired { requested, oldest } => ApiError::Expired { requested, oldest },
            StoreError::Selector(message) => {
                ApiError::BadRequest(format!("unable to parse requirement: {message}"))
            }
            StoreError::NameRequired => ApiError::Invalid {
                group: "",
                kind: "Object",
                name: String::new(),
                causes: vec![Cause::required("metadata.name")],
            },
            other @ (StoreError::Io { .. } | StoreError::Corrupt { .. }) => {
                ApiError::Internal(other.to_string())
            }
        }
    }

    /// An Invalid error for one object of `rt`.
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        ApiError::Invalid {
            group: rt.group,
            kind: rt.kind,
            name: name.to_string(),
            causes,
        }
    }

    fn code_and_reason(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound { .. } | ApiError::NoSuchPath => (StatusCode::NOT_FOUND, "NotFound"),
            ApiError::AlreadyExists { .. } => (StatusCode::CONFLICT, "AlreadyExists"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "Conflict"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
            ApiError::Expired { .. } => (StatusCode::GONE, "Expired"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let (code, reason) = self.code_and_reason();
        let details = match self {
            ApiError::NotFound { qualified, name }
            | ApiError::AlreadyExists { qualified, name }
            | ApiError::Conflict {
                qualified, name, ..
            } => {
                let (kind, group) = qualified.split_once('.').unwrap_or((qualified, ""));
                Some(json!({"name": name, "group": group, "kind": kind}))
            }
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => Some(json!({"name": name, "group": group, "kind": kind, "causes": causes})),
            _ => None,
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code.as_u16(),
        });
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::from_store(err)
    }
}

impl ApiError {
    /// The Status reply in `encoding` (Status has a protobuf form, so typed clients get one).
    pub fn respond(self, encoding: Encoding) -> Response {
        let (code, _) = self.code_and_reason();
        tracing::debug!(code = code.as_u16(), error = %self, "request failed");
        crate::negotiate::response(code, &self.status(), encoding)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(Encoding::Json)
    }
}
