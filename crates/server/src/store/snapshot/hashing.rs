//! The snapshot's checksum on the way out and in: a chunked writer and an exact
//! reader that feed every byte through xxh3.

use std::io::{self, Read, Write};

use xxhash_rust::xxh3::Xxh3;

/// Bytes written to the sink at a time.
const CHUNK: usize = 256 * 1024;

/// Buffers output in chunks and hashes each chunk on its way out.
pub(super) struct HashingWriter<W> {
    inner: W,
    buf: Vec<u8>,
    hasher: Xxh3,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            buf: Vec::with_capacity(CHUNK + 4096),
            hasher: Xxh3::new(),
            written: 0,
        }
    }

    pub(super) fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes the buffer out once it holds a chunk.
    pub(super) fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    pub(super) fn drain(&mut self) -> io::Result<()> {
        self.hasher.update(&self.buf);
        self.inner.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left and the checksum; returns the bytes written.
    pub(super) fn finish(mut self) -> io::Result<u64> {
        self.drain()?;
        let checksum = self.hasher.digest().to_le_bytes();
        self.inner.write_all(&checksum)?;
        self.inner.flush()?;
        Ok(self.written + checksum.len() as u64)
    }
}

/// Reads exact lengths, hashing every byte read.
pub(super) struct HashingReader<R> {
    pub(super) inner: R,
    pub(super) hasher: Xxh3,
}

impl<R: Read> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Xxh3::new(),
        }
    }

    pub(super) fn exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)?;
        self.hasher.update(buf);
        Ok(())
    }

    pub(super) fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0u8; N];
        self.exact(&mut a)?;
        Ok(a)
    }

    /// Reads without hashing (the checksum itself).
    pub(super) fn raw_array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0u8; N];
        self.inner.read_exact(&mut a)?;
        Ok(a)
    }

    /// Reads past `len` bytes, hashing them, in bounded pieces.
    pub(super) fn skip(&mut self, mut len: u64) -> io::Result<()> {
        let mut piece = [0u8; 8192];
        while len > 0 {
            let n = len.min(piece.len() as u64) as usize;
            self.exact(&mut piece[..n])?;
            len -= n as u64;
        }
        Ok(())
    }
}
