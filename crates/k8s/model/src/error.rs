/// An object that cannot be turned into intent, with the object and the field at fault,
/// as the API server would name them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} {name:?}: {field}: {value:?} is not {want}")]
    Invalid {
        kind: &'static str,
        name: String,
        field: String,
        value: String,
        want: &'static str,
    },
    #[error("{kind} without metadata.name")]
    Unnamed { kind: &'static str },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
