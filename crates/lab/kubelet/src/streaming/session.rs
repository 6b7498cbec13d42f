//! One exec or attach session over a WebSocket: the process's output streams pumped to
//! their channels, stdin and resizes from the client, and at the end the Status on the
//! error channel followed by a normal close. If the client goes away first, the session's
//! `abandon` runs (exec kills its process; attach leaves the container alone).

use std::future::Future;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::channel::{self, Inbound, Protocol};
use super::pty::Pty;

/// The client's end of a process: what it reads, writes and resizes.
#[derive(Default)]
pub(crate) struct Streams {
    /// (channel, reader) of each output the client asked for.
    pub outputs: Vec<(u8, Box<dyn AsyncRead + Send + Unpin>)>,
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// The terminal of a tty session (resize target).
    pub pty: Option<Pty>,
}

/// Runs the session until `done` yields the final Status and the outputs are drained, or
/// the client leaves (then `abandon` runs).
pub(crate) async fn run(
    socket: WebSocket,
    protocol: Protocol,
    streams: Streams,
    done: impl Future<Output = Value>,
    abandon: impl FnOnce(),
) {
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let closing = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
    });
    let mut pumps = JoinSet::new();
    for (ch, reader) in streams.outputs {
        pumps.spawn(pump(reader, ch, tx.clone()));
    }
    let mut stdin = streams.stdin;
    let pty = streams.pty;
    tokio::pin!(done);
    let status = loop {
        tokio::select! {
            status = &mut done => break Some(status),
            msg = incoming.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    input(protocol, &data, &mut stdin, pty.as_ref()).await;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break None,
            },
        }
    };
    let Some(status) = status else {
        tracing::debug!("streaming client went away");
        abandon();
        pumps.abort_all();
        writer.abort();
        return;
    };
    // Everything the process wrote goes out before the Status (a process that left a
    // child holding its output open keeps the session until the client leaves).
    loop {
        tokio::select! {
            next = pumps.join_next() => if next.is_none() { break },
            msg = incoming.next() => if matches!(msg, None | Some(Err(_))) {
                pumps.abort_all();
                writer.abort();
                return;
            },
        }
    }
    let status = serde_json::to_vec(&status).unwrap_or_default();
    let _ = tx
        .send(Message::Binary(
            channel::frame(channel::ERROR, &status).into(),
        ))
        .await;
    let _ = tx
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    drop(tx);
    let _ = writer.await;
}

/// One client message: stdin data, stdin's end (v5), or a resize.
async fn input(
    protocol: Protocol,
    data: &[u8],
    stdin: &mut Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pty: Option<&Pty>,
) {
    match protocol.decode(data) {
        Some(Inbound::Data {
            channel: channel::STDIN,
            data,
        }) => {
            if let Some(w) = stdin {
                let written = async {
                    w.write_all(data).await?;
                    w.flush().await
                };
                if written.await.is_err() {
                    *stdin = None;
                }
            }
        }
        Some(Inbound::Close {
            channel: channel::STDIN,
        }) => {
            if let Some(mut w) = stdin.take() {
                let _ = w.shutdown().await;
            }
        }
        Some(Inbound::Data {
            channel: channel::RESIZE,
            data,
        }) => {
            for size in channel::terminal_sizes(data) {
                if let Some(pty) = pty
                    && let Err(error) = pty.resize(size)
                {
                    tracing::debug!(%error, "resizing the terminal");
                }
            }
        }
        _ => {}
    }
}

/// Copies `reader` to the client on `ch` until it ends (EOF, or EIO from a pty whose
/// processes are gone).
async fn pump(mut reader: Box<dyn AsyncRead + Send + Unpin>, ch: u8, tx: mpsc::Sender<Message>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let msg = Message::Binary(channel::frame(ch, &buf[..n]).into());
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        }
    }
}
