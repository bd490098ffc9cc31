//! A stand-in for systemd's notification socket: a Unix datagram socket bound in a
//! temporary directory (or in the abstract namespace), whose address goes in a
//! server's `NOTIFY_SOCKET`, and which records every datagram it receives.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The listening socket, and the directory holding it (removed on drop).
pub struct NotifySocket {
    socket: UnixDatagram,
    /// `NOTIFY_SOCKET`'s value for the server.
    pub address: String,
    dir: Option<PathBuf>,
}

impl NotifySocket {
    /// Bound to a path in a fresh temporary directory.
    pub fn at_path() -> NotifySocket {
        let dir = std::env::temp_dir().join(format!(
            "memkeep-notify-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            socket,
            address: path.display().to_string(),
            dir: Some(dir),
        }
    }

    /// Bound to an abstract name, written `@name` as systemd does.
    pub fn abstract_name() -> NotifySocket {
        use std::os::linux::net::SocketAddrExt;
        let name = format!(
            "memkeep-notify-{}-{}",
            std::process::id(),
            super::free_port()
        );
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        NotifySocket {
            socket: UnixDatagram::bind_addr(&address).unwrap(),
            address: format!("@{name}"),
            dir: None,
        }
    }

    /// The next datagram, waiting at most `limit`.
    pub fn next(&self, limit: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(limit)).unwrap();
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("notify socket: {e}"),
        }
    }

    /// Datagrams until one satisfies `done` (included), or `Err` with those that
    /// came if `limit` passes first.
    pub fn until(
        &self,
        limit: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(got);
            }
            match self.next(left) {
                Some(message) => {
                    let last = done(&message);
                    got.push(message);
                    if last {
                        return Ok(got);
                    }
                }
                None => return Err(got),
            }
        }
    }

    /// Every datagram already queued, without waiting.
    pub fn queued(&self) -> Vec<String> {
        self.socket.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        self.socket.set_nonblocking(false).unwrap();
        got
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
