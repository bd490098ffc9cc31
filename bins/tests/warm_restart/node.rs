//! The warm-restart tests' parts: a memkeepd whose log goes to a file, stopped by a
//! signal of the test's choosing, and a blocking client that reads `gets`, `mg` and
//! `stats` replies whole.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{free_port, read_until, spawn_listening, wait_for};

/// A memkeepd whose log goes to a file; killed when dropped.
pub struct Node {
    child: Child,
    /// Its client port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Node {
    pub fn start(dir: &Path, name: &str, extra: &[&str]) -> Node {
        let port = free_port();
        let log = dir.join(format!("{name}-{port}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
        command
            .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-v"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = spawn_listening(&mut command, port);
        Node { child, port, log }
    }

    pub fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Stops with `signal` and waits for a clean exit.
    pub fn stop(mut self, signal: Signal) -> String {
        self.signal(signal);
        let mut status = None;
        wait_for(Duration::from_secs(60), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(status.is_some_and(|s| s.success()), "{signal}: {status:?}");
        self.log()
    }

    /// kill -9, and waits until the process is gone.
    pub fn kill9(mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    pub fn client(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    stream: TcpStream,
}

impl Client {
    /// Sends `request` and reads until the reply ends with `end`.
    pub fn call(&mut self, request: &[u8], end: &[u8]) -> Vec<u8> {
        self.stream.write_all(request).unwrap();
        read_until(&mut self.stream, Duration::from_secs(20), |got| {
            got.ends_with(end)
        })
        .0
    }

    /// Pipelines `requests`, each answered by exactly `lines` CRLF-ended lines.
    pub fn pipeline(&mut self, requests: &[Vec<u8>], lines: usize) -> String {
        self.stream.write_all(&requests.concat()).unwrap();
        let n = requests.len() * lines;
        let (got, _) = read_until(&mut self.stream, Duration::from_secs(20), |got| {
            got.windows(2).filter(|w| w == b"\r\n").count() >= n
        });
        String::from_utf8(got).unwrap()
    }

    pub fn stats(&mut self) -> HashMap<String, String> {
        let reply = String::from_utf8(self.call(b"stats\r\n", b"END\r\n")).unwrap();
        reply
            .lines()
            .filter_map(|l| l.strip_prefix("STAT "))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// `gets` of `keys`: the raw reply, VALUE lines with flags and CAS.
    pub fn gets(&mut self, keys: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            let request = format!("gets {}\r\n", chunk.join(" "));
            out.extend(self.call(request.as_bytes(), b"END\r\n"));
        }
        out
    }

    /// `mg key v f t c` of each key: (the reply without its TTL, the TTL).
    pub fn meta(&mut self, keys: &[String]) -> Vec<(String, i64)> {
        keys.iter()
            .map(|key| {
                self.stream
                    .write_all(format!("mg {key} v f t c\r\n").as_bytes())
                    .unwrap();
                let (reply, _) = read_until(&mut self.stream, Duration::from_secs(20), |got| {
                    meta_reply_len(got).is_some_and(|n| got.len() >= n)
                });
                let reply = String::from_utf8(reply).unwrap();
                let (head, rest) = reply.split_once("\r\n").unwrap();
                let mut ttl = i64::MIN;
                let head: Vec<&str> = head
                    .split(' ')
                    .filter(|token| match token.strip_prefix('t') {
                        Some(t) => {
                            ttl = t.parse().unwrap();
                            false
                        }
                        None => true,
                    })
                    .collect();
                (format!("{}\r\n{rest}", head.join(" ")), ttl)
            })
            .collect()
    }
}

/// The length of a whole `mg` reply once its first line is in: `VA <n> ...` is
/// followed by n bytes and CRLF, anything else is the line alone.
fn meta_reply_len(got: &[u8]) -> Option<usize> {
    let line_end = got.windows(2).position(|w| w == b"\r\n")? + 2;
    let line = std::str::from_utf8(&got[..line_end]).ok()?;
    match line.strip_prefix("VA ") {
        Some(rest) => {
            let n: usize = rest.split([' ', '\r']).next()?.parse().ok()?;
            Some(line_end + n + 2)
        }
        None => Some(line_end),
    }
}
