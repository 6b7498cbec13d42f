//! What a log request keeps of the entries it reads, pure: `sinceTime`, `timestamps`,
//! `limitBytes`, and the `tailLines` count of a request that does not follow (the kubelet's
//! `logWriter`).

use jiff::Timestamp;
use serde::Deserialize;

use super::cri::{LogStream, format_fixed, parse_entry};

/// `PodLogOptions` as the query of a `pods/log` or `/containerLogs` request carries them
/// (`?container=c&follow=true&tailLines=10`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodLogQuery {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub since_seconds: Option<i64>,
    pub since_time: Option<Timestamp>,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

/// The options of `PodLogOptions` that shape a container log's output; the container and
/// `previous` choose the file (see [`super::instance_to_read`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep reading as the file grows, until its writer is done.
    pub follow: bool,
    /// Entries older than this are left out.
    pub since: Option<Timestamp>,
    /// Each entry is prefixed with its time (RFC 3339, nine fraction digits) and a space.
    pub timestamps: bool,
    /// Start this many entries before the end.
    pub tail_lines: Option<u64>,
    /// Stop after this many bytes of output, even within an entry.
    pub limit_bytes: Option<u64>,
    /// Only this stream's entries (upstream's `PodLogOptions.stream`); None for both. The
    /// tail still counts every entry, so the two are not meant together (upstream refuses
    /// them together too).
    pub stream: Option<LogStream>,
}

// === impl LogOptions ===

impl LogOptions {
    /// The kubelet's reading of the API's options at `now`: `sinceSeconds` counts back from
    /// now, and the later of it and `sinceTime` wins; negative counts mean none.
    pub fn from_query(query: &PodLogQuery, now: Timestamp) -> Self {
        let since_seconds = query
            .since_seconds
            .and_then(|s| now.checked_sub(jiff::SignedDuration::from_secs(s)).ok());
        Self {
            follow: query.follow,
            since: since_seconds.max(query.since_time),
            timestamps: query.timestamps,
            tail_lines: query.tail_lines.and_then(|n| u64::try_from(n).ok()),
            limit_bytes: query.limit_bytes.and_then(|n| u64::try_from(n).ok()),
            stream: None,
        }
    }
}

/// What to do with one file line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Output these bytes (possibly none) and go on.
    Emit(Vec<u8>),
    /// Output these bytes (possibly none); the request is complete.
    Last(Vec<u8>),
}

/// The running state of one request's output.
#[derive(Debug)]
pub(crate) struct OutputFilter {
    since: Option<Timestamp>,
    timestamps: bool,
    stream: Option<LogStream>,
    bytes_left: Option<u64>,
    /// Entries still to read when not following (the tail's count); None for all.
    entries_left: Option<u64>,
}

// === impl OutputFilter ===

impl OutputFilter {
    pub fn new(options: &LogOptions) -> Self {
        Self {
            since: options.since,
            timestamps: options.timestamps,
            stream: options.stream,
            bytes_left: options.limit_bytes,
            entries_left: options.tail_lines.filter(|_| !options.follow),
        }
    }

    /// True when nothing more may be output (a zero tail or limit).
    pub fn is_done(&self) -> bool {
        self.entries_left == Some(0) || self.bytes_left == Some(0)
    }

    /// One file line (its newline included, or not for an incomplete last line). A line
    /// that is not a CRI entry is skipped, as the kubelet does.
    pub fn line(&mut self, line: &[u8]) -> Step {
        let Some(entry) = parse_entry(line) else {
            tracing::debug!(line = %String::from_utf8_lossy(line), "not a CRI log entry");
            return Step::Emit(vec![]);
        };
        if self.stream.is_some_and(|only| only != entry.stream) {
            return Step::Emit(vec![]);
        }
        if let Some(left) = &mut self.entries_left {
            *left = left.saturating_sub(1);
        }
        let mut out = vec![];
        if self.since.is_none_or(|since| entry.time >= since) {
            if self.timestamps {
                out.extend_from_slice(format_fixed(entry.time).as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(entry.text);
            if let Some(left) = &mut self.bytes_left {
                out.truncate(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= out.len() as u64;
            }
        }
        if self.is_done() {
            Step::Last(out)
        } else {
            Step::Emit(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: [&str; 3] = [
        "2026-12-07T10:00:00Z stdout F one\n",
        "2026-12-07T10:00:01.5Z stderr P tw\n",
        "2026-12-07T10:00:02Z stderr F o\n",
    ];

    fn run(options: LogOptions) -> String {
        let mut f = OutputFilter::new(&options);
        let mut out = vec![];
        for line in LINES {
            match f.line(line.as_bytes()) {
                Step::Emit(b) => out.extend(b),
                Step::Last(b) => {
                    out.extend(b);
                    break;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_output_joins_partial_entries_into_their_line() {
        assert_eq!(run(LogOptions::default()), "one\ntwo\n");
    }

    #[test]
    fn timestamps_prefix_every_entry_with_nine_fraction_digits() {
        let out = run(LogOptions {
            timestamps: true,
            ..Default::default()
        });
        assert_eq!(
            out,
            "2026-12-07T10:00:00.000000000Z one\n\
             2026-12-07T10:00:01.500000000Z tw\
             2026-12-07T10:00:02.000000000Z o\n"
        );
    }

    #[test]
    fn since_keeps_entries_at_or_after_the_time() {
        let since = Some("2026-12-07T10:00:01.5Z".parse().unwrap());
        assert_eq!(
            run(LogOptions {
                since,
                ..Default::default()
            }),
            "two\n"
        );
    }

    #[test]
    fn limit_bytes_cuts_within_an_entry_and_ends_the_request() {
        let limit = |n| LogOptions {
            limit_bytes: Some(n),
            ..Default::default()
        };
        assert_eq!(run(limit(6)), "one\ntw");
        assert_eq!(run(limit(0)), "");
        let mut f = OutputFilter::new(&limit(2));
        assert_eq!(f.line(LINES[0].as_bytes()), Step::Last(b"on".to_vec()));
    }

    #[test]
    fn tail_count_ends_a_request_that_does_not_follow() {
        let tail = |follow| LogOptions {
            tail_lines: Some(1),
            follow,
            ..Default::default()
        };
        assert_eq!(run(tail(false)), "one\n");
        assert_eq!(run(tail(true)), "one\ntwo\n");
    }

    #[test]
    fn query_options_take_the_later_since_and_ignore_negative_counts() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let query: PodLogQuery = serde_json::from_value(serde_json::json!({
            "sinceSeconds": 60, "sinceTime": "2026-12-07T09:00:00Z",
            "tailLines": -1, "limitBytes": 10, "timestamps": true, "container": "c"}))
        .unwrap();
        assert_eq!(query.container.as_deref(), Some("c"));
        let o = LogOptions::from_query(&query, now);
        assert_eq!(o.since, Some("2026-12-07T09:59:00Z".parse().unwrap()));
        assert_eq!(
            (o.tail_lines, o.limit_bytes, o.timestamps),
            (None, Some(10), true)
        );
    }

    #[test]
    fn one_stream_keeps_only_its_entries_partial_ones_included() {
        let only = |stream| LogOptions {
            stream: Some(stream),
            ..Default::default()
        };
        assert_eq!(run(only(LogStream::Stdout)), "one\n");
        assert_eq!(run(only(LogStream::Stderr)), "two\n");
    }

    #[test]
    fn lines_that_are_not_entries_are_skipped() {
        let mut f = OutputFilter::new(&LogOptions::default());
        assert_eq!(f.line(b"garbage\n"), Step::Emit(vec![]));
    }
}
