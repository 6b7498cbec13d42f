//! nf_tables netlink framing: attributes (type, length, value; nested with NLA_F_NESTED),
//! messages with their nfgenmsg header, and the batch that wraps a transaction
//! (NFNL_MSG_BATCH_BEGIN … NFNL_MSG_BATCH_END, applied by the kernel as one commit).
//! Constants are the kernel's (include/uapi/linux/netfilter/nf_tables.h, nfnetlink.h).

/// `NFNL_SUBSYS_NFTABLES`: the high byte of every nf_tables message type.
const SUBSYS_NFTABLES: u16 = 10;
const MSG_BATCH_BEGIN: u16 = 16;
const MSG_BATCH_END: u16 = 17;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

/// nf_tables message types (`NFT_MSG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum MsgType {
    NewTable = 0,
    DelTable = 2,
    NewChain = 3,
    DelChain = 5,
    NewRule = 6,
    DelRule = 8,
    NewSet = 9,
    DelSet = 11,
    NewSetElem = 12,
    DelSetElem = 14,
    GetGen = 16,
}

/// Attributes being written: a flat buffer, nests patched with their length when closed.
#[derive(Debug, Default)]
pub struct Attrs {
    buf: Vec<u8>,
}

impl Attrs {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends attributes written elsewhere (a nest's content).
    pub fn raw(&mut self, other: &Attrs) {
        self.buf.extend_from_slice(&other.buf);
    }

    pub fn bytes(&mut self, ty: u16, value: &[u8]) -> &mut Self {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self
    }

    /// A NUL-terminated string, as the kernel's NLA_STRING policies take it.
    pub fn str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.bytes(ty, &v)
    }

    /// Integers travel in network byte order.
    pub fn u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.bytes(ty, &v.to_be_bytes())
    }

    pub fn u64(&mut self, ty: u16, v: u64) -> &mut Self {
        self.bytes(ty, &v.to_be_bytes())
    }

    pub fn u8(&mut self, ty: u16, v: u8) -> &mut Self {
        self.bytes(ty, &[v])
    }

    /// A nested attribute whose content `f` writes.
    pub fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Self)) -> &mut Self {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

/// A batch of nf_tables messages under construction, each with its own sequence number.
#[derive(Debug)]
pub struct Batch {
    buf: Vec<u8>,
    next_seq: u32,
    first_seq: u32,
}

impl Batch {
    /// Starts a batch whose messages are numbered from `first_seq`.
    pub fn new(first_seq: u32) -> Self {
        let mut b = Self {
            buf: Vec::new(),
            next_seq: first_seq,
            first_seq,
        };
        b.frame(MSG_BATCH_BEGIN, 0, NLM_F_REQUEST, SUBSYS_NFTABLES, &[]);
        b
    }

    /// Appends one nf_tables message; returns its sequence number.
    pub fn push(&mut self, ty: MsgType, family: u8, flags: u16, attrs: &Attrs) -> u32 {
        self.frame(
            (SUBSYS_NFTABLES << 8) | ty as u16,
            family,
            NLM_F_REQUEST | flags,
            0,
            &attrs.buf,
        )
    }

    /// Closes the batch: the bytes to send, and the sequence numbers used.
    pub fn finish(mut self) -> (Vec<u8>, std::ops::Range<u32>) {
        self.frame(MSG_BATCH_END, 0, NLM_F_REQUEST, SUBSYS_NFTABLES, &[]);
        let range = self.first_seq..self.next_seq;
        (self.buf, range)
    }

    fn frame(&mut self, ty: u16, family: u8, flags: u16, res_id: u16, payload: &[u8]) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        message_into(&mut self.buf, ty, flags, seq, family, res_id, payload);
        seq
    }
}

/// A lone request (not in a batch): a GETGEN whose answer tells the batch before it was
/// processed.
pub fn request(ty: MsgType, flags: u16, seq: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    message_into(
        &mut buf,
        (SUBSYS_NFTABLES << 8) | ty as u16,
        NLM_F_REQUEST | flags,
        seq,
        0,
        0,
        &[],
    );
    buf
}

fn message_into(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    payload: &[u8],
) {
    let len = NLMSG_HDRLEN + NFGENMSG_LEN + payload.len();
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    // nfgenmsg: family, version (NFNETLINK_V0), resource id in network order.
    buf.push(family);
    buf.push(0);
    buf.extend_from_slice(&res_id.to_be_bytes());
    buf.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_carry_their_length_and_the_nested_flag() {
        let mut a = Attrs::new();
        a.nest(4, |a| {
            a.str(1, "ab");
        });
        // nest header (4) + inner header (4) + "ab\0" padded to 4.
        assert_eq!(a.buf.len(), 12);
        assert_eq!(u16::from_ne_bytes([a.buf[0], a.buf[1]]), 12);
        assert_eq!(u16::from_ne_bytes([a.buf[2], a.buf[3]]), 4 | NLA_F_NESTED);
        assert_eq!(
            u16::from_ne_bytes([a.buf[4], a.buf[5]]),
            7,
            "unpadded length"
        );
    }

    #[test]
    fn a_batch_is_framed_by_begin_and_end_with_consecutive_sequence_numbers() {
        let mut b = Batch::new(100);
        let seq = b.push(MsgType::NewTable, 2, NLM_F_CREATE, Attrs::new().str(1, "t"));
        assert_eq!(seq, 101);
        let (bytes, seqs) = b.finish();
        assert_eq!(seqs, 100..103);
        let first_len = u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(first_len, 20);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), MSG_BATCH_BEGIN);
        let second_ty = u16::from_ne_bytes([bytes[first_len + 4], bytes[first_len + 5]]);
        assert_eq!(second_ty, (10 << 8) | MsgType::NewTable as u16);
    }
}
