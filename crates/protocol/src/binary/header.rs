//! The 24-byte packet header shared by requests and responses (big-endian fields).

use bytes::{BufMut, BytesMut};

/// Length of every packet header.
pub const LEN: usize = 24;

/// A parsed header. `status` is the vbucket id in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub magic: u8,
    pub opcode: u8,
    pub key_len: u16,
    pub extras_len: u8,
    pub status: u16,
    pub body_len: u32,
    pub opaque: u32,
    pub cas: u64,
}

impl Header {
    /// Reads a header from the first [`LEN`] bytes; `None` if there are fewer.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let b: &[u8; LEN] = buf.get(..LEN)?.try_into().ok()?;
        Some(Header {
            magic: b[0],
            opcode: b[1],
            key_len: u16::from_be_bytes([b[2], b[3]]),
            extras_len: b[4],
            status: u16::from_be_bytes([b[6], b[7]]),
            body_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            opaque: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            cas: u64::from_be_bytes([b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]]),
        })
    }

    /// Key plus extras, widened so a hostile header cannot overflow the sum.
    pub fn key_and_extras(&self) -> usize {
        usize::from(self.key_len) + usize::from(self.extras_len)
    }

    /// The whole packet's length, header included.
    pub fn frame_len(&self) -> usize {
        LEN + self.body_len as usize
    }

    /// Appends the header; the data type is always raw bytes (0).
    pub fn write(&self, out: &mut BytesMut) {
        out.reserve(LEN + self.body_len as usize);
        out.put_u8(self.magic);
        out.put_u8(self.opcode);
        out.put_u16(self.key_len);
        out.put_u8(self.extras_len);
        out.put_u8(0);
        out.put_u16(self.status);
        out.put_u32(self.body_len);
        out.put_u32(self.opaque);
        out.put_u64(self.cas);
    }
}

/// One packet to write: the header fields that vary plus the body parts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Packet<'a> {
    pub opcode: u8,
    pub status: u16,
    pub opaque: u32,
    pub cas: u64,
    pub extras: &'a [u8],
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl Packet<'_> {
    /// Appends the packet with this magic. Parts longer than their length fields
    /// allow are cut to fit, so the header never disagrees with the body; callers keep
    /// keys and values within [`crate::Limits`], so this never happens in practice.
    pub fn write(&self, magic: u8, out: &mut BytesMut) {
        let key = &self.key[..self.key.len().min(usize::from(u16::MAX))];
        let extras = &self.extras[..self.extras.len().min(usize::from(u8::MAX))];
        let room = (u32::MAX as usize) - key.len() - extras.len();
        let value = &self.value[..self.value.len().min(room)];
        Header {
            magic,
            opcode: self.opcode,
            key_len: key.len() as u16,
            extras_len: extras.len() as u8,
            status: self.status,
            body_len: (extras.len() + key.len() + value.len()) as u32,
            opaque: self.opaque,
            cas: self.cas,
        }
        .write(out);
        out.extend_from_slice(extras);
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
}
