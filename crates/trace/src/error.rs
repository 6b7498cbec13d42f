use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// SRC or DST is not one of the forms `podnet trace` knows.
    #[error("{what} {text:?}: {reason}")]
    BadAddress {
        what: &'static str,
        text: String,
        reason: String,
    },
    /// SRC or DST names an object the cluster does not have.
    #[error("{what} {name} not found")]
    NotFound { what: &'static str, name: String },
    #[error("listing {resource}: {source}")]
    List {
        resource: &'static str,
        #[source]
        source: kube::Error,
    },
}
