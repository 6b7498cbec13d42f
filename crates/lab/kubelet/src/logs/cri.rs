//! The CRI log format, pure: one entry a line,
//! `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, as containerd writes it and the
//! kubelet reads it. `P` (partial) entries carry a piece of a line that was too long, or the
//! last bytes of a stream that ended without a newline; `F` ends a line.

use jiff::Timestamp;

/// The longest line text in one entry; a longer line is split into `P` entries
/// (containerd's `max_container_log_line_size`).
pub const MAX_LINE: usize = 16 * 1024;

/// Which of the container's output streams an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// Whether an entry ends its line (`F`) or continues in the next one (`P`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTag {
    Full,
    Partial,
}

/// One parsed entry: `text` is what the container wrote, with the line's newline for a full
/// entry and without one for a partial entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry<'a> {
    pub time: Timestamp,
    pub stream: LogStream,
    pub text: &'a [u8],
}

// === impl LogStream ===

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One entry as a file line: the text gets a newline whichever its tag (the reader drops it
/// again from a partial entry).
pub fn format_entry(time: Timestamp, stream: LogStream, tag: LogTag, text: &[u8]) -> Vec<u8> {
    // jiff's RFC 3339 form drops trailing zeros of the fraction, as Go's RFC3339Nano does.
    let head = format!(
        "{time} {} {} ",
        stream.as_str(),
        match tag {
            LogTag::Full => 'F',
            LogTag::Partial => 'P',
        }
    );
    let mut line = Vec::with_capacity(head.len() + text.len() + 1);
    line.extend_from_slice(head.as_bytes());
    line.extend_from_slice(text);
    line.push(b'\n');
    line
}

/// Parses one file line (with or without its newline). Tags after the first (`F:x`) are
/// ignored, for forward compatibility, as the kubelet does.
pub fn parse_entry(line: &[u8]) -> Option<LogEntry<'_>> {
    let (time, rest) = split_field(line)?;
    let time: Timestamp = std::str::from_utf8(time).ok()?.parse().ok()?;
    let (stream, rest) = split_field(rest)?;
    let stream = match stream {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return None,
    };
    let (tags, mut text) = split_field(rest)?;
    let partial = tags.split(|&b| b == b':').next() == Some(b"P");
    if partial && text.last() == Some(&b'\n') {
        text = &text[..text.len() - 1];
    }
    Some(LogEntry { time, stream, text })
}

/// The output form of a timestamp: RFC 3339 with nine fraction digits (the kubelet's
/// RFC3339NanoFixed), so that timestamped lines line up.
pub fn format_fixed(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S.%NZ").to_string()
}

fn split_field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

/// Cuts a stream's bytes into entries: complete lines become `F` entries, a line longer
/// than [`MAX_LINE`] is cut into `P` entries, and what is left without a newline waits for
/// more input (or [`LineSplitter::finish`] at the end of the stream, as a `P` entry).
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

// === impl LineSplitter ===

impl LineSplitter {
    /// Adds `input` and returns the entries it completes, in order.
    pub fn push(&mut self, input: &[u8]) -> Vec<(LogTag, Vec<u8>)> {
        let mut out = vec![];
        let mut rest = input;
        while let Some(&first) = rest.first() {
            if self.pending.len() == MAX_LINE {
                // A full window: a newline right after it still ends the line as one entry.
                let tag = if first == b'\n' {
                    rest = &rest[1..];
                    LogTag::Full
                } else {
                    LogTag::Partial
                };
                out.push((tag, std::mem::take(&mut self.pending)));
                continue;
            }
            let window = &rest[..rest.len().min(MAX_LINE - self.pending.len())];
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.pending.extend_from_slice(&window[..i]);
                    out.push((LogTag::Full, std::mem::take(&mut self.pending)));
                    rest = &rest[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(window);
                    rest = &rest[window.len()..];
                }
            }
        }
        out
    }

    /// The end of the stream: bytes after the last newline, if any, as a partial entry.
    pub fn finish(&mut self) -> Option<(LogTag, Vec<u8>)> {
        (!self.pending.is_empty()).then(|| (LogTag::Partial, std::mem::take(&mut self.pending)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn entries_round_trip_with_go_rfc3339nano_times() {
        let t = ts("2016-10-06T00:17:09.6697942Z");
        let line = format_entry(t, LogStream::Stdout, LogTag::Full, b"hello world");
        assert_eq!(
            line,
            b"2016-10-06T00:17:09.6697942Z stdout F hello world\n".to_vec()
        );
        let e = parse_entry(&line).unwrap();
        assert_eq!(
            (e.time, e.stream, e.text),
            (t, LogStream::Stdout, &b"hello world\n"[..])
        );
        let line = format_entry(t, LogStream::Stderr, LogTag::Partial, b"part");
        let e = parse_entry(&line).unwrap();
        assert_eq!((e.stream, e.text), (LogStream::Stderr, &b"part"[..]));
    }

    #[test]
    fn parse_keeps_spaces_in_the_text_and_refuses_other_shapes() {
        let e = parse_entry(b"2016-10-06T00:17:09Z stdout F:x  two  spaces \n").unwrap();
        assert_eq!(e.text, b" two  spaces \n");
        assert_eq!(
            parse_entry(b"2016-10-06T00:17:09Z stdout F \n")
                .unwrap()
                .text,
            b"\n"
        );
        for bad in [
            &b"not-a-time stdout F x\n"[..],
            b"2016-10-06T00:17:09Z stdin F x\n",
            b"2016-10-06T00:17:09Z stdout\n",
            b"",
        ] {
            assert!(
                parse_entry(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn fixed_output_times_have_nine_fraction_digits() {
        assert_eq!(
            format_fixed(ts("2016-10-06T00:17:09.5Z")),
            "2016-10-06T00:17:09.500000000Z"
        );
        assert_eq!(
            format_fixed(ts("2016-10-06T00:17:09Z")),
            "2016-10-06T00:17:09.000000000Z"
        );
    }

    #[test]
    fn splitter_makes_full_lines_across_reads_and_cuts_long_ones() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"ab"), vec![]);
        assert_eq!(
            s.push(b"c\nd\n\ne"),
            vec![
                (LogTag::Full, b"abc".to_vec()),
                (LogTag::Full, b"d".to_vec()),
                (LogTag::Full, vec![]),
            ]
        );
        assert_eq!(s.finish(), Some((LogTag::Partial, b"e".to_vec())));
        assert_eq!(s.finish(), None);

        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let mut input = long.clone();
        input.push(b'\n');
        let entries = s.push(&input);
        let tags: Vec<_> = entries.iter().map(|(t, b)| (*t, b.len())).collect();
        assert_eq!(
            tags,
            [
                (LogTag::Partial, MAX_LINE),
                (LogTag::Partial, MAX_LINE),
                (LogTag::Full, 5)
            ]
        );
        // A line of exactly MAX_LINE bytes is one full entry.
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(s.push(&exact), vec![(LogTag::Full, vec![b'y'; MAX_LINE])]);
    }
}
