/// Why a name, a message or a zone setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{name:?}: {reason}")]
    Name { name: String, reason: &'static str },
    #[error("zone {zone:?}: {reason}")]
    Zone { zone: String, reason: &'static str },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
