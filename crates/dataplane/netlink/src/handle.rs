//! The socket, and the two request shapes everything else is built from: a request the kernel
//! acknowledges, and a dump (retried when the kernel marks it interrupted).

use std::io;
use std::path::Path;

use futures::StreamExt;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};

use crate::error::{Error, Result};

/// A dump the kernel interrupted (the table changed under it) is retried this many times.
const DUMP_ATTEMPTS: usize = 8;

/// A route-netlink socket bound to one network namespace.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    netns: String,
}

// === impl Netlink ===

impl Netlink {
    /// Opens a socket in the namespace at `netns`, or in the caller's own when `None`.
    /// Must be called from within a tokio runtime, which then drives the socket.
    pub fn open(netns: Option<&Path>) -> Result<Self> {
        let label = netns.map_or_else(|| "(own)".to_owned(), |p| p.display().to_string());
        let rt = tokio::runtime::Handle::current();
        // The socket registers with the runtime's reactor, so it is created with the runtime
        // entered, on whichever thread is in the right namespace.
        let connect = move || {
            let _enter = rt.enter();
            rtnetlink::new_connection()
        };
        let opened = match netns {
            None => connect(),
            Some(path) => podnet_netns::run_in(path, connect)?,
        };
        let (conn, handle, _) = opened.map_err(|source| Error::Open {
            netns: label.clone(),
            source,
        })?;
        tokio::spawn(conn);
        Ok(Self {
            handle,
            netns: label,
        })
    }

    /// The namespace this socket is bound to, as given to [`Netlink::open`].
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Sends `msg` with `flags` (plus REQUEST|ACK) and waits for the kernel's answer.
    pub(crate) async fn ack(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: impl Fn() -> String,
    ) -> Result<()> {
        self.exchange(msg, NLM_F_ACK | flags, &op).await.map(drop)
    }

    /// A request answered by one message (a GET without DUMP).
    pub(crate) async fn get(
        &self,
        msg: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Option<RouteNetlinkMessage>> {
        Ok(self.exchange(msg, 0, &op).await?.into_iter().next())
    }

    /// Dumps a table, retrying when the kernel flags the dump as interrupted
    /// (NLM_F_DUMP_INTR: the table changed while it was being read).
    pub(crate) async fn dump(
        &self,
        msg: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        for attempt in 1..=DUMP_ATTEMPTS {
            let mut req = NetlinkMessage::from(msg.clone());
            req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
            let mut answers = self.send(req, &op)?;
            let mut out = Vec::new();
            let mut interrupted = false;
            while let Some(answer) = answers.next().await {
                interrupted |= answer.header.flags & NLM_F_DUMP_INTR != 0;
                match answer.payload {
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            return Err(self.kernel(op(), -code.get()));
                        }
                    }
                    _ => {}
                }
            }
            if !interrupted {
                return Ok(out);
            }
            tracing::debug!(netns = %self.netns, op = %op(), attempt, "dump interrupted, retrying");
        }
        Err(self.kernel(op(), libc::EINTR))
    }

    async fn exchange(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | flags;
        let mut answers = self.send(req, op)?;
        let mut out = Vec::new();
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(self.kernel(op(), -code.get()));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn send(
        &self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        op: &dyn Fn() -> String,
    ) -> Result<impl futures::Stream<Item = NetlinkMessage<RouteNetlinkMessage>> + use<>> {
        self.handle
            .clone()
            .request(req)
            .map_err(|e| Error::Protocol {
                netns: self.netns.clone(),
                op: op(),
                msg: e.to_string(),
            })
    }

    pub(crate) fn kernel(&self, op: String, errno: i32) -> Error {
        Error::Kernel {
            netns: self.netns.clone(),
            op,
            source: io::Error::from_raw_os_error(errno),
        }
    }
}
