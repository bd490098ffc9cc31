//! A small blocking memcached client for the operator commands: one request, one
//! reply, with a deadline. It speaks through the protocol crate's client side, so
//! replies are parsed exactly as the proxy parses them.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use memkeep_protocol::{
    decode_response, encode_request, Command, Form, Limits, Request, Response, TextForm, TextVerb,
};

use super::connect::{self, Explain, Security, Stream};

/// A connection to one server.
pub struct Client {
    stream: Stream,
    buf: BytesMut,
    deadline: Duration,
    explain: Explain,
}

impl Client {
    /// Connects within `timeout` (TLS and login as `security` says); every later
    /// request must also finish within it.
    pub fn connect(server: &str, timeout: Duration, security: &Security) -> Result<Client, String> {
        Ok(Client {
            stream: connect::open(server, timeout, security)?,
            buf: BytesMut::with_capacity(16 * 1024),
            deadline: timeout,
            explain: security.explain.clone(),
        })
    }

    /// Sends one text request and reads its reply.
    pub fn call(&mut self, verb: TextVerb, command: Command) -> Result<Response, String> {
        let request = Request {
            command,
            form: Form::Text(TextForm {
                verb,
                noreply: false,
            }),
        };
        let mut out = BytesMut::new();
        encode_request(&request, &mut out);
        self.stream
            .write_all(&out)
            .map_err(|e| self.explain.io(&e))?;
        let started = Instant::now();
        let limits = Limits {
            max_value_len: 1 << 30,
            ..Limits::default()
        };
        loop {
            if let Some(response) =
                decode_response(&request.form, &mut self.buf, &limits).map_err(|e| e.to_string())?
            {
                return Ok(response);
            }
            let left = self
                .deadline
                .checked_sub(started.elapsed())
                .ok_or("timed out")?;
            self.stream
                .set_read_timeout(left.max(Duration::from_millis(1)))
                .map_err(|e| e.to_string())?;
            let mut chunk = [0u8; 16 * 1024];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| self.explain.io(&e))?;
            if n == 0 {
                return Err(self.explain.closed());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// `stats [group]` as name/value pairs.
    pub fn stats(&mut self, group: Option<&'static str>) -> Result<Vec<(String, String)>, String> {
        match self.call(
            TextVerb::Stats,
            Command::Stats(group.map(|g| Bytes::from_static(g.as_bytes()))),
        )? {
            Response::Stats(lines) => Ok(lines),
            other => Err(format!("unexpected reply to stats: {other:?}")),
        }
    }

    /// `version`.
    pub fn version(&mut self) -> Result<String, String> {
        match self.call(TextVerb::Version, Command::Version)? {
            Response::Version(v) => Ok(String::from_utf8_lossy(&v).into_owned()),
            other => Err(format!("unexpected reply to version: {other:?}")),
        }
    }
}

/// Looks a stat up by name.
pub fn stat<'a>(stats: &'a [(String, String)], name: &str) -> Option<&'a str> {
    stats
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A stat as a number (0 when absent or not numeric).
pub fn number(stats: &[(String, String)], name: &str) -> f64 {
    stat(stats, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
