//! Reading one instance's log file as a stream of output chunks: from the tail's start,
//! through [`OutputFilter`], and with `follow` on past the end as the file grows, across
//! rotations (on to the next rotated file, or the new file under the name), until the
//! writer is done — it no longer holds its lock on the file under the name — and the file
//! has been read to its end. Like the kubelet, a read without `follow` sees only the file
//! under the name, not the rotated ones.

use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncReadExt;

use super::filter::{LogOptions, OutputFilter, Step};
use super::layout::rotated_files;
use crate::error::{Error, Result};

/// How often a followed file that has not grown is looked at again.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// Output chunks are at most about this size.
const CHUNK: usize = 32 * 1024;

/// Opens `path` (one instance's log, see [`super::instance_to_read`]) and returns its output
/// under `options` as a stream of chunks. Dropping the stream stops a follow.
pub fn read_log(
    path: &Path,
    options: &LogOptions,
) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, "open the log", e))?;
    let start = match options.tail_lines {
        Some(n) => tail_start(&mut file, n).map_err(|e| Error::io(path, "find the tail", e))?,
        None => 0,
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, "seek", e))?;
    let reader = LogReader {
        path: path.to_owned(),
        file: tokio::fs::File::from_std(file),
        filter: OutputFilter::new(options),
        follow: options.follow,
        pending: vec![],
        settled_eof: false,
        done: false,
    };
    Ok(futures::stream::unfold(reader, |mut r| async move {
        let chunk = r.next_chunk().await?;
        Some((chunk, r))
    }))
}

/// Where the last `n` lines of `file` start (its length for none): a trailing newline ends
/// the last line rather than starting another.
fn tail_start(file: &mut std::fs::File, n: u64) -> std::io::Result<u64> {
    use std::io::Read;
    let len = file.metadata()?.len();
    if n == 0 {
        return Ok(len);
    }
    let mut newlines = 0;
    let mut end = len;
    let mut buf = vec![0; 8192];
    while end > 0 {
        let begin = end.saturating_sub(buf.len() as u64);
        let block = &mut buf[..(end - begin) as usize];
        file.seek(SeekFrom::Start(begin))?;
        file.read_exact(block)?;
        for (i, &b) in block.iter().enumerate().rev() {
            let at = begin + i as u64;
            if b == b'\n' && at != len - 1 {
                newlines += 1;
                if newlines == n {
                    return Ok(at + 1);
                }
            }
        }
        end = begin;
    }
    Ok(0)
}

struct LogReader {
    path: PathBuf,
    file: tokio::fs::File,
    filter: OutputFilter,
    follow: bool,
    /// Bytes of a line whose newline has not been read yet.
    pending: Vec<u8>,
    /// The end was reached after the writer let go of the file (or it was rotated): one
    /// more read decides, since entries may have been written just before.
    settled_eof: bool,
    done: bool,
}

// === impl LogReader ===

impl LogReader {
    async fn next_chunk(&mut self) -> Option<Result<Bytes>> {
        let mut out = Vec::new();
        let mut buf = vec![0; CHUNK];
        while !self.done && out.len() < CHUNK {
            if self.filter.is_done() {
                self.done = true;
                break;
            }
            let n = match self.file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(&self.path, "read the log", e)));
                }
            };
            if n > 0 {
                self.settled_eof = false;
                self.take_lines(&buf[..n], &mut out);
                continue;
            }
            // The end of what is there now.
            if !out.is_empty() {
                break;
            }
            match self.at_end().await {
                Ok(()) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if self.done {
                // A last line without its newline still counts (the kubelet's reader too).
                let last = std::mem::take(&mut self.pending);
                if !last.is_empty() {
                    self.emit(&last, &mut out);
                }
            }
        }
        (!out.is_empty()).then(|| Ok(Bytes::from(out)))
    }

    /// Cuts `data` into lines after what was pending and runs each through the filter.
    fn take_lines(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let line = if self.pending.is_empty() {
                rest[..=i].to_vec()
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(&rest[..=i]);
                line
            };
            rest = &rest[i + 1..];
            if !self.emit(&line, out) {
                return;
            }
        }
        self.pending.extend_from_slice(rest);
    }

    /// Runs one line through the filter; false once the request is complete.
    fn emit(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        match self.filter.line(line) {
            Step::Emit(bytes) => {
                out.extend(bytes);
                true
            }
            Step::Last(bytes) => {
                out.extend(bytes);
                self.done = true;
                false
            }
        }
    }

    /// At the end of the file: done when not following, else wait for more, move to the
    /// new file after a rotation, or finish once the writer is done.
    async fn at_end(&mut self) -> Result<()> {
        if !self.follow {
            self.done = true;
            return Ok(());
        }
        // The lock first, the name second: a writer lets go of a rotated file only after
        // the new one holds the name, so a free lock and the same file under the name
        // means there is no writer any more.
        let writer_done = !self.is_locked()?;
        let ours = self.file.metadata().await.ok().map(|m| (m.dev(), m.ino()));
        let named = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if ours != named && named.is_some() {
            if self.settled_eof {
                let next = self.next_file(ours);
                let file = std::fs::File::open(&next)
                    .map_err(|e| Error::io(&next, "open the log after a rotation", e))?;
                self.file = tokio::fs::File::from_std(file);
                self.settled_eof = false;
                tracing::debug!(path = %self.path.display(), "following the log after a rotation");
            } else {
                self.settled_eof = true;
            }
            return Ok(());
        }
        if writer_done {
            // Removed (the pod's logs deleted) or complete: one more read, then stop.
            if self.settled_eof {
                self.done = true;
            }
            self.settled_eof = true;
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_POLL).await;
        Ok(())
    }

    /// The file written after ours: the next rotated one (ours is among them under its
    /// rotated name, unless already removed: then the oldest kept), else the current one.
    fn next_file(&self, ours: Option<(u64, u64)>) -> PathBuf {
        let rotated = rotated_files(&self.path);
        let id = |p: &PathBuf| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let next = match rotated.iter().position(|p| id(p) == ours) {
            Some(i) => rotated.get(i + 1),
            None => rotated.first(),
        };
        next.cloned().unwrap_or_else(|| self.path.clone())
    }

    /// Whether a writer holds the file's lock (tried with a shared lock, dropped at once).
    fn is_locked(&self) -> Result<bool> {
        let fd = self.file.as_raw_fd();
        // SAFETY: flock on a descriptor owned by self.file.
        if unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            unsafe { libc::flock(fd, libc::LOCK_UN) };
            return Ok(false);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(true)
        } else {
            Err(Error::io(&self.path, "test the log's lock", e))
        }
    }
}
