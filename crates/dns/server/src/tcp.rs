//! DNS over TCP (RFC 7766): two-byte length prefix, several queries per connection answered
//! in order, idle connections closed, a cap on connections so a flood cannot exhaust memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;

use crate::engine::Handled;
use crate::metrics::Proto;
use crate::server::Shared;

const IDLE: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: usize = 1024;

pub async fn serve(
    listener: TcpListener,
    port: u16,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                tracing::warn!(%error, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many TCP connections; closing this one");
            continue;
        };
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection(stream, port, shared, stop).await;
        });
    }
}

async fn connection(
    mut s: TcpStream,
    port: u16,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut reader = shared.state.reader();
    let mut buf = vec![0u8; 65535];
    let mut out = Vec::with_capacity(4096);
    loop {
        let len = tokio::select! {
            r = timeout(IDLE, s.read_u16()) => match r {
                Ok(Ok(len)) => len as usize,
                _ => return Ok(()),
            },
            _ = stop.changed() => return Ok(()),
        };
        timeout(IDLE, s.read_exact(&mut buf[..len]))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        let began = Instant::now();
        let state = reader.get(&shared.state).clone();
        let packet = &buf[..len];
        match shared
            .engine
            .handle(&state, packet, Proto::Tcp, port, &mut out, began)
        {
            Handled::Reply => {}
            Handled::ReplyThenPrefetch(block) => {
                let (shared, state, packet) = (shared.clone(), state.clone(), packet.to_vec());
                tokio::spawn(async move {
                    let mut none = Vec::new();
                    shared
                        .engine
                        .slow(
                            &state,
                            crate::engine::Slow::Prefetch(block),
                            &packet,
                            Proto::Tcp,
                            &mut none,
                            began,
                        )
                        .await;
                });
            }
            Handled::Drop => return Ok(()),
            Handled::Slow(job) => {
                shared
                    .engine
                    .slow(&state, job, packet, Proto::Tcp, &mut out, began)
                    .await
            }
        }
        if out.is_empty() {
            continue;
        }
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
        framed.extend_from_slice(&out);
        s.write_all(&framed).await?;
    }
}
