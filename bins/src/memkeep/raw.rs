//! A plain line-and-block connection for the commands that stream (`dump`,
//! `load`): requests are written in batches, replies read as they come, each read
//! bounded in time and each line in length.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::client::resolve;

/// The longest reply line accepted: a metadump line of a 250-byte key, URI-encoded,
/// is under 1 KiB.
const MAX_LINE: usize = 8 * 1024;

/// One connection to a server.
pub struct Raw {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    server: String,
}

impl Raw {
    /// Connects; every read must complete within `timeout`.
    pub fn connect(server: &str, timeout: Duration) -> Result<Raw, String> {
        let addr = resolve(server)?;
        let stream =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{server}: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("{server}: {e}"))?;
        let writer = stream.try_clone().map_err(|e| format!("{server}: {e}"))?;
        Ok(Raw {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer: BufWriter::with_capacity(64 * 1024, writer),
            server: server.to_owned(),
        })
    }

    /// Queues bytes to send.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer.write_all(bytes).map_err(|e| self.error(e))
    }

    /// Sends what is queued.
    pub fn flush(&mut self) -> Result<(), String> {
        self.writer.flush().map_err(|e| self.error(e))
    }

    /// The next line, without its `\n` or `\r\n`.
    pub fn read_line(&mut self) -> Result<Vec<u8>, String> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.error(e))?;
        if n == 0 {
            return Err(format!("{}: connection closed", self.server));
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
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("{}: timed out", self.server)
            }
            _ => format!("{}: {e}", self.server),
        }
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
