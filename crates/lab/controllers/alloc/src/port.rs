//! NodePort allocation from the service node port range (30000-32767 by default).

use std::ops::RangeInclusive;

use crate::error::AllocError;
use crate::pool::{self, Pool};

/// Node ports of one range.
#[derive(Debug, Clone)]
pub struct NodePortAllocator {
    range: RangeInclusive<u16>,
    pool: Pool,
}

/// kube-apiserver's default `--service-node-port-range`.
pub const DEFAULT_RANGE: RangeInclusive<u16> = 30000..=32767;

// === impl NodePortAllocator ===

impl NodePortAllocator {
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let size = (u128::from(*range.end()) + 1).saturating_sub(u128::from(*range.start()));
        NodePortAllocator {
            // KEP-3668's band: size/16 clamped to [16, 128].
            pool: Pool::new(size, pool::static_band(size, 16, 128)),
            range,
        }
    }

    pub fn range(&self) -> &RangeInclusive<u16> {
        &self.range
    }

    pub fn allocate(&mut self, port: u16) -> Result<(), AllocError> {
        if !self.range.contains(&port) {
            return Err(AllocError::PortNotInRange {
                range: format!("{}-{}", self.range.start(), self.range.end()),
            });
        }
        if self.pool.take(self.offset(port)) {
            Ok(())
        } else {
            Err(AllocError::PortAllocated)
        }
    }

    pub fn allocate_next(&mut self) -> Result<u16, AllocError> {
        let offset = self.pool.take_next().ok_or(AllocError::Full)?;
        Ok(self.range.start() + offset as u16)
    }

    pub fn release(&mut self, port: u16) {
        if self.range.contains(&port) {
            self.pool.free(self.offset(port));
        }
    }

    pub fn is_allocated(&self, port: u16) -> bool {
        self.range.contains(&port) && self.pool.is_used(self.offset(port))
    }

    fn offset(&self, port: u16) -> u128 {
        u128::from(port - self.range.start())
    }
}

impl Default for NodePortAllocator {
    fn default() -> Self {
        Self::new(DEFAULT_RANGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_port_is_honoured_once() {
        let mut a = NodePortAllocator::default();
        a.allocate(30080).unwrap();
        assert_eq!(a.allocate(30080), Err(AllocError::PortAllocated));
        a.release(30080);
        a.allocate(30080).unwrap();
    }

    #[test]
    fn out_of_range_port_is_refused_with_the_range() {
        let mut a = NodePortAllocator::default();
        let err = a.allocate(8080).unwrap_err();
        assert_eq!(
            err.to_string(),
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        assert!(a.allocate(32767).is_ok());
        assert!(a.allocate(32768).is_err());
    }

    #[test]
    fn dynamic_ports_skip_the_static_band() {
        let mut a = NodePortAllocator::default();
        // 2768 ports: the band is 2768/16 = 173, capped at 128.
        assert_eq!(a.allocate_next().unwrap(), 30128);
        assert!(a.is_allocated(30128));
    }

    #[test]
    fn a_full_range_says_so() {
        let mut a = NodePortAllocator::new(30000..=30001);
        a.allocate_next().unwrap();
        a.allocate_next().unwrap();
        assert_eq!(a.allocate_next(), Err(AllocError::Full));
    }
}
