//! Attaching to a container without a console (its spec asks for neither `stdin` nor
//! `tty`): its output from now on, read back from its CRI log as its logger writes it —
//! from the file's current end, each stream on its own channel — until the logger lets go
//! of the file (the container's output has ended) or the client leaves. This is the path
//! `pods/log` reads too, so attach needs no second copy of the output. As with containerd,
//! a client's stdin (`kubectl attach -i`) has nowhere to go in such a container and is
//! dropped.

use std::path::Path;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::json;
use tokio::sync::oneshot;

use super::channel;
use super::exec::StreamOptions;
use super::session::{Started, Streams};
use crate::error::Result;
use crate::logs::cri::LogStream;
use crate::logs::{LogOptions, read_log};

/// A session on the log `log` (the running instance's file): it ends with Success once
/// every stream asked for has been read to the end of the container's output.
pub(super) fn session(log: &Path, opts: &StreamOptions) -> Result<Started> {
    let mut readers = Vec::new();
    for (ch, stream) in wanted(opts) {
        readers.push(live_output(log, ch, stream)?);
    }
    let (ended_tx, ended_rx) = oneshot::channel::<()>();
    // The end of the merged output is the session's end: tell `done` once it is drained.
    let end_marker = futures::stream::once(async move {
        let _ = ended_tx.send(());
    })
    .filter_map(|()| std::future::ready(None));
    let output = futures::stream::select_all(readers)
        .chain(end_marker)
        .boxed();
    Ok(Started {
        streams: Streams {
            output,
            stdin: None,
            pty: None,
        },
        done: Box::pin(async move {
            let _ = ended_rx.await;
            json!({"metadata": {}, "status": "Success"})
        }),
        // The container is left alone, and its logger keeps writing.
        abandon: Box::new(|| {}),
    })
}

/// The channels asked for and the log stream each carries.
fn wanted(opts: &StreamOptions) -> Vec<(u8, LogStream)> {
    [
        (opts.stdout, channel::STDOUT, LogStream::Stdout),
        (opts.stderr, channel::STDERR, LogStream::Stderr),
    ]
    .into_iter()
    .filter_map(|(asked, ch, stream)| asked.then_some((ch, stream)))
    .collect()
}

/// One stream's entries written after now, on channel `ch`; a read error ends it.
fn live_output(log: &Path, ch: u8, stream: LogStream) -> Result<BoxStream<'static, (u8, Bytes)>> {
    let options = LogOptions {
        follow: true,
        // A tail of none starts at the end: what was written before attaching is `logs`'.
        tail_lines: Some(0),
        stream: Some(stream),
        ..Default::default()
    };
    let path = log.to_owned();
    Ok(read_log(log, &options)?
        .take_while(move |chunk| {
            if let Err(error) = chunk {
                tracing::debug!(%error, path = %path.display(), "attached log read ended");
            }
            std::future::ready(chunk.is_ok())
        })
        .filter_map(move |chunk| std::future::ready(chunk.ok().map(|bytes| (ch, bytes))))
        .boxed())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::logs::cri::LogTag;
    use crate::logs::writer::{CriWriter, create_locked};
    use crate::logs::{LogRotation, instance_log_path};

    fn opts(stdout: bool, stderr: bool) -> StreamOptions {
        StreamOptions::parse(&format!("output={stdout}&error={stderr}"))
    }

    #[test]
    fn each_asked_output_maps_to_its_channel() {
        assert_eq!(
            wanted(&opts(true, true)),
            [
                (channel::STDOUT, LogStream::Stdout),
                (channel::STDERR, LogStream::Stderr)
            ]
        );
        assert_eq!(
            wanted(&opts(false, true)),
            [(channel::STDERR, LogStream::Stderr)]
        );
    }

    #[tokio::test]
    async fn output_starts_at_attach_keeps_its_channels_and_ends_with_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = instance_log_path(&dir.path().join("c"), 0);
        let file = create_locked(&path).unwrap();
        let mut writer = CriWriter::new(path.clone(), file, LogRotation::default());
        writer
            .write(LogStream::Stdout, LogTag::Full, b"before attach\n")
            .unwrap();

        let started = session(&path, &opts(true, true)).unwrap();
        writer
            .write(LogStream::Stdout, LogTag::Full, b"to out\n")
            .unwrap();
        writer
            .write(LogStream::Stderr, LogTag::Full, b"to err\n")
            .unwrap();
        // The logger lets go of the file: the container's output is over.
        drop(writer);

        let received = tokio::time::timeout(
            Duration::from_secs(60),
            started.streams.output.collect::<Vec<_>>(),
        )
        .await
        .expect("the attached output ended");
        let on = |ch| -> String {
            received
                .iter()
                .filter(|(c, _)| *c == ch)
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                .collect()
        };
        assert_eq!(on(channel::STDOUT), "to out\n");
        assert_eq!(on(channel::STDERR), "to err\n");
        let status = tokio::time::timeout(Duration::from_secs(60), started.done)
            .await
            .expect("the session's end");
        assert_eq!(status["status"], "Success");
    }
}
