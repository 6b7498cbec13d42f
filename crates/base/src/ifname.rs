use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Linux's IFNAMSIZ is 16 including the terminating NUL.
const MAX_LEN: usize = 15;

/// A network interface name as the kernel accepts it: 1–15 bytes, no `/`, no whitespace,
/// no `:`, and neither `.` nor `..`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IfName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfNameError {
    #[error("interface name is empty")]
    Empty,
    #[error("interface name {name:?} is {len} bytes long, the kernel allows at most {MAX_LEN}")]
    TooLong { name: String, len: usize },
    #[error("interface name {name:?} contains {bad:?}, which the kernel does not allow")]
    BadChar { name: String, bad: char },
    #[error("interface name {0:?} is reserved")]
    Reserved(String),
}

// === impl IfName ===

impl IfName {
    pub fn new(name: impl Into<String>) -> Result<Self, IfNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(IfNameError::Empty);
        }
        if name.len() > MAX_LEN {
            let len = name.len();
            return Err(IfNameError::TooLong { name, len });
        }
        if name == "." || name == ".." {
            return Err(IfNameError::Reserved(name));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| *c == '/' || *c == ':' || c.is_whitespace())
        {
            return Err(IfNameError::BadChar { name, bad });
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IfName {
    type Err = IfNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for IfName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kernel_valid_names() {
        for n in ["eth0", "veth1234567890a", "cni0", "a"] {
            assert_eq!(IfName::new(n).unwrap().as_str(), n);
        }
    }

    #[test]
    fn rejects_what_the_kernel_rejects() {
        assert_eq!(IfName::new(""), Err(IfNameError::Empty));
        assert!(matches!(
            IfName::new("veth1234567890ab"),
            Err(IfNameError::TooLong { len: 16, .. })
        ));
        assert!(matches!(
            IfName::new("a/b"),
            Err(IfNameError::BadChar { bad: '/', .. })
        ));
        assert!(matches!(
            IfName::new("a b"),
            Err(IfNameError::BadChar { bad: ' ', .. })
        ));
        assert!(matches!(
            IfName::new("eth0:1"),
            Err(IfNameError::BadChar { .. })
        ));
        assert!(matches!(IfName::new(".."), Err(IfNameError::Reserved(_))));
    }

    #[test]
    fn deserialize_validates() {
        let err = serde_json::from_str::<IfName>("\"0123456789abcdefg\"").unwrap_err();
        assert!(err.to_string().contains("at most 15"), "{err}");
    }
}
