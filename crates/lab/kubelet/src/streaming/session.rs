//! One exec or attach session over a WebSocket: the process's output pumped to its
//! channels, stdin and resizes from the client, and at the end the Status on the error
//! channel followed by a normal close. If the client goes away first, the session's
//! `abandon` runs (exec kills its process; attach leaves the container alone).

use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;

use super::channel::{self, Inbound, Protocol};
use super::pty::Pty;

/// What a client sends to a process's stdin.
#[derive(Debug)]
pub(crate) enum Input {
    Data(Bytes),
    /// The client's input ended (v5's close of the stdin channel).
    Close,
}

/// The client's end of a process: what it reads, writes and resizes.
pub(crate) struct Streams {
    /// (channel, bytes) of every output the client asked for, until the process's end.
    pub output: BoxStream<'static, (u8, Bytes)>,
    pub stdin: Option<mpsc::Sender<Input>>,
    /// The terminal of a tty session (resize target).
    pub pty: Option<Arc<Pty>>,
}

// === impl Streams ===

impl Default for Streams {
    fn default() -> Self {
        Streams {
            output: futures::stream::empty().boxed(),
            stdin: None,
            pty: None,
        }
    }
}

/// A session's process, started: its streams, the Status it ends with, and what to do if
/// the client leaves first.
pub(crate) struct Started {
    pub streams: Streams,
    pub done: BoxFuture<'static, Value>,
    pub abandon: Box<dyn FnOnce() + Send>,
}

// === impl Started ===

impl Started {
    /// A session that ends at once with `status` (the process could not start).
    pub(crate) fn failed(status: Value) -> Self {
        Started {
            streams: Streams::default(),
            done: Box::pin(std::future::ready(status)),
            abandon: Box::new(|| {}),
        }
    }
}

/// `reader`'s bytes on channel `ch`, until EOF or an error (EIO from a pty whose
/// processes are gone).
pub(crate) fn channel_stream(
    ch: u8,
    reader: impl AsyncRead + Send + 'static,
) -> BoxStream<'static, (u8, Bytes)> {
    tokio_util::io::ReaderStream::with_capacity(reader, 32 * 1024)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| std::future::ready(r.ok().map(|b| (ch, b))))
        .boxed()
}

/// A stdin sender writing into `writer`; Close shuts it (or, for a terminal, types ^D).
pub(crate) fn stdin_writer(
    mut writer: impl AsyncWrite + Send + Unpin + 'static,
    terminal: bool,
) -> mpsc::Sender<Input> {
    let (tx, mut rx) = mpsc::channel::<Input>(16);
    tokio::spawn(async move {
        while let Some(input) = rx.recv().await {
            let done = match input {
                Input::Data(data) => {
                    writer.write_all(&data).await.is_err() || writer.flush().await.is_err()
                }
                Input::Close if terminal => {
                    // A terminal stays open; end-of-file is the EOF character.
                    let _ = writer.write_all(b"\x04").await;
                    let _ = writer.flush().await;
                    true
                }
                Input::Close => {
                    let _ = writer.shutdown().await;
                    true
                }
            };
            if done {
                break;
            }
        }
    });
    tx
}

/// Runs the session until `done` yields the final Status and the output is drained, or
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
    let mut output = streams.output;
    let out_tx = tx.clone();
    let mut pump = tokio::spawn(async move {
        while let Some((ch, data)) = output.next().await {
            let msg = Message::Binary(channel::frame(ch, &data).into());
            if out_tx.send(msg).await.is_err() {
                break;
            }
        }
    });
    let stdin = streams.stdin;
    let pty = streams.pty;
    tokio::pin!(done);
    let status = loop {
        tokio::select! {
            status = &mut done => break Some(status),
            msg = incoming.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    input(protocol, &data, stdin.as_ref(), pty.as_deref()).await;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break None,
            },
        }
    };
    let Some(status) = status else {
        tracing::debug!("streaming client went away");
        abandon();
        pump.abort();
        writer.abort();
        return;
    };
    // Everything the process wrote goes out before the Status (a process that left a
    // child holding its output open keeps the session until the client leaves).
    loop {
        tokio::select! {
            _ = &mut pump => break,
            msg = incoming.next() => if matches!(msg, None | Some(Err(_))) {
                pump.abort();
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
    stdin: Option<&mpsc::Sender<Input>>,
    pty: Option<&Pty>,
) {
    match protocol.decode(data) {
        Some(Inbound::Data {
            channel: channel::STDIN,
            data,
        }) => {
            if let Some(stdin) = stdin {
                let _ = stdin.send(Input::Data(Bytes::copy_from_slice(data))).await;
            }
        }
        Some(Inbound::Close {
            channel: channel::STDIN,
        }) => {
            if let Some(stdin) = stdin {
                let _ = stdin.send(Input::Close).await;
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
