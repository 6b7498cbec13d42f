//! The console of a container whose spec asks for `stdin` or `tty`: its stdin kept open (a
//! pipe, or a pty with `tty`), its output both appended to its log and fanned out to the
//! sessions attached to it (`kubectl attach`, `kubectl run -it`). Consoles are found by
//! `namespace/pod/container` in [`Consoles`], shared with the streaming server; they live as
//! long as the process the kubelet started (an adopted container has none).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::io::AsyncWriteExt as _;
use tokio::net::unix::pipe;
use tokio::sync::{broadcast, mpsc, watch};

use super::{PodNamespaces, ProcessIo, ProcessSpec, spawn_with};
use crate::error::{Error, Result};
use crate::process::ProcessId;
use crate::streaming::channel::{STDERR, STDOUT};
use crate::streaming::pty::Pty;
use crate::streaming::session::{Input, channel_stream, stdin_writer};

/// Output chunks kept for a slow attached session before it skips ahead.
const FAN_OUT_BACKLOG: usize = 256;

/// The consoles of the kubelet's running containers, by `namespace/pod/container`.
pub(crate) type Consoles = Arc<Mutex<HashMap<String, Arc<Console>>>>;

/// One container's console.
pub(crate) struct Console {
    output: broadcast::WeakSender<(u8, Bytes)>,
    /// The container's stdin (None without `stdin: true`).
    pub stdin: Option<mpsc::Sender<Input>>,
    pub stdin_once: bool,
    pub pty: Option<Arc<Pty>>,
    ended: watch::Receiver<bool>,
}

/// How a container's console is set up.
pub(crate) struct ConsoleSpec {
    pub key: String,
    pub stdin: bool,
    pub stdin_once: bool,
    pub tty: bool,
}

// === impl Console ===

impl Console {
    /// The output from now on, until the container's output ends.
    pub(crate) fn subscribe(&self) -> BoxStream<'static, (u8, Bytes)> {
        let Some(sender) = self.output.upgrade() else {
            return futures::stream::empty().boxed();
        };
        futures::stream::unfold(sender.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(item) => return Some((item, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    /// Resolves once the container's output has ended (it exited).
    pub(crate) async fn ended(&self) {
        let mut ended = self.ended.clone();
        let _ = ended.wait_for(|e| *e).await;
    }
}

/// Starts `spec` with a console, writing its output to `log` as well (the container
/// logger's stdout and stderr pipes).
pub(crate) fn spawn(
    pod: &str,
    container: &str,
    ns: PodNamespaces,
    spec: &ProcessSpec,
    console: ConsoleSpec,
    log: (OwnedFd, OwnedFd),
    consoles: &Consoles,
) -> Result<(ProcessId, tokio::process::Child)> {
    let io_err = |e| Error::io("/dev/ptmx", "open the container's pty", e);
    let (pty, io) = if console.tty {
        let (pty, io) = Pty::open().map_err(io_err)?;
        (Some(pty), io)
    } else {
        let io = ProcessIo {
            stdin: if console.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            },
            stdout: Stdio::piped(),
            stderr: Stdio::piped(),
            controlling_tty: false,
        };
        (None, io)
    };
    let (process, mut child) = spawn_with(pod, container, ns, spec, io)?;
    let (output, stdin) = match &pty {
        Some(pty) => {
            let output = channel_stream(STDOUT, pty.reader().map_err(io_err)?);
            let stdin = match console.stdin {
                true => Some(stdin_writer(pty.writer().map_err(io_err)?, true)),
                false => None,
            };
            (output, stdin)
        }
        None => {
            let out = child.stdout.take().map(|o| channel_stream(STDOUT, o));
            let err = child.stderr.take().map(|e| channel_stream(STDERR, e));
            let output = futures::stream::select(
                out.unwrap_or_else(|| futures::stream::empty().boxed()),
                err.unwrap_or_else(|| futures::stream::empty().boxed()),
            )
            .boxed();
            (output, child.stdin.take().map(|i| stdin_writer(i, false)))
        }
    };
    let (fan_out, _) = broadcast::channel(FAN_OUT_BACKLOG);
    let (ended_tx, ended) = watch::channel(false);
    let entry = Arc::new(Console {
        output: fan_out.downgrade(),
        stdin,
        stdin_once: console.stdin_once,
        pty: pty.map(Arc::new),
        ended,
    });
    consoles
        .lock()
        .unwrap()
        .insert(console.key.clone(), entry.clone());
    let consoles = consoles.clone();
    let pipe = |fd| {
        pipe::Sender::from_owned_fd(fd).map_err(|e| Error::io("pipe", "the container's log", e))
    };
    let (mut log_out, mut log_err) = (pipe(log.0)?, pipe(log.1)?);
    tokio::spawn(async move {
        let mut output = output;
        while let Some((ch, data)) = output.next().await {
            let log = if ch == STDERR {
                &mut log_err
            } else {
                &mut log_out
            };
            if let Err(error) = log.write_all(&data).await {
                tracing::debug!(%error, "writing a container's log");
            }
            let _ = fan_out.send((ch, data));
        }
        drop(fan_out);
        let _ = ended_tx.send(true);
        let mut all = consoles.lock().unwrap();
        if all
            .get(&console.key)
            .is_some_and(|c| Arc::ptr_eq(c, &entry))
        {
            all.remove(&console.key);
        }
    });
    Ok((process, child))
}
