//! The client load of the chaos tests: threads that set, get and delete their own
//! keys through the proxy and keep a ledger of what was acknowledged, so every read
//! can be judged (a value that was never written, or is older than the last
//! acknowledged write, is wrong) and the end state checked key by key.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the last acknowledged write left under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// Nothing acknowledged yet.
    Unknown,
    /// A set was acknowledged (STORED).
    Value(String),
    /// A delete was acknowledged (DELETED or NOT_FOUND).
    Absent,
}

/// One key's ledger.
#[derive(Debug, Clone)]
pub struct KeyState {
    pub key: String,
    pub acked: Acked,
    /// Writes since the last acknowledged one whose outcome is unknown (an error or
    /// a timeout): each may or may not have happened. `None` is a delete.
    pub maybe: Vec<Option<String>>,
}

impl KeyState {
    /// Whether `value` (None: a miss) is something this key may hold now.
    pub fn allows(&self, value: Option<&str>) -> bool {
        let acked = match (&self.acked, value) {
            (Acked::Value(v), Some(got)) => v == got,
            (Acked::Absent | Acked::Unknown, None) => true,
            _ => false,
        };
        acked || self.maybe.iter().any(|m| m.as_deref() == value)
    }
}

/// What one client thread saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ops: u64,
    pub errors: u64,
    /// Reads that returned a value the ledger does not allow.
    pub wrong_values: u64,
    pub first_wrong: Option<String>,
    /// Reads that missed a key whose last write was acknowledged.
    pub acked_misses: u64,
    pub last_error: Option<Instant>,
    pub first_error: Option<Instant>,
}

/// Client threads running until [`Load::finish`].
pub struct Load {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    threads: Vec<JoinHandle<(Vec<KeyState>, Tally)>>,
}

/// How long a client waits for one reply before it counts an error and reconnects.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

impl Load {
    /// `clients` threads, each on `keys` keys of its own, against 127.0.0.1:`port`.
    pub fn start(port: u16, clients: usize, keys: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|c| {
                let (stop, ops) = (stop.clone(), ops.clone());
                std::thread::spawn(move || client(port, c, keys, &stop, &ops))
            })
            .collect();
        Load { stop, ops, threads }
    }

    /// Operations done so far, by every client.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Stops the clients; their ledgers and tallies.
    pub fn finish(self) -> Vec<(Vec<KeyState>, Tally)> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    }
}

fn client(
    port: u16,
    c: usize,
    keys: usize,
    stop: &AtomicBool,
    ops: &AtomicU64,
) -> (Vec<KeyState>, Tally) {
    let mut ledger: Vec<KeyState> = (0..keys)
        .map(|k| KeyState {
            key: format!("chaos:{c}:{k}"),
            acked: Acked::Unknown,
            maybe: Vec::new(),
        })
        .collect();
    let mut tally = Tally::default();
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D ^ (c as u64 + 1);
    let mut conn: Option<TcpStream> = None;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let k = (rng >> 8) as usize % keys;
        if conn.is_none() {
            conn = connect(port);
        }
        let Some(stream) = conn.as_mut() else {
            note_error(&mut tally);
            // Pace reconnection attempts to a proxy that is not accepting.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let state = &mut ledger[k];
        let ok = match rng % 10 {
            0..=5 => read(stream, state, &mut tally),
            6..=8 => {
                seq += 1;
                let value = format!("c{c}k{k}s{seq}");
                let request = format!("set {} 0 0 {}\r\n{value}\r\n", state.key, value.len());
                match call(stream, request.as_bytes(), |r| r.ends_with(b"\r\n")) {
                    Some(r) if r == b"STORED\r\n" => {
                        state.acked = Acked::Value(value);
                        state.maybe.clear();
                        true
                    }
                    reply => {
                        state.maybe.push(Some(value));
                        note_error(&mut tally);
                        reply.is_some()
                    }
                }
            }
            _ => {
                let request = format!("delete {}\r\n", state.key);
                match call(stream, request.as_bytes(), |r| r.ends_with(b"\r\n")) {
                    Some(r) if r == b"DELETED\r\n" || r == b"NOT_FOUND\r\n" => {
                        state.acked = Acked::Absent;
                        state.maybe.clear();
                        true
                    }
                    reply => {
                        state.maybe.push(None);
                        note_error(&mut tally);
                        reply.is_some()
                    }
                }
            }
        };
        tally.ops += 1;
        ops.fetch_add(1, Ordering::Relaxed);
        if !ok {
            // No reply in time: the stream may be out of step, start a new one.
            conn = None;
        }
    }
    (ledger, tally)
}

fn note_error(tally: &mut Tally) {
    tally.errors += 1;
    let now = Instant::now();
    tally.first_error.get_or_insert(now);
    tally.last_error = Some(now);
}

/// A get judged against the ledger; false when the connection must be replaced.
fn read(stream: &mut TcpStream, state: &KeyState, tally: &mut Tally) -> bool {
    let request = format!("get {}\r\n", state.key);
    let Some(reply) = call(stream, request.as_bytes(), |r| {
        r.ends_with(b"END\r\n") || r.starts_with(b"SERVER_ERROR") && r.ends_with(b"\r\n")
    }) else {
        note_error(tally);
        return false;
    };
    match parse_get(&reply) {
        Err(()) => note_error(tally),
        Ok(value) => {
            if !state.allows(value.as_deref()) {
                if value.is_none() && matches!(state.acked, Acked::Value(_)) {
                    tally.acked_misses += 1;
                } else {
                    tally.wrong_values += 1;
                    tally.first_wrong.get_or_insert_with(|| {
                        format!("{}: got {value:?}, ledger {state:?}", state.key)
                    });
                }
            }
        }
    }
    true
}

/// A get reply's value; Err for an error reply.
pub fn parse_get(reply: &[u8]) -> Result<Option<String>, ()> {
    if reply == b"END\r\n" {
        return Ok(None);
    }
    if !reply.starts_with(b"VALUE ") {
        return Err(());
    }
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n");
    lines.next();
    Ok(lines.next().map(str::to_owned))
}

fn connect(port: u16) -> Option<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_nodelay(true).ok()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).ok()?;
    Some(stream)
}

/// Sends a request and reads until `done`; None on timeout or a broken connection.
pub fn call(
    stream: &mut TcpStream,
    request: &[u8],
    done: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    stream.write_all(request).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while !done(&got) {
        // Any stream, whatever read timeout it was given, waits no longer than this.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(got)
}
