//! The writer and the reader together on real files and pipes: a logger fed through pipes
//! as a container's would be, read while it writes, across rotations, and after it ends.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;

use super::writer::create_locked;
use super::*;

/// A logger process's work, in a thread: returns the container's stdout and stderr and
/// the thread, which ends when both are closed.
fn start_logger(
    path: &Path,
    rotation: LogRotation,
) -> (
    std::io::PipeWriter,
    std::io::PipeWriter,
    std::thread::JoinHandle<()>,
) {
    let file = OwnedFd::from(create_locked(path).unwrap());
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (err_r, err_w) = std::io::pipe().unwrap();
    let path = path.to_owned();
    let thread = std::thread::spawn(move || {
        run_logger(path, file, out_r.into(), err_r.into(), rotation).unwrap();
    });
    (out_w, err_w, thread)
}

async fn read_all(path: &Path, options: LogOptions) -> String {
    collect(read_log(path, &options).unwrap()).await
}

/// Everything a stream gives until it ends (within a generous deadline).
async fn collect(stream: impl futures::Stream<Item = crate::Result<bytes::Bytes>>) -> String {
    let chunks: Vec<_> = tokio::time::timeout(Duration::from_secs(60), stream.collect::<Vec<_>>())
        .await
        .expect("the log stream ended");
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
    String::from_utf8(bytes).unwrap()
}

const FOLLOW: LogOptions = LogOptions {
    follow: true,
    since: None,
    timestamps: false,
    tail_lines: None,
    limit_bytes: None,
    stream: None,
};

fn log_path(dir: &tempfile::TempDir, n: u32) -> PathBuf {
    instance_log_path(&dir.path().join("c"), n)
}

#[tokio::test]
async fn follow_sees_lines_written_later_and_ends_when_the_streams_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir, 0);
    let (mut out, mut err, logger) = start_logger(&path, LogRotation::default());
    out.write_all(b"first\n").unwrap();
    // The file is opened here: what follows is written while the stream is read.
    let follow = tokio::spawn(collect(read_log(&path, &FOLLOW).unwrap()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!follow.is_finished(), "follow ended while the logger runs");
    err.write_all(b"to stderr\n").unwrap();
    // The two streams are separate pipes: order them by waiting for the first entry.
    while !std::fs::read_to_string(&path)
        .unwrap()
        .contains("to stderr")
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.write_all(b"no newline at the end").unwrap();
    drop((out, err));
    let text = follow.await.unwrap();
    tokio::task::spawn_blocking(|| logger.join().unwrap())
        .await
        .unwrap();
    assert_eq!(text, "first\nto stderr\nno newline at the end");

    // The same file read afterwards, with timestamps and a tail.
    let tail = read_all(
        &path,
        LogOptions {
            tail_lines: Some(2),
            timestamps: true,
            ..Default::default()
        },
    )
    .await;
    let lines: Vec<&str> = tail.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 2, "{tail:?}");
    assert!(lines[0].ends_with("Z to stderr\n"), "{tail:?}");
    assert!(lines[1].ends_with("Z no newline at the end"), "{tail:?}");
    let time = &lines[0][..lines[0].find(' ').unwrap()];
    assert_eq!(time.len(), "2026-12-07T10:00:00.000000000Z".len(), "{time}");
}

#[tokio::test]
async fn a_follow_across_rotations_loses_and_repeats_nothing_while_the_files_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir, 0);
    // Room for every file: a follow that falls behind walks the rotated files in order.
    let rotation = LogRotation {
        max_size: 2048,
        max_files: 50,
    };
    let (mut out, err, logger) = start_logger(&path, rotation);
    let follow = tokio::spawn(collect(read_log(&path, &FOLLOW).unwrap()));
    let expected: String = (0..600).map(|i| format!("line {i}\n")).collect();
    let writer = tokio::task::spawn_blocking(move || {
        for line in expected.split_inclusive('\n') {
            out.write_all(line.as_bytes()).unwrap();
            // Slow enough that the reader follows rotations as they happen.
            std::thread::sleep(Duration::from_micros(300));
        }
        drop((out, err));
        logger.join().unwrap();
        expected
    });
    let expected = writer.await.unwrap();
    assert_eq!(follow.await.unwrap(), expected);
    // The lines were spread over several files, and the name holds the newest.
    assert!(layout::rotated_files(&path).len() >= 5);
    let now = read_all(&path, LogOptions::default()).await;
    assert!(now.ends_with("line 599\n"), "{now}");
    assert!(!now.starts_with("line 0\n"));
}

#[tokio::test]
async fn previous_reads_the_instance_before_the_last_restart() {
    let dir = tempfile::tempdir().unwrap();
    for (n, text) in [(0, &b"run 0\n"[..]), (1, b"run 1\n"), (2, b"run 2\n")] {
        let (mut out, err, logger) = start_logger(&log_path(&dir, n), LogRotation::default());
        out.write_all(text).unwrap();
        drop((out, err));
        logger.join().unwrap();
    }
    let c = dir.path().join("c");
    let read = |previous| {
        let file = instance_to_read(&c, previous).unwrap();
        async move { read_all(&file, LogOptions::default()).await }
    };
    assert_eq!(read(false).await, "run 2\n");
    assert_eq!(read(true).await, "run 1\n");
    // A follow of a finished instance ends at its end.
    let file = instance_to_read(&c, true).unwrap();
    assert_eq!(read_all(&file, FOLLOW).await, "run 1\n");
}

#[tokio::test]
async fn since_and_limit_bytes_on_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir, 0);
    let (mut out, err, logger) = start_logger(&path, LogRotation::default());
    out.write_all(b"old\n").unwrap();
    // Entries are stamped when the logger writes them: wait until this one is there.
    while std::fs::metadata(&path).unwrap().len() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = jiff::Timestamp::now();
    out.write_all(b"new one\nnew two\n").unwrap();
    drop((out, err));
    logger.join().unwrap();
    let since = read_all(
        &path,
        LogOptions {
            since: Some(since),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(since, "new one\nnew two\n");
    let limited = read_all(
        &path,
        LogOptions {
            limit_bytes: Some(7),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(limited, "old\nnew");
}
