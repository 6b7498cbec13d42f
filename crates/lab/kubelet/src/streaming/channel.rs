//! The channel protocol of exec and attach over WebSocket (`v4.channel.k8s.io`,
//! `v5.channel.k8s.io`): every binary message starts with its channel's number; v5 adds a
//! message that closes one channel (stdin's end of input). The error channel carries one
//! `metav1.Status` JSON at the end, with the exit code for a non-zero exit. Pure.

use serde::Deserialize;
use serde_json::{Value, json};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5: `[CLOSE, channel]` ends that channel's input.
const CLOSE: u8 = 255;

/// The subprotocols served, most preferred first (client-go offers v5, then v4).
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    V4,
    V5,
}

/// One message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    Data {
        channel: u8,
        data: &'a [u8],
    },
    /// v5 only: the client will send no more on `channel`.
    Close {
        channel: u8,
    },
}

/// A terminal size on the resize channel (client-go's `TerminalSize`, capitalised fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

// === impl Protocol ===

impl Protocol {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "v5.channel.k8s.io" => Some(Protocol::V5),
            "v4.channel.k8s.io" => Some(Protocol::V4),
            _ => None,
        }
    }

    /// Decodes a binary message; None for an empty one (nothing to do).
    pub fn decode(self, msg: &[u8]) -> Option<Inbound<'_>> {
        match (self, msg) {
            (_, []) => None,
            (Protocol::V5, [CLOSE, channel, ..]) => Some(Inbound::Close { channel: *channel }),
            (_, [channel, data @ ..]) => Some(Inbound::Data {
                channel: *channel,
                data,
            }),
        }
    }
}

/// A message on `channel`.
pub fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(channel);
    out.extend_from_slice(data);
    out
}

/// The terminal sizes in a resize message (one JSON object each; client-go sends one per
/// message, a stream decoder takes several).
pub fn terminal_sizes(data: &[u8]) -> Vec<TerminalSize> {
    serde_json::Deserializer::from_slice(data)
        .into_iter::<TerminalSize>()
        .map_while(Result::ok)
        .collect()
}

/// How an exec'd process ended, as the error channel reports it (the kubelet's
/// `writeStatus`): Success, or NonZeroExitCode with the code as an `ExitCode` cause, which
/// kubectl turns into its own exit code. A signal counts as 128 + its number, as runc
/// reports it.
pub fn exit_status(argv: &[String], code: Option<i32>, signal: Option<i32>) -> Value {
    let code = code.unwrap_or(128 + signal.unwrap_or(0));
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// A failure to run the command at all (an InternalError Status, as upstream's).
pub fn internal_error(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: error executing command in container: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": format!("error executing command in container: {message}")}]},
        "code": 500,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_close_ends_a_channel_and_v4_reads_it_as_data() {
        assert_eq!(
            Protocol::V5.decode(&[255, 0]),
            Some(Inbound::Close { channel: STDIN })
        );
        assert_eq!(
            Protocol::V4.decode(&[255, 0]),
            Some(Inbound::Data {
                channel: 255,
                data: &[0]
            })
        );
        assert_eq!(
            Protocol::V5.decode(b"\x00ls\n"),
            Some(Inbound::Data {
                channel: STDIN,
                data: b"ls\n"
            })
        );
        assert_eq!(Protocol::V5.decode(&[]), None);
        assert_eq!(frame(STDERR, b"oops"), b"\x02oops");
    }

    #[test]
    fn protocols_by_name() {
        assert_eq!(Protocol::from_name(PROTOCOLS[0]), Some(Protocol::V5));
        assert_eq!(Protocol::from_name(PROTOCOLS[1]), Some(Protocol::V4));
        assert_eq!(Protocol::from_name("channel.k8s.io"), None);
    }

    #[test]
    fn resize_messages_hold_client_go_terminal_sizes() {
        let sizes = terminal_sizes(br#"{"Width":120,"Height":40}{"Width":80,"Height":24}"#);
        assert_eq!(
            sizes,
            [
                TerminalSize {
                    width: 120,
                    height: 40
                },
                TerminalSize {
                    width: 80,
                    height: 24
                }
            ]
        );
        assert!(terminal_sizes(b"garbage").is_empty());
    }

    #[test]
    fn exit_status_carries_the_code_as_kubectl_reads_it() {
        let argv = vec!["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        assert_eq!(
            exit_status(&argv, Some(0), None),
            json!({"metadata": {}, "status": "Success"})
        );
        let failed = exit_status(&argv, Some(3), None);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        assert_eq!(
            failed["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        // Killed by SIGKILL: 137, as runc reports it.
        assert_eq!(
            exit_status(&argv, None, Some(9))["details"]["causes"][0]["message"],
            "137"
        );
    }
}
