//! exec and attach over SPDY/3.1 (`v4.channel.k8s.io` after `Upgrade: SPDY/3.1`), as
//! kubectl before 1.30 speaks them (and 1.37 with `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`):
//! the client opens one stream per channel, named by its `streamType` header (error,
//! stdin, stdout, stderr, resize); once those its options call for are open, the session
//! starts; stdin's FIN is its end of input; at the end the Status goes on the error stream
//! and every stream gets its FIN.

use std::collections::HashMap;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::channel::{self, STDERR, STDOUT};
use super::exec::StreamOptions;
use super::session::{Input, Started};
use super::spdy::{self, Decoder, Encoder, Frame};

/// The protocol served, in `X-Stream-Protocol-Version`.
pub const PROTOCOL: &str = "v4.channel.k8s.io";

/// The streams a session with `opts` waits for.
fn expected(opts: &StreamOptions) -> Vec<&'static str> {
    let mut out = vec!["error"];
    for (on, name) in [
        (opts.stdin, "stdin"),
        (opts.stdout, "stdout"),
        (opts.stderr && !opts.tty, "stderr"),
        (opts.tty, "resize"),
    ] {
        if on {
            out.push(name);
        }
    }
    out
}

/// Frames off the client's bytes.
struct Frames<S> {
    input: S,
    decoder: Decoder,
    buf: Vec<u8>,
}

impl<S: Stream<Item = Vec<u8>> + Unpin> Frames<S> {
    /// The next frame; None once the client is gone or speaks no SPDY/3 (cancel-safe).
    async fn next(&mut self) -> Option<Frame> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) => return Some(frame),
                Ok(None) => {}
                Err(error) => {
                    tracing::info!(%error, "remote command: bad SPDY");
                    return None;
                }
            }
            let bytes = self.input.next().await?;
            self.buf.extend_from_slice(&bytes);
        }
    }
}

/// Serves one session: SPDY bytes from `input`, SPDY bytes to `output`; `start` runs once
/// the streams are open.
pub(crate) async fn serve(
    input: BoxStream<'static, Vec<u8>>,
    output: mpsc::Sender<Vec<u8>>,
    opts: StreamOptions,
    start: impl FnOnce() -> Started,
) {
    let (frames, mut frames_rx) = mpsc::channel::<Frame>(64);
    let writer = tokio::spawn(async move {
        let mut encoder = Encoder::default();
        while let Some(frame) = frames_rx.recv().await {
            if output.send(encoder.encode(&frame)).await.is_err() {
                break;
            }
        }
    });
    let mut reader = Frames {
        input,
        decoder: Decoder::default(),
        buf: Vec::new(),
    };
    let wanted = expected(&opts);
    let mut ids: HashMap<String, u32> = HashMap::new();
    while !wanted.iter().all(|w| ids.contains_key(*w)) {
        let Some(frame) = reader.next().await else {
            return;
        };
        if let Frame::SynStream {
            stream_id, headers, ..
        } = frame
        {
            let reply = Frame::SynReply {
                stream_id,
                fin: false,
                headers: Vec::new(),
            };
            let _ = frames.send(reply).await;
            let kind = spdy::header(&headers, "streamtype").unwrap_or("");
            ids.insert(kind.to_owned(), stream_id);
        }
    }
    let id = |name: &str| ids.get(name).copied();
    let Started {
        streams,
        done,
        abandon,
    } = start();
    let (out_id, err_id) = (id("stdout"), id("stderr"));
    let out_frames = frames.clone();
    let mut output = streams.output;
    let mut pump = tokio::spawn(async move {
        while let Some((ch, data)) = output.next().await {
            let stream_id = match ch {
                STDOUT => out_id,
                STDERR => err_id,
                _ => None,
            };
            if let Some(stream_id) = stream_id {
                let frame = Frame::Data {
                    stream_id,
                    fin: false,
                    data: data.to_vec(),
                };
                if out_frames.send(frame).await.is_err() {
                    break;
                }
            }
        }
    });
    let (stdin_id, resize_id) = (id("stdin"), id("resize"));
    tokio::pin!(done);
    let status = loop {
        tokio::select! {
            status = &mut done => break Some(status),
            frame = reader.next() => match frame {
                None | Some(Frame::GoAway { .. }) => break None,
                Some(Frame::Data { stream_id, fin, data }) if Some(stream_id) == stdin_id => {
                    if let Some(stdin) = &streams.stdin {
                        if !data.is_empty() {
                            let _ = stdin.send(Input::Data(data.into())).await;
                        }
                        if fin {
                            let _ = stdin.send(Input::Close).await;
                        }
                    }
                }
                Some(Frame::Data { stream_id, data, .. }) if Some(stream_id) == resize_id => {
                    for size in channel::terminal_sizes(&data) {
                        if let Some(pty) = &streams.pty {
                            let _ = pty.resize(size);
                        }
                    }
                }
                Some(Frame::Ping { id }) => {
                    let _ = frames.send(Frame::Ping { id }).await;
                }
                Some(_) => {}
            },
        }
    };
    let Some(status) = status else {
        abandon();
        pump.abort();
        writer.abort();
        return;
    };
    loop {
        tokio::select! {
            _ = &mut pump => break,
            frame = reader.next() => if frame.is_none() {
                pump.abort();
                writer.abort();
                return;
            },
        }
    }
    let fin = |stream_id: u32, data: Vec<u8>| Frame::Data {
        stream_id,
        fin: true,
        data,
    };
    for stream_id in [out_id, err_id].into_iter().flatten() {
        let _ = frames.send(fin(stream_id, Vec::new())).await;
    }
    if let Some(error_id) = id("error") {
        let status = serde_json::to_vec(&status).unwrap_or_default();
        let _ = frames.send(fin(error_id, status)).await;
    }
    drop(frames);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streams_waited_for_follow_the_options() {
        let opts = StreamOptions::parse("command=sh&stdin=1&stdout=1&stderr=1");
        assert_eq!(expected(&opts), ["error", "stdin", "stdout", "stderr"]);
        let tty = StreamOptions::parse("command=sh&stdin=1&stdout=1&stderr=1&tty=1");
        assert_eq!(expected(&tty), ["error", "stdin", "stdout", "resize"]);
    }
}
