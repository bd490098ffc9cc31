//! A fault-injecting TCP relay for tests: listens on a loopback port, forwards every
//! connection to a target, and can be told while running to delay, blackhole,
//! throttle, reset or close what crosses it, per direction. Put it between a proxy
//! and a backend, or between two replication nodes, to make the network misbehave.
//!
//! Threads, not async: tests are blocking code, and a relay carries little traffic.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Which way bytes travel through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the connecting side to the target (requests).
    Up,
    /// From the target back (replies).
    Down,
}

/// What happens to the bytes going one way. The default forwards them untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fault {
    /// Every chunk is forwarded this long after it arrived (order kept).
    pub delay: Duration,
    /// Bytes are read and thrown away: the other side waits forever.
    pub blackhole: bool,
    /// At most this many bytes per second (None: as fast as they come).
    pub bytes_per_second: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    up: Fault,
    down: Fault,
    /// New connections are reset as soon as they are accepted.
    refuse: bool,
    /// Both halves of every open connection, to reset or close them.
    open: Vec<(TcpStream, TcpStream)>,
    /// Line ends in the bytes a blackhole threw away (requests swallowed, roughly).
    swallowed_lines: u64,
}

/// A running relay; stops (and cuts every connection) when dropped.
pub struct Relay {
    /// The relay's port on 127.0.0.1: connect here instead of to the target.
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    target: Arc<AtomicU16>,
}

const CHUNK: usize = 64 * 1024;
/// How often idle threads look at the stop flag.
const TICK: Duration = Duration::from_millis(20);

impl Relay {
    /// Starts relaying 127.0.0.1:<new port> to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let target = Arc::new(AtomicU16::new(target));
        let (st, sp, tg) = (state.clone(), stop.clone(), target.clone());
        thread::spawn(move || accept_loop(listener, tg, st, sp));
        Relay {
            port,
            state,
            stop,
            target,
        }
    }

    /// New connections go to 127.0.0.1:`target` from now on (a restarted server on
    /// another port); open ones stay where they are.
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::Relaxed);
    }

    /// `host:port` of the relay.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets the fault for one direction (takes effect for chunks read from now on).
    pub fn set(&self, direction: Direction, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        match direction {
            Direction::Up => s.up = fault,
            Direction::Down => s.down = fault,
        }
    }

    /// The same fault both ways.
    pub fn set_both(&self, fault: Fault) {
        self.set(Direction::Up, fault);
        self.set(Direction::Down, fault);
    }

    /// How many line ends a blackhole has thrown away so far: a test can wait until
    /// the requests it means to lose are really lost before it heals the relay.
    pub fn swallowed_lines(&self) -> u64 {
        self.state.lock().unwrap().swallowed_lines
    }

    /// Back to forwarding untouched, accepting new connections.
    pub fn heal(&self) {
        let mut s = self.state.lock().unwrap();
        s.up = Fault::default();
        s.down = Fault::default();
        s.refuse = false;
    }

    /// Whether new connections are reset at once (a host that refuses).
    pub fn refuse(&self, refuse: bool) {
        self.state.lock().unwrap().refuse = refuse;
    }

    /// Resets (RST) every open connection, both sides.
    pub fn reset_all(&self) {
        for (a, b) in self.state.lock().unwrap().open.drain(..) {
            reset(&a);
            reset(&b);
        }
    }

    /// Closes (FIN) every open connection, both sides.
    pub fn close_all(&self) {
        for (a, b) in self.state.lock().unwrap().open.drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.close_all();
    }
}

/// Closes with RST rather than FIN: linger on, zero seconds.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Both);
}

fn accept_loop(
    listener: TcpListener,
    target: Arc<AtomicU16>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(TICK / 4);
                continue;
            }
            Err(_) => continue,
        };
        let _ = client.set_nonblocking(false);
        if state.lock().unwrap().refuse {
            reset(&client);
            continue;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", target.load(Ordering::Relaxed))) else {
            reset(&client);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        state
            .lock()
            .unwrap()
            .open
            .push((client.try_clone().unwrap(), server.try_clone().unwrap()));
        pump(
            client.try_clone().unwrap(),
            server.try_clone().unwrap(),
            Direction::Up,
            &state,
            &stop,
        );
        pump(server, client, Direction::Down, &state, &stop);
    }
}

/// Forwards `from` to `to` in one direction: a reader thread that applies the
/// blackhole and stamps each chunk, and a writer thread that holds it until its
/// delay has passed and keeps to the bandwidth (so a delay adds latency without
/// cutting throughput).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    direction: Direction,
    state: &Arc<Mutex<State>>,
    stop: &Arc<AtomicBool>,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Fault, Vec<u8>)>();
    let (st, sp) = (state.clone(), stop.clone());
    thread::spawn(move || {
        let _ = from.set_read_timeout(Some(TICK));
        let mut buf = vec![0u8; CHUNK];
        while !sp.load(Ordering::Relaxed) {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => break,
            };
            let fault = {
                let mut s = st.lock().unwrap();
                let fault = match direction {
                    Direction::Up => s.up,
                    Direction::Down => s.down,
                };
                if fault.blackhole {
                    s.swallowed_lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                }
                fault
            };
            if fault.blackhole {
                continue;
            }
            if tx.send((Instant::now(), fault, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        // The writer half ends when the channel closes; pass the close on.
    });
    thread::spawn(move || {
        while let Ok((arrived, fault, chunk)) = rx.recv() {
            let due = arrived + fault.delay;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            let Some(rate) = fault.bytes_per_second else {
                if to.write_all(&chunk).is_err() {
                    break;
                }
                continue;
            };
            // Slices of a twentieth of a second each, so the rate holds smoothly.
            let slice = usize::try_from(rate / 20).unwrap_or(usize::MAX).max(1);
            let mut failed = false;
            for piece in chunk.chunks(slice) {
                thread::sleep(Duration::from_secs_f64(
                    piece.len() as f64 / rate.max(1) as f64,
                ));
                failed = to.write_all(piece).is_err();
                if failed {
                    break;
                }
            }
            if failed {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
