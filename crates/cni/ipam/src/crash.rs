//! A test hook to prove crash safety deterministically: with `PODNET_IPAM_CRASH_AT=<point>`
//! in its environment, the plugin aborts (`std::process::abort`, no unwinding, no cleanup)
//! the first time it reaches that point. Without the variable, nothing happens.
//!
//! | point | state on disk when it fires |
//! |---|---|
//! | `after-lock` | the network's lock is held, nothing changed yet |
//! | `after-temp-write` | a complete temp file exists, no reservation |
//! | `after-link` | the reservation exists, its temp file too |
//! | `before-last-reserved` | the reservation exists, `last_reserved_ip.<set>` not yet updated |
//! | `after-last-reserved-temp` | the new marker is written to a temp file, not yet in place |
//! | `before-unlock` | the operation is complete, its answer not yet printed |
//! | `after-first-release` | a DEL or GC removed one reservation of several |

use std::fmt;

/// The variable that arms the hook.
pub const ENV: &str = "PODNET_IPAM_CRASH_AT";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    AfterLock,
    AfterTempWrite,
    AfterLink,
    BeforeLastReserved,
    AfterLastReservedTemp,
    BeforeUnlock,
    AfterFirstRelease,
}

/// Where to crash, if anywhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct CrashHook(Option<CrashPoint>);

// === impl CrashPoint ===

impl CrashPoint {
    pub const ALL: [CrashPoint; 7] = [
        CrashPoint::AfterLock,
        CrashPoint::AfterTempWrite,
        CrashPoint::AfterLink,
        CrashPoint::BeforeLastReserved,
        CrashPoint::AfterLastReservedTemp,
        CrashPoint::BeforeUnlock,
        CrashPoint::AfterFirstRelease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::AfterLock => "after-lock",
            CrashPoint::AfterTempWrite => "after-temp-write",
            CrashPoint::AfterLink => "after-link",
            CrashPoint::BeforeLastReserved => "before-last-reserved",
            CrashPoint::AfterLastReservedTemp => "after-last-reserved-temp",
            CrashPoint::BeforeUnlock => "before-unlock",
            CrashPoint::AfterFirstRelease => "after-first-release",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl CrashHook ===

impl CrashHook {
    /// Reads [`ENV`]. An unknown point is logged and ignored rather than failing the
    /// plugin: the hook must never change what a production invocation does.
    pub fn from_env() -> Self {
        let Ok(raw) = std::env::var(ENV) else {
            return Self::default();
        };
        let point = CrashPoint::parse(&raw);
        if point.is_none() {
            tracing::warn!(value = %raw, "unknown {ENV} point, ignored");
        }
        Self(point)
    }

    /// Aborts the process if the hook is armed for `point`.
    pub fn at(self, point: CrashPoint) {
        if self.0 == Some(point) {
            tracing::error!(%point, "crashing on purpose ({ENV})");
            std::process::abort();
        }
    }
}
