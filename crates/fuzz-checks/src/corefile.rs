//! Corefile text into `podnet dns`'s parser and then into the server it configures (blocks,
//! forwarders, caches; nothing is bound): nothing panics, a refusal names a line of the text
//! and the directive at fault, and what parses builds a server.

use podnet_dns_server::{Corefile, Dns, Error};

/// One input; panics on what the input must not break.
pub fn corefile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Corefile::parse(text, 53) {
        Ok(cf) => {
            let _ = cf.listeners();
            let _ = cf.kubernetes();
            for block in &cf.servers {
                let _ = block.dns_addrs();
            }
            drop(Dns::new(cf));
        }
        Err(Error::Corefile {
            line,
            directive,
            reason,
        }) => {
            let lines = text.lines().count().max(1);
            assert!(
                (1..=lines + 1).contains(&line),
                "line {line} of a {lines}-line Corefile ({directive}: {reason})"
            );
            assert!(
                !directive.is_empty(),
                "the refusal names a directive: {reason}"
            );
            assert!(!reason.is_empty(), "the refusal says why ({directive})");
        }
        Err(other) => panic!("parsing a Corefile can only fail on its text: {other}"),
    }
}
