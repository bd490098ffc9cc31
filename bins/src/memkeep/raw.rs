//! A plain line-and-block connection for the commands that stream (`dump`,
//! `load`): requests are written in batches, replies read as they come, each read
//! bounded in time and each line in length.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use super::connect::{self, Explain, Security, Stream};

/// The longest reply line accepted: a metadump line of a 250-byte key, URI-encoded,
/// is under 1 KiB.
const MAX_LINE: usize = 8 * 1024;

/// Bytes queued before they are written without waiting for [`Raw::flush`].
const WRITE_BUFFER: usize = 64 * 1024;

/// One connection to a server.
pub struct Raw {
    /// Reads go through the buffer; writes go to the stream inside it (a TLS
    /// stream cannot be split in two).
    reader: BufReader<Stream>,
    out: Vec<u8>,
    server: String,
    explain: Explain,
}

impl Raw {
    /// Connects (TLS and login as `security` says); every read and write must
    /// complete within `timeout`.
    pub fn connect(server: &str, timeout: Duration, security: &Security) -> Result<Raw, String> {
        let stream = connect::open(server, timeout, security)?;
        Ok(Raw {
            reader: BufReader::with_capacity(64 * 1024, stream),
            out: Vec::with_capacity(WRITE_BUFFER),
            server: server.to_owned(),
            explain: security.explain.clone(),
        })
    }

    /// Queues bytes to send.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.out.len() + bytes.len() > WRITE_BUFFER {
            self.flush()?;
        }
        if bytes.len() > WRITE_BUFFER {
            // A large value goes straight out rather than through the buffer.
            return self
                .reader
                .get_mut()
                .write_all(bytes)
                .map_err(|e| self.error(e));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Sends what is queued.
    pub fn flush(&mut self) -> Result<(), String> {
        let stream = self.reader.get_mut();
        let result = stream.write_all(&self.out).and_then(|()| stream.flush());
        self.out.clear();
        result.map_err(|e| self.error(e))
    }

    /// The next line, without its `\n` or `\r\n`.
    pub fn read_line(&mut self) -> Result<Vec<u8>, String> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.error(e))?;
        if n == 0 {
            return Err(format!("{}: {}", self.server, self.explain.closed()));
        }
        if line.last() != Some(&b'\n') {
            return Err(format!(
                "{}: reply line longer than {MAX_LINE} bytes",
                self.server
            ));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }

    /// A data block of `n` bytes and its `\r\n`.
    pub fn read_block(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut block = vec![0u8; n + 2];
        self.reader
            .read_exact(&mut block)
            .map_err(|e| self.error(e))?;
        if !block.ends_with(b"\r\n") {
            return Err(format!("{}: a value is not followed by CRLF", self.server));
        }
        block.truncate(n);
        Ok(block)
    }

    fn error(&self, e: std::io::Error) -> String {
        format!("{}: {}", self.server, self.explain.io(&e))
    }
}

/// The key as a meta command names it: as it is when it is printable ASCII without
/// spaces, else base64 with the `b` flag (returned as the extra flag to add).
pub fn meta_key(key: &[u8]) -> (Vec<u8>, &'static str) {
    use base64::Engine;
    if !key.is_empty() && key.iter().all(|b| b.is_ascii_graphic()) {
        (key.to_vec(), "")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        (encoded.into_bytes(), " b")
    }
}
