//! The netlink executor: a transaction sent as one nf_tables batch over a socket opened in
//! the target namespace, no `nft` process, no text. The kernel processes a batch within the
//! `sendmsg` that carries it and answers errors only (no ACK per message: a full sync at
//! 30k Services is ~100k messages); a GETGEN sent right after it is answered once the batch
//! is done, so every error is in before that answer. An error names the operation whose
//! message failed.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netlink_sys::Socket;

use super::encode::{self, Shape};
use super::wire::{self, MsgType, NLM_F_ACK};
use super::{NetlinkReader, Read, open};
use crate::dump::TableDump;
use crate::error::{Error, Refusal, Result};
use crate::object::TableId;
use crate::transaction::{Op, Transaction};
use crate::{Executor, Nft};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `NFT_MSG_NEWGEN` of the nf_tables subsystem: the answer to a GETGEN.
const NEWGEN: u16 = (10 << 8) | 15;

/// `NFTA_GEN_ID` of a NEWGEN's body (after its 4-byte nfgenmsg).
fn generation_of(body: &[u8]) -> Option<u32> {
    let mut at = 4;
    while at + 4 <= body.len() {
        let len = usize::from(u16::from_ne_bytes([body[at], body[at + 1]]));
        let ty = u16::from_ne_bytes([body[at + 2], body[at + 3]]) & 0x3fff;
        if len < 4 || at + len > body.len() {
            return None;
        }
        if ty == 1 && len == 8 {
            return Some(u32::from_be_bytes(body[at + 4..at + 8].try_into().ok()?));
        }
        at += len.div_ceil(4) * 4;
    }
    None
}

/// nftables in one network namespace (`None`: the caller's own), written over netlink.
#[derive(Clone, Debug, Default)]
pub struct NetlinkExecutor {
    netns: Option<PathBuf>,
    /// Set shapes (key types, interval) read from the kernel, per table: element changes
    /// to sets the transaction does not declare need them.
    shapes: BTreeMap<TableId, BTreeMap<String, Shape>>,
    next_seq: u32,
    /// The ruleset generation right after this executor's last successful batch.
    applied_generation: Option<u32>,
    /// Where the last batch's time went.
    last_batch: BatchTiming,
}

/// Where one batch's time went: encoding it, and the kernel taking it (the `sendmsg` that
/// carries it and the wait for the answers, through the namespace switch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchTiming {
    pub encode: Duration,
    pub kernel: Duration,
    pub bytes: usize,
}

// === impl NetlinkExecutor ===

impl NetlinkExecutor {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            netns: netns.map(Path::to_owned),
            shapes: BTreeMap::new(),
            next_seq: 1,
            applied_generation: None,
            last_batch: BatchTiming::default(),
        }
    }

    /// Where the last [`Executor::execute`] spent its time (zero if it wrote nothing).
    pub fn last_batch(&self) -> BatchTiming {
        self.last_batch
    }

    /// The namespace's nftables generation now: the kernel counts every committed batch, by
    /// anyone, in any table.
    pub fn generation(&self) -> Result<u32> {
        let run = || {
            open().and_then(|sock| {
                sock.send(&wire::request(MsgType::GetGen, NLM_F_ACK, 1), 0)
                    .map_err(|e| format!("send: {e}"))?;
                match answers(&sock, 1)? {
                    (None, Some(generation)) => Ok(generation),
                    (Some((_, errno)), _) => Err(format!(
                        "GETGEN: {}",
                        std::io::Error::from_raw_os_error(errno)
                    )),
                    (None, None) => Err("GETGEN answered without a generation".to_owned()),
                }
            })
        };
        let generation = match &self.netns {
            None => run(),
            Some(path) => podnet_netns::run_in(path, run)?,
        };
        generation.map_err(|detail| Error::Netlink {
            netns: self.label(),
            table: "(generation)".to_owned(),
            detail,
        })
    }

    /// The generation right after this executor's last successful batch: equal to
    /// [`NetlinkExecutor::generation`] while nothing else was committed since (nothing
    /// changed what it wrote behind its back).
    pub fn applied_generation(&self) -> Option<u32> {
        self.applied_generation
    }

    fn label(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(|| "(own)".to_owned(), |p| p.display().to_string())
    }

    /// The shapes of `tx`'s table's sets, read from the kernel when the transaction touches
    /// elements of a set it does not declare and that is not known yet.
    fn shapes_for(&mut self, tx: &Transaction) -> Result<&BTreeMap<String, Shape>> {
        let declared: Vec<&str> = tx
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::AddSet(d) => Some(d.name.as_str()),
                _ => None,
            })
            .collect();
        let known = self.shapes.get(&tx.table);
        let missing = tx.ops.iter().any(|op| match op {
            Op::AddElements { set, .. }
            | Op::DeleteElements { set, .. }
            | Op::FlushSet { name: set, .. } => {
                !declared.contains(&set.as_str()) && known.is_none_or(|k| !k.contains_key(set))
            }
            _ => false,
        });
        if missing {
            let decls = NetlinkReader::new(self.netns.as_deref())
                .set_decls(&tx.table)?
                .unwrap_or_default();
            let shapes = decls
                .iter()
                .map(|d| (d.name.clone(), Shape::of(d)))
                .collect();
            self.shapes.insert(tx.table.clone(), shapes);
        }
        Ok(self.shapes.entry(tx.table.clone()).or_default())
    }

    /// Keeps the shape cache in step with what `tx` did.
    fn remember(&mut self, tx: &Transaction) {
        let shapes = self.shapes.entry(tx.table.clone()).or_default();
        for op in &tx.ops {
            match op {
                Op::AddSet(d) => {
                    shapes.insert(d.name.clone(), Shape::of(d));
                }
                Op::DeleteSet(name) => {
                    shapes.remove(name);
                }
                Op::DeleteTable => shapes.clear(),
                _ => {}
            }
        }
    }
}

impl Executor for NetlinkExecutor {
    fn execute(&mut self, tx: &Transaction) -> Result<()> {
        self.last_batch = BatchTiming::default();
        if tx.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        let table = format!("{} {}", tx.table.family, tx.table.name);
        let target = format!("netlink in {}", self.label());
        let first_seq = self.next_seq;
        let shapes = self.shapes_for(tx)?;
        let encoded = encode::transaction(tx, shapes, first_seq).map_err(|(refusal, detail)| {
            Error::Refused {
                target: target.clone(),
                table: table.clone(),
                refusal,
                detail,
            }
        })?;
        // The GETGEN after the batch takes the next number.
        self.next_seq = encoded.seqs.end.wrapping_add(1);
        let encode = start.elapsed();
        tracing::debug!(
            netns = %self.label(),
            table = %table,
            ops = tx.ops.len(),
            bytes = encoded.bytes.len(),
            "nf_tables batch"
        );
        let run = || open().and_then(|sock| send_batch(&sock, &encoded.bytes, encoded.seqs.end));
        let answer = match &self.netns {
            None => run(),
            Some(path) => podnet_netns::run_in(path, run)?,
        };
        self.last_batch = BatchTiming {
            encode,
            kernel: start.elapsed() - encode,
            bytes: encoded.bytes.len(),
        };
        let answer = answer.map_err(|detail| {
            self.shapes.remove(&tx.table);
            Error::Netlink {
                netns: self.label(),
                table: table.clone(),
                detail,
            }
        });
        match answer? {
            (None, generation) => {
                self.remember(tx);
                self.applied_generation = generation;
                Ok(())
            }
            (Some((seq, errno)), _) => {
                // The kernel's shape of the table is unknown now (it applied nothing, but a
                // caller may change it behind us before the next call).
                self.shapes.remove(&tx.table);
                let what = encoded
                    .op_of(seq)
                    .map(|i| crate::render::op_line(tx, &tx.ops[i]))
                    .unwrap_or_else(|| "committing the batch".to_owned());
                Err(Error::Refused {
                    target,
                    table,
                    refusal: Refusal::from_errno(errno),
                    detail: format!("{what}: {}", std::io::Error::from_raw_os_error(errno)),
                })
            }
        }
    }

    fn dump(&self, table: &TableId) -> Result<Option<TableDump>> {
        // Rules read back as nft's canonical text: the same dump as the `nft` executor's.
        Nft::new(self.netns.as_deref()).dump(table)
    }
}

/// What came back: the first error, as `(sequence number, errno)`, and the generation a
/// GETGEN answered.
type Answers = (Option<(u32, i32)>, Option<u32>);

/// Sends the batch and a GETGEN numbered `probe_seq`, and reads the answers up to the
/// GETGEN's.
fn send_batch(sock: &Socket, batch: &[u8], probe_seq: u32) -> Read<Answers> {
    // A batch goes in one datagram: the send buffer must hold it (root may force it).
    let size = i32::try_from(batch.len() + 65536).unwrap_or(i32::MAX);
    for opt in [libc::SO_SNDBUFFORCE, libc::SO_RCVBUFFORCE] {
        let want = if opt == libc::SO_RCVBUFFORCE {
            size.clamp(1 << 20, 8 << 20)
        } else {
            size
        };
        // SAFETY: a valid socket and a pointer to an int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&want as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(format!(
                "sizing the socket buffer: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    sock.send(batch, 0).map_err(|e| format!("send: {e}"))?;
    sock.send(&wire::request(MsgType::GetGen, NLM_F_ACK, probe_seq), 0)
        .map_err(|e| format!("send: {e}"))?;
    answers(sock, probe_seq)
}

/// Reads answers until the one to the GETGEN numbered `probe_seq` (its NEWGEN carries the
/// generation, its ACK ends it).
fn answers(sock: &Socket, probe_seq: u32) -> Read<Answers> {
    let mut first_error = None;
    let mut generation = None;
    loop {
        let (data, _) = sock.recv_from_full().map_err(|e| format!("recv: {e}"))?;
        let mut at = 0;
        while at + 16 <= data.len() {
            let len = u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
            let ty = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
            let seq = u32::from_ne_bytes(data[at + 8..at + 12].try_into().expect("4 bytes"));
            if len < 16 || at + len > data.len() {
                return Err(format!("a truncated reply ({len} bytes)"));
            }
            let body = &data[at + 16..at + len];
            at += len.div_ceil(4) * 4;
            if ty == NLMSG_ERROR && body.len() >= 4 + 16 {
                let code = i32::from_ne_bytes(body[0..4].try_into().expect("4 bytes"));
                let of = u32::from_ne_bytes(body[12..16].try_into().expect("4 bytes"));
                if of == probe_seq {
                    return Ok((first_error, generation));
                }
                if code != 0 && first_error.is_none() {
                    first_error = Some((of, -code));
                }
            } else if ty == NLMSG_DONE && seq == probe_seq {
                return Ok((first_error, generation));
            } else if ty == NEWGEN && seq == probe_seq {
                generation = generation_of(body);
            }
        }
    }
}
