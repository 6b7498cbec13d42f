//! Writing a container's output as CRI log entries, rotated by size.
//!
//! The writer runs in a process of its own (`podnet lab container-logger`, started by the
//! kubelet next to each container, as containerd's shim holds a container's pipes): the
//! container's stdout and stderr are pipes to it, so the container outlives a kubelet
//! restart without losing its output. The writer holds an exclusive `flock` on the file it
//! writes, from before the file appears under its name until it has written the last
//! entry: a reader that can take the lock knows the file is complete.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::cri::{LineSplitter, LogStream, LogTag, format_entry};
use super::layout::rotated_files;
use crate::error::{Error, Result};

/// When a log file is rotated and how many files of one instance are kept (the kubelet's
/// `containerLogMaxSize` and `containerLogMaxFiles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRotation {
    /// A file is rotated before an entry would take it past this size (bytes).
    pub max_size: u64,
    /// Files kept per instance, the one being written included (at least 2).
    pub max_files: usize,
}

impl Default for LogRotation {
    /// The kubelet's defaults: 10Mi, 5 files.
    fn default() -> Self {
        Self {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// Creates `path` (empty) already locked by the returned file: the file is made and locked
/// under a temporary name, then renamed into place, so that no reader ever sees it unlocked
/// before its writer is done.
pub fn create_locked(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create the log dir", e))?;
    }
    let tmp = temporary_name(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, "create the log", e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(
            &tmp,
            "lock the log",
            std::io::Error::last_os_error(),
        ));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename the new log into place", e))?;
    Ok(file)
}

fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// One instance's log: entries appended to `path`, rotated by [`LogRotation`].
#[derive(Debug)]
pub struct CriWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: LogRotation,
}

// === impl CriWriter ===

impl CriWriter {
    /// Writes to `file`, which is `path` opened and locked by [`create_locked`].
    pub fn new(path: PathBuf, file: File, rotation: LogRotation) -> Self {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Self {
            path,
            file,
            size,
            rotation,
        }
    }

    /// Appends one entry stamped now, rotating first if it would not fit.
    pub fn write(&mut self, stream: LogStream, tag: LogTag, text: &[u8]) -> Result<()> {
        let line = format_entry(Timestamp::now(), stream, tag, text);
        if self.size > 0 && self.size + line.len() as u64 > self.rotation.max_size {
            self.rotate()?;
        }
        self.file
            .write_all(&line)
            .map_err(|e| Error::io(&self.path, "write the log", e))?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// The current file becomes `N.log.<time>` and a new, locked `N.log` takes its place in
    /// one rename (the name never goes missing); the oldest rotated files beyond
    /// `max_files` are removed. The old file's lock goes with its descriptor, after its
    /// last entry.
    fn rotate(&mut self) -> Result<()> {
        let stamp = Timestamp::now().strftime("%Y%m%d-%H%M%S.%6f");
        let rotated = PathBuf::from(format!("{}.{stamp}", self.path.display()));
        std::fs::hard_link(&self.path, &rotated)
            .map_err(|e| Error::io(&rotated, "keep the rotated log", e))?;
        self.file = create_locked(&self.path)?;
        self.size = 0;
        let rotated = rotated_files(&self.path);
        let excess = rotated
            .len()
            .saturating_sub(self.rotation.max_files.max(2) - 1);
        for old in &rotated[..excess] {
            if let Err(error) = std::fs::remove_file(old) {
                tracing::warn!(path = %old.display(), %error, "removing a rotated log");
            }
        }
        tracing::debug!(path = %self.path.display(), "log rotated");
        Ok(())
    }
}

/// The container logger's process: reads the container's stdout from `stdout` and its
/// stderr from `stderr` until both end, writing entries to `file` (`path`, created and
/// locked by the kubelet). Write errors are reported and the pipes still drained, so the
/// container never blocks on its output.
pub fn run_logger(
    path: PathBuf,
    file: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
    rotation: LogRotation,
) -> Result<()> {
    let writer = Arc::new(Mutex::new(CriWriter::new(
        path.clone(),
        File::from(file),
        rotation,
    )));
    let pump = |fd: OwnedFd, stream: LogStream| {
        let writer = writer.clone();
        std::thread::spawn(move || copy_stream(File::from(fd), stream, &writer))
    };
    let threads = [
        pump(stdout, LogStream::Stdout),
        pump(stderr, LogStream::Stderr),
    ];
    for thread in threads {
        if let Ok(Err(error)) = thread.join() {
            tracing::warn!(path = %path.display(), %error, "container log incomplete");
        }
    }
    Ok(())
}

fn copy_stream(mut input: File, stream: LogStream, writer: &Mutex<CriWriter>) -> Result<()> {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0; 64 * 1024];
    let mut failed = None;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("container output", "read", e)),
        };
        let entries = splitter.push(&buf[..n]);
        write_all(writer, stream, entries, &mut failed);
    }
    write_all(writer, stream, splitter.finish(), &mut failed);
    failed.map_or(Ok(()), Err)
}

fn write_all(
    writer: &Mutex<CriWriter>,
    stream: LogStream,
    entries: impl IntoIterator<Item = (LogTag, Vec<u8>)>,
    failed: &mut Option<Error>,
) {
    let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
    for (tag, text) in entries {
        if failed.is_none()
            && let Err(e) = w.write(stream, tag, &text)
        {
            *failed = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cri::parse_entry;
    use super::*;

    #[test]
    fn rotation_keeps_max_files_and_every_entry_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c").join("0.log");
        let file = create_locked(&path).unwrap();
        let rotation = LogRotation {
            max_size: 200,
            max_files: 3,
        };
        let mut w = CriWriter::new(path.clone(), file, rotation);
        for i in 0..40 {
            w.write(
                LogStream::Stdout,
                LogTag::Full,
                format!("line {i:02}").as_bytes(),
            )
            .unwrap();
        }
        let rotated = rotated_files(&path);
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        let mut seen = vec![];
        for f in rotated.iter().chain([&path]) {
            let text = std::fs::read(f).unwrap();
            assert!(text.len() <= 200, "{} is {} bytes", f.display(), text.len());
            for line in text.split_inclusive(|&b| b == b'\n') {
                seen.push(String::from_utf8(parse_entry(line).unwrap().text.to_vec()).unwrap());
            }
        }
        // The newest files hold the newest lines, in order, with nothing lost between them.
        let last: u32 = seen.last().unwrap()[5..7].parse().unwrap();
        assert_eq!(last, 39);
        let first: u32 = seen[0][5..7].parse().unwrap();
        let expected: Vec<String> = (first..40).map(|i| format!("line {i:02}\n")).collect();
        assert_eq!(seen, expected);
    }
}
