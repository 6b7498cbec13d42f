//! `/exec/{namespace}/{pod}/{container}`: a new process in a running container's
//! namespaces, with the container's environment and working directory, its streams over
//! the channel protocol (pipes, or a pty for `tty`), and its exit code on the error channel.

use std::process::Stdio;

use std::sync::Arc;

use futures::StreamExt as _;

use super::channel;
use super::lookup::{self, Running};
use super::pty::Pty;
use super::session::{Started, Streams, channel_stream, stdin_writer};
use crate::container::{ProcessIo, ProcessSpec, spawn_with};

/// What the client asked for (the query of upstream's exec and attach requests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

// === impl StreamOptions ===

impl StreamOptions {
    /// From a raw query string; booleans are `1` or `true`.
    pub(crate) fn parse(query: &str) -> Self {
        let mut opts = StreamOptions::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let on = matches!(&*v, "1" | "true");
            match &*k {
                "command" => opts.command.push(v.into_owned()),
                "input" | "stdin" => opts.stdin = on,
                "output" | "stdout" => opts.stdout = on,
                "error" | "stderr" => opts.stderr = on,
                "tty" => opts.tty = on,
                _ => {}
            }
        }
        // A terminal has one output stream.
        if opts.tty {
            opts.stderr = false;
        }
        opts
    }
}

/// A spawned exec: the process and the client's streams.
pub(crate) struct Spawned {
    pub process: crate::process::ProcessId,
    pub child: tokio::process::Child,
    pub streams: Streams,
}

/// Starts `opts.command` in the container `target`.
pub(crate) fn start(
    target: &Running,
    container: &str,
    opts: &StreamOptions,
) -> crate::Result<Spawned> {
    let mut env = lookup::environment(target.process);
    if opts.tty && !env.iter().any(|(k, _)| k == "TERM") {
        // What container runtimes set for a terminal session.
        env.push(("TERM".to_owned(), "xterm".to_owned()));
    }
    let spec = ProcessSpec {
        argv: opts.command.clone(),
        env,
        working_dir: lookup::working_dir(target.process),
    };
    let pod = target.pod.record.key();
    let io_err = |e| crate::Error::io("/dev/ptmx", "open a pty", e);
    let (pty, io) = if opts.tty {
        let (pty, io) = Pty::open().map_err(io_err)?;
        (Some(pty), io)
    } else {
        let piped = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
        let io = ProcessIo {
            stdin: piped(opts.stdin),
            stdout: piped(opts.stdout),
            stderr: piped(opts.stderr),
            controlling_tty: false,
        };
        (None, io)
    };
    let (process, mut child) = spawn_with(&pod, container, target.pod.ns, &spec, io)?;
    let mut streams = Streams::default();
    match pty {
        Some(pty) => {
            streams.output = channel_stream(channel::STDOUT, pty.reader().map_err(io_err)?);
            if opts.stdin {
                streams.stdin = Some(stdin_writer(pty.writer().map_err(io_err)?, true));
            }
            streams.pty = Some(Arc::new(pty));
        }
        None => {
            let out = child
                .stdout
                .take()
                .map(|o| channel_stream(channel::STDOUT, o));
            let err = child
                .stderr
                .take()
                .map(|e| channel_stream(channel::STDERR, e));
            streams.output = futures::stream::select(
                out.unwrap_or_else(|| futures::stream::empty().boxed()),
                err.unwrap_or_else(|| futures::stream::empty().boxed()),
            )
            .boxed();
            streams.stdin = child.stdin.take().map(|i| stdin_writer(i, false));
        }
    }
    Ok(Spawned {
        process,
        child,
        streams,
    })
}

/// The session of `opts.command` in `target`: its exit as the final Status, and a SIGKILL
/// if the client leaves first (nobody would read its output).
pub(crate) fn session(target: &Running, container: &str, opts: &StreamOptions) -> Started {
    match start(target, container, opts) {
        Ok(Spawned {
            process,
            mut child,
            streams,
        }) => {
            let argv = opts.command.clone();
            Started {
                streams,
                done: Box::pin(async move {
                    use std::os::unix::process::ExitStatusExt as _;
                    match child.wait().await {
                        Ok(s) => channel::exit_status(&argv, s.code(), s.signal()),
                        Err(e) => channel::internal_error(&e.to_string()),
                    }
                }),
                abandon: Box::new(move || {
                    process.signal(nix::sys::signal::Signal::SIGKILL);
                }),
            }
        }
        Err(error) => {
            tracing::info!(%error, "exec failed to start");
            Started::failed(channel::internal_error(&error.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_the_query_kubectl_and_the_api_server_send() {
        let opts = StreamOptions::parse(
            "command=sh&command=-c&command=echo+a%26b&container=c&stdin=true&stdout=1&stderr=true",
        );
        assert_eq!(opts.command, ["sh", "-c", "echo a&b"]);
        assert!(opts.stdin && opts.stdout && opts.stderr && !opts.tty);
        let tty = StreamOptions::parse("command=sh&stdin=1&stdout=1&stderr=1&tty=1");
        assert!(
            tty.tty && !tty.stderr,
            "a terminal merges stderr into stdout"
        );
    }
}
