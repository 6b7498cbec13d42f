//! The two zlib streams of a SPDY connection: one inflater for the peer's header blocks and
//! one deflater for ours, each primed with the SPDY dictionary and sync-flushed per block.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use super::dictionary;

pub(super) struct Inflate {
    z: Decompress,
    dictionary: Vec<u8>,
}

pub(super) struct Deflate {
    z: Compress,
}

// === impl Inflate ===

impl Inflate {
    pub(super) fn new() -> Self {
        Inflate {
            z: Decompress::new(true),
            dictionary: dictionary::bytes(),
        }
    }

    /// One header block's bytes (the stream goes on across blocks).
    pub(super) fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(1024));
            }
            let before = self.z.total_in();
            match self
                .z
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
            {
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(&self.dictionary)
                        .map_err(|e| format!("the peer's dictionary is not SPDY/3's: {e}"))?;
                }
                Err(e) => return Err(e.to_string()),
            }
            used += (self.z.total_in() - before) as usize;
            if used >= input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

// === impl Deflate ===

impl Deflate {
    pub(super) fn new() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(&dictionary::bytes())
            .expect("a fresh deflate stream takes a dictionary");
        Deflate { z }
    }

    pub(super) fn compress(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(256));
            }
            let before = self.z.total_in();
            self.z
                .compress_vec(&input[used..], &mut out, FlushCompress::Sync)
                .expect("deflate into memory does not fail");
            used += (self.z.total_in() - before) as usize;
            if used >= input.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}
