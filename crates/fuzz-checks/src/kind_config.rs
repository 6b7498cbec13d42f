//! kind cluster configs into the lab's strict parser: nothing panics, a refusal lists at
//! least one field error and every error says what is wrong, and parsing is deterministic.

use podnet_lab_config::{ConfigError, parse};

/// One input; panics on what the input must not break.
pub fn kind_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(parsed) => {
            assert!(!parsed.cluster.nodes.is_empty(), "a cluster has a node");
            let again = parse(text).expect("the same text parses again");
            assert_eq!(again, parsed, "parsing is deterministic");
        }
        Err(ConfigError::Invalid(errors)) => {
            assert!(!errors.is_empty(), "an invalid config names what is wrong");
            for e in &errors {
                assert!(!e.message.is_empty(), "the error at {:?} says why", e.path);
            }
        }
        Err(ConfigError::Yaml(_)) => {}
    }
}
