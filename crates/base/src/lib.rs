//! Names and addresses as newtypes, so that a role (a pod's interface name, a node's
//! address) cannot be confused with another value of the same representation.

mod ifname;

pub use ifname::{IfName, IfNameError};
