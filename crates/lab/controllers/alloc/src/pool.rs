//! A pool of `size` values addressed by offset, with a low "static" band that dynamic
//! allocation only uses once the rest is full. Upstream reserves the band so that well-known
//! values (10.96.0.10 for DNS, a chosen nodePort) are unlikely to be taken by chance
//! (KEP-3070 for Service IPs, KEP-3668 for NodePorts).

use std::collections::BTreeSet;

/// Free/used bookkeeping over offsets `0..size`.
#[derive(Debug, Clone)]
pub struct Pool {
    size: u128,
    static_band: u128,
    used: BTreeSet<u128>,
}

// === impl Pool ===

impl Pool {
    /// `static_band(size)` computes how many low offsets are kept for static requests.
    pub fn new(size: u128, static_band: u128) -> Self {
        Pool {
            size,
            static_band: static_band.min(size),
            used: BTreeSet::new(),
        }
    }

    pub fn size(&self) -> u128 {
        self.size
    }

    pub fn is_used(&self, offset: u128) -> bool {
        self.used.contains(&offset)
    }

    /// Takes `offset`; false when it is already taken or outside the pool.
    pub fn take(&mut self, offset: u128) -> bool {
        offset < self.size && self.used.insert(offset)
    }

    pub fn free(&mut self, offset: u128) {
        self.used.remove(&offset);
    }

    /// The lowest free offset of the dynamic band, else of the static band.
    pub fn take_next(&mut self) -> Option<u128> {
        let found = self
            .first_free(self.static_band, self.size)
            .or_else(|| self.first_free(0, self.static_band))?;
        self.used.insert(found);
        Some(found)
    }

    fn first_free(&self, from: u128, to: u128) -> Option<u128> {
        // Walk the used offsets of [from, to) in order: the first gap is the answer, so this
        // costs O(used) even for an IPv6 range of 2^64 addresses.
        let mut candidate = from;
        for &u in self.used.range(from..to) {
            if u != candidate {
                break;
            }
            candidate += 1;
        }
        (candidate < to).then_some(candidate)
    }
}

/// Upstream's band size: a sixteenth of the range, at least `min` and at most `max`, none
/// for ranges smaller than `min`.
pub fn static_band(size: u128, min: u128, max: u128) -> u128 {
    if size < min {
        0
    } else {
        (size / 16).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_allocation_starts_above_the_static_band() {
        let mut p = Pool::new(100, 16);
        assert_eq!(p.take_next(), Some(16));
        assert_eq!(p.take_next(), Some(17));
    }

    #[test]
    fn dynamic_allocation_falls_back_to_the_static_band_when_the_rest_is_full() {
        let mut p = Pool::new(4, 2);
        assert_eq!(p.take_next(), Some(2));
        assert_eq!(p.take_next(), Some(3));
        assert_eq!(p.take_next(), Some(0));
        assert_eq!(p.take_next(), Some(1));
        assert_eq!(p.take_next(), None);
    }

    #[test]
    fn freed_offsets_are_reused_and_taken_ones_skipped() {
        let mut p = Pool::new(10, 0);
        assert!(p.take(0));
        assert!(p.take(2));
        assert!(!p.take(2));
        assert!(!p.take(10));
        assert_eq!(p.take_next(), Some(1));
        assert_eq!(p.take_next(), Some(3));
        p.free(1);
        assert_eq!(p.take_next(), Some(1));
    }

    #[test]
    fn band_is_a_sixteenth_clamped() {
        assert_eq!(static_band(8, 16, 256), 0);
        assert_eq!(static_band(254, 16, 256), 16);
        assert_eq!(static_band(65534, 16, 256), 256);
        assert_eq!(static_band(1000, 16, 256), 62);
    }
}
