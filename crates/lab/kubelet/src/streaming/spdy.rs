//! SPDY/3.1 framing, as much as Kubernetes' streaming clients use (moby/spdystream under
//! client-go): SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
//! WINDOW_UPDATE and DATA frames, with header blocks compressed by one zlib stream per
//! direction primed with the protocol's dictionary. I/O-free: bytes in, frames out.
//!
//! spdystream keeps no flow-control windows, so neither does this codec's user: WINDOW_UPDATE
//! and SETTINGS are read and ignored.

mod dictionary;
mod zlib;

use thiserror::Error;

/// What a peer sent that is not SPDY/3.
#[derive(Debug, Error)]
pub enum SpdyError {
    #[error("spdy: control frame of version {0} (only 3 is spoken)")]
    Version(u16),
    #[error("spdy: {kind} frame of {len} bytes is too short")]
    Short { kind: &'static str, len: usize },
    #[error("spdy: header block: {0}")]
    Headers(String),
}

pub type Headers = Vec<(String, String)>;

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Data {
        stream_id: u32,
        fin: bool,
        data: Vec<u8>,
    },
    /// SETTINGS, HEADERS, WINDOW_UPDATE and unknown control frames: read (a HEADERS block
    /// still goes through the decompressor, to keep it in step) and ignored.
    Ignored,
}

const VERSION: u16 = 3;
const FLAG_FIN: u8 = 0x01;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
/// RST_STREAM status CANCEL.
pub const CANCEL: u32 = 5;

/// The reading side of a connection: frames from bytes, header blocks through the peer's
/// zlib stream.
pub struct Decoder {
    inflate: zlib::Inflate,
}

/// The writing side: frames to bytes, header blocks through our zlib stream.
pub struct Encoder {
    deflate: zlib::Deflate,
}

// === impl Decoder ===

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            inflate: zlib::Inflate::new(),
        }
    }
}

impl Decoder {
    /// Takes one whole frame off the front of `buf`, if there is one.
    pub fn decode(&mut self, buf: &mut Vec<u8>) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head: [u8; 8] = buf[..8].try_into().expect("8 bytes");
        let body: Vec<u8> = buf.drain(..8 + len).skip(8).collect();
        let flags = head[4];
        let fin = flags & FLAG_FIN != 0;
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes(head[..4].try_into().expect("4 bytes"));
            return Ok(Some(Frame::Data {
                stream_id,
                fin,
                data: body,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7f, head[1]]);
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let word = |i: usize, what: &'static str| -> Result<u32, SpdyError> {
            body.get(i..i + 4)
                .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
                .ok_or(SpdyError::Short {
                    kind: what,
                    len: body.len(),
                })
        };
        let id = |w: u32| w & 0x7fff_ffff;
        let frame = match kind {
            SYN_STREAM => {
                let stream_id = id(word(0, "SYN_STREAM")?);
                let headers = self.headers(body.get(10..).unwrap_or_default())?;
                Frame::SynStream {
                    stream_id,
                    fin,
                    headers,
                }
            }
            SYN_REPLY => {
                let stream_id = id(word(0, "SYN_REPLY")?);
                let headers = self.headers(&body[4..])?;
                Frame::SynReply {
                    stream_id,
                    fin,
                    headers,
                }
            }
            RST_STREAM => Frame::RstStream {
                stream_id: id(word(0, "RST_STREAM")?),
                status: word(4, "RST_STREAM")?,
            },
            PING => Frame::Ping {
                id: word(0, "PING")?,
            },
            GOAWAY => Frame::GoAway {
                last_good_stream_id: id(word(0, "GOAWAY")?),
                status: word(4, "GOAWAY").unwrap_or(0),
            },
            HEADERS => {
                word(0, "HEADERS")?;
                self.headers(&body[4..])?;
                Frame::Ignored
            }
            _ => Frame::Ignored,
        };
        Ok(Some(frame))
    }

    fn headers(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        let raw = self
            .inflate
            .decompress(compressed)
            .map_err(SpdyError::Headers)?;
        parse_header_block(&raw).ok_or_else(|| SpdyError::Headers("truncated block".into()))
    }
}

// === impl Encoder ===

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            deflate: zlib::Deflate::new(),
        }
    }
}

impl Encoder {
    /// The bytes of `frame` (header blocks compressed in this connection's stream).
    pub fn encode(&mut self, frame: &Frame) -> Vec<u8> {
        let control = |kind: u16, flags: u8, body: Vec<u8>| {
            let mut out = Vec::with_capacity(8 + body.len());
            out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
            out.extend_from_slice(&kind.to_be_bytes());
            out.push(flags);
            out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(&body);
            out
        };
        let flag = |fin: bool| if fin { FLAG_FIN } else { 0 };
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
            } => {
                let mut body = stream_id.to_be_bytes().to_vec();
                body.extend_from_slice(&[0; 6]);
                body.extend(self.deflate.compress(&header_block(headers)));
                control(SYN_STREAM, flag(*fin), body)
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            } => {
                let mut body = stream_id.to_be_bytes().to_vec();
                body.extend(self.deflate.compress(&header_block(headers)));
                control(SYN_REPLY, flag(*fin), body)
            }
            Frame::RstStream { stream_id, status } => {
                let mut body = stream_id.to_be_bytes().to_vec();
                body.extend_from_slice(&status.to_be_bytes());
                control(RST_STREAM, 0, body)
            }
            Frame::Ping { id } => control(PING, 0, id.to_be_bytes().to_vec()),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                let mut body = last_good_stream_id.to_be_bytes().to_vec();
                body.extend_from_slice(&status.to_be_bytes());
                control(GOAWAY, 0, body)
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                let mut out = Vec::with_capacity(8 + data.len());
                out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                out.push(flag(*fin));
                out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
                out.extend_from_slice(data);
                out
            }
            Frame::Ignored => Vec::new(),
        }
    }
}

/// `count, (len, name, len, value)*`, all lengths 32-bit; names lower case.
fn header_block(headers: &Headers) -> Vec<u8> {
    let mut out = (headers.len() as u32).to_be_bytes().to_vec();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn parse_header_block(raw: &[u8]) -> Option<Headers> {
    let mut rest = raw;
    let word = |rest: &mut &[u8]| -> Option<usize> {
        let (w, tail) = rest.split_first_chunk::<4>()?;
        *rest = tail;
        Some(u32::from_be_bytes(*w) as usize)
    };
    let string = |rest: &mut &[u8]| -> Option<String> {
        let n = word(rest)?;
        let s = rest.get(..n)?;
        *rest = &rest[n..];
        Some(String::from_utf8_lossy(s).into_owned())
    };
    let count = u32::from_be_bytes(*rest.split_first_chunk::<4>()?.0) as usize;
    rest = &rest[4..];
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = string(&mut rest)?;
        let value = string(&mut rest)?;
        out.push((name, value));
    }
    Some(out)
}

/// The value of header `name` (any case).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two SYN_STREAMs of one port-forward request as another zlib (Python's, i.e. C zlib)
    /// wrote them with the SPDY dictionary: the second block refers back into the first.
    const RECORDED: &[&[u8]] = &[
        &[
            0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x48,
            0xf9, 0x5b, 0x04, 0x4e, 0xea, 0x16, 0x06, 0x16, 0x06, 0x40, 0x9a, 0xb3, 0x08, 0x12,
            0x5f, 0x99, 0xa0, 0x74, 0xcc, 0x68, 0x00, 0x4e, 0x89, 0x25, 0x45, 0xa9, 0x89, 0xb9,
            0xd0, 0xc2, 0x86, 0x35, 0x15, 0x14, 0x15, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
        ],
        &[
            0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x22, 0x53, 0x33, 0xa8, 0xa4, 0x4a, 0x04, 0x00, 0x00, 0x00,
            0xff, 0xff,
        ],
    ];

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn recorded_syn_streams_decode_with_the_dictionary() {
        let mut decoder = Decoder::default();
        // Arriving in pieces, as bytes off a connection do.
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        for chunk in RECORDED.concat().chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(
            frames,
            [
                Frame::SynStream {
                    stream_id: 1,
                    fin: false,
                    headers: h(&[
                        ("port", "8080"),
                        ("requestid", "0"),
                        ("streamtype", "error")
                    ]),
                },
                Frame::SynStream {
                    stream_id: 3,
                    fin: false,
                    headers: h(&[("port", "8080"), ("requestid", "0"), ("streamtype", "data")]),
                },
            ]
        );
        assert_eq!(
            header(&h(&[("StreamType", "data")]), "streamtype"),
            Some("data")
        );
    }

    #[test]
    fn frames_round_trip_through_one_compression_stream() {
        let (mut encoder, mut decoder) = (Encoder::default(), Decoder::default());
        let frames = [
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: h(&[("x-stream-protocol-version", "portforward.k8s.io")]),
            },
            Frame::SynStream {
                stream_id: 2,
                fin: true,
                headers: h(&[("streamtype", "data"), ("port", "80")]),
            },
            Frame::Data {
                stream_id: 1,
                fin: true,
                data: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            },
            Frame::Ping { id: 7 },
            Frame::RstStream {
                stream_id: 3,
                status: CANCEL,
            },
            Frame::GoAway {
                last_good_stream_id: 5,
                status: 0,
            },
        ];
        let mut wire: Vec<u8> = frames.iter().flat_map(|f| encoder.encode(f)).collect();
        for frame in &frames {
            assert_eq!(decoder.decode(&mut wire).unwrap().as_ref(), Some(frame));
        }
        assert_eq!(decoder.decode(&mut wire).unwrap(), None);
    }

    #[test]
    fn partial_frames_wait_and_other_versions_are_refused() {
        let mut decoder = Decoder::default();
        let mut buf = vec![0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x03, b'a'];
        assert_eq!(decoder.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"bc");
        assert_eq!(
            decoder.decode(&mut buf).unwrap(),
            Some(Frame::Data {
                stream_id: 1,
                fin: true,
                data: b"abc".to_vec()
            })
        );
        let mut v2 = vec![0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1];
        assert!(matches!(
            decoder.decode(&mut v2),
            Err(SpdyError::Version(2))
        ));
    }
}
