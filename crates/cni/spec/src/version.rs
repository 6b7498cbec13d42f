//! Protocol versions. podnet speaks every version whose result format is the "current"
//! one (interfaces / ips / routes / dns): 0.3.0 through 1.1.0. The 0.1/0.2 `ip4`/`ip6`
//! format is refused with code 1, as the spec asks of a plugin that cannot speak it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CniError, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CniVersion {
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

impl CniVersion {
    pub const ALL: [CniVersion; 5] = [
        CniVersion::V0_3_0,
        CniVersion::V0_3_1,
        CniVersion::V0_4_0,
        CniVersion::V1_0_0,
        CniVersion::V1_1_0,
    ];
    pub const LATEST: CniVersion = CniVersion::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            CniVersion::V0_3_0 => "0.3.0",
            CniVersion::V0_3_1 => "0.3.1",
            CniVersion::V0_4_0 => "0.4.0",
            CniVersion::V1_0_0 => "1.0.0",
            CniVersion::V1_1_0 => "1.1.0",
        }
    }

    /// CHECK appeared in 0.4.0.
    pub fn has_check(self) -> bool {
        self >= CniVersion::V0_4_0
    }

    /// GC and STATUS appeared in 1.1.0.
    pub fn has_gc_and_status(self) -> bool {
        self >= CniVersion::V1_1_0
    }

    /// Results before 1.0.0 carry `"version": "4"|"6"` on each IP.
    pub fn ips_carry_version(self) -> bool {
        self < CniVersion::V1_0_0
    }

    /// Parses a version, answering the spec's code 1 for one podnet does not speak.
    pub fn parse(s: &str) -> Result<Self, CniError> {
        s.parse()
    }

    /// The highest version in `offered` that podnet also speaks (a conflist's `cniVersions`).
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        offered.into_iter().filter_map(|v| v.parse().ok()).max()
    }
}

impl FromStr for CniVersion {
    type Err = CniError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CniVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let supported: Vec<_> = CniVersion::ALL.iter().map(|v| v.as_str()).collect();
                CniError::new(
                    ErrorCode::INCOMPATIBLE_VERSION,
                    format!(
                        "incompatible CNI versions; config is {s:?}, plugin supports {supported:?}"
                    ),
                )
            })
    }
}

impl fmt::Display for CniVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CniVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CniVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: CniError| serde::de::Error::custom(e.msg))
    }
}

/// The VERSION verb's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    #[serde(rename = "supportedVersions")]
    pub supported_versions: Vec<String>,
}

impl VersionInfo {
    pub fn of(versions: &[CniVersion]) -> Self {
        Self {
            cni_version: CniVersion::LATEST.to_string(),
            supported_versions: versions.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// The highest version both sides speak.
    pub fn best_common(&self) -> Option<CniVersion> {
        CniVersion::negotiate(self.supported_versions.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_version() {
        for v in CniVersion::ALL {
            assert_eq!(CniVersion::parse(v.as_str()).unwrap(), v);
        }
    }

    #[test]
    fn refuses_old_formats_with_code_1() {
        let err = CniVersion::parse("0.2.0").unwrap_err();
        assert_eq!(err.code, ErrorCode::INCOMPATIBLE_VERSION);
        assert!(err.msg.contains("\"0.2.0\""), "{}", err.msg);
    }

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        assert_eq!(
            CniVersion::negotiate(["0.4.0", "1.0.0", "9.9.9"]),
            Some(CniVersion::V1_0_0)
        );
        assert_eq!(CniVersion::negotiate(["0.2.0"]), None);
    }

    #[test]
    fn feature_gates_follow_the_spec() {
        assert!(!CniVersion::V0_3_1.has_check());
        assert!(CniVersion::V0_4_0.has_check());
        assert!(!CniVersion::V1_0_0.has_gc_and_status());
        assert!(CniVersion::V1_1_0.has_gc_and_status());
    }
}
