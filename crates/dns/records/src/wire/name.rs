//! Domain names in wire form (length-prefixed labels, ending with the root's 0), lower-cased
//! where they are used as keys: DNS compares names case-insensitively.

use std::fmt;

use crate::error::{Error, Result};

/// RFC 1035 §2.3.4: a name is at most 255 octets on the wire.
pub const MAX_NAME: usize = 255;

/// An owned, lower-cased wire name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

/// A lower-cased wire name read from a message, on the stack (the hot path allocates nothing).
#[derive(Clone, Copy)]
pub struct NameBuf {
    buf: [u8; MAX_NAME],
    len: u8,
}

// === impl Name ===

impl Name {
    /// The root name.
    pub fn root() -> Self {
        Name(Box::new([0]))
    }

    /// Parses presentation form (`a.b.c` or `a.b.c.`); `.` or `""` is the root.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason| Error::Name {
            name: text.to_owned(),
            reason,
        };
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        let mut wire = Vec::with_capacity(trimmed.len() + 2);
        if !trimmed.is_empty() {
            for label in trimmed.split('.') {
                if label.is_empty() {
                    return Err(bad("empty label"));
                }
                if label.len() > 63 {
                    return Err(bad("label longer than 63 octets"));
                }
                if !label.is_ascii() || label.bytes().any(|b| b <= b' ') {
                    return Err(bad("labels are printable ASCII"));
                }
                wire.push(label.len() as u8);
                wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
            }
        }
        wire.push(0);
        if wire.len() > MAX_NAME {
            return Err(bad("longer than 255 octets"));
        }
        Ok(Name(wire.into_boxed_slice()))
    }

    /// From wire bytes that are known to be a well-formed, lower-cased name.
    pub fn from_wire(wire: &[u8]) -> Self {
        Name(wire.into())
    }

    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: even the root has its terminating 0.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// `label.self`. Fails when the label or the result is too long.
    pub fn child(&self, label: &str) -> Result<Self> {
        let bad = |reason| Error::Name {
            name: format!("{label}.{self}"),
            reason,
        };
        if label.is_empty() || label.len() > 63 {
            return Err(bad("a label is 1 to 63 octets"));
        }
        if self.0.len() + label.len() + 1 > MAX_NAME {
            return Err(bad("longer than 255 octets"));
        }
        let mut wire = Vec::with_capacity(self.0.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        wire.extend_from_slice(&self.0);
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Whether `zone` is this name or one of its ancestors (label-aligned suffix).
    pub fn is_under(&self, zone: &Name) -> bool {
        is_under(&self.0, &zone.0)
    }
}

/// Whether the wire name `zone` is a label-aligned suffix of `name`.
pub fn is_under(name: &[u8], zone: &[u8]) -> bool {
    if zone.len() > name.len() {
        return false;
    }
    let mut at = 0;
    while name.len() - at > zone.len() {
        at += 1 + name[at] as usize;
    }
    name.len() - at == zone.len() && &name[at..] == zone
}

/// Labels of a wire name, leftmost first, without the root.
pub(crate) fn labels(wire: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = *wire.get(at)? as usize;
        if len == 0 {
            return None;
        }
        let label = wire.get(at + 1..at + 1 + len)?;
        at += 1 + len;
        Some(label)
    })
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_text(&self.0, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

fn write_text(wire: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if wire.len() <= 1 {
        return f.write_str(".");
    }
    for label in labels(wire) {
        for &b in label {
            if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\{b:03}")?;
            }
        }
        f.write_str(".")?;
    }
    Ok(())
}

// === impl NameBuf ===

impl NameBuf {
    pub fn wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn to_name(&self) -> Name {
        Name::from_wire(self.wire())
    }
}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_text(self.wire(), f)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({self})")
    }
}

/// Reads a (possibly compressed) name at `at` in `msg`, lower-cased. Returns the name and
/// the offset just past it in the original position. Pointers must point strictly
/// backwards (before the label that holds them), so no chain can loop.
pub fn read_name(msg: &[u8], at: usize) -> Option<(NameBuf, usize)> {
    let mut out = NameBuf {
        buf: [0; MAX_NAME],
        len: 0,
    };
    let mut len = 0usize;
    let mut pos = at;
    let mut end = None;
    loop {
        let b = *msg.get(pos)?;
        match b & 0xC0 {
            0x00 => {
                let l = b as usize;
                if len + 1 + l > MAX_NAME {
                    return None;
                }
                out.buf[len] = b;
                if l == 0 {
                    len += 1;
                    break;
                }
                let label = msg.get(pos + 1..pos + 1 + l)?;
                for (i, c) in label.iter().enumerate() {
                    out.buf[len + 1 + i] = c.to_ascii_lowercase();
                }
                len += 1 + l;
                pos += 1 + l;
            }
            0xC0 => {
                let target = (u16::from_be_bytes([b, *msg.get(pos + 1)?]) & 0x3FFF) as usize;
                if target >= pos {
                    return None;
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None,
        }
    }
    out.len = len as u8;
    Some((out, end.unwrap_or(pos + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lowercases_and_round_trips() {
        let n = Name::parse("Kubernetes.Default.svc.cluster.local.").unwrap();
        assert_eq!(n.to_string(), "kubernetes.default.svc.cluster.local.");
        assert_eq!(Name::parse(".").unwrap(), Name::root());
        assert!(Name::parse("a..b").is_err());
        assert!(Name::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn is_under_is_label_aligned() {
        let zone = Name::parse("cluster.local").unwrap();
        assert!(Name::parse("a.svc.cluster.local").unwrap().is_under(&zone));
        assert!(zone.is_under(&zone));
        assert!(!Name::parse("xcluster.local").unwrap().is_under(&zone));
        assert!(Name::parse("x").unwrap().is_under(&Name::root()));
    }

    #[test]
    fn read_name_follows_backward_pointers_only() {
        // "a.b." at 0, then "c" + pointer to 0 at 5.
        let msg = [1, b'a', 1, b'B', 0, 1, b'c', 0xC0, 0];
        let (n, end) = read_name(&msg, 5).unwrap();
        assert_eq!(n.to_string(), "c.a.b.");
        assert_eq!(end, 9);
        // A pointer to itself, or forwards, is refused.
        assert!(read_name(&[0xC0, 0], 0).is_none());
        assert!(read_name(&[0xC0, 2, 0], 0).is_none());
        // Truncated label.
        assert!(read_name(&[5, b'a'], 0).is_none());
    }
}
