//! What the floor tests share: the binaries started as real processes on loopback
//! ports picked at run time, stock memcached as the proxies' backend, and the checks
//! every floor server or proxy must pass whatever runtime drives it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a floor binary on port 0 and reads the port it printed.
pub fn start_floor(bin: &str, args: &[&str]) -> (Running, u16) {
    let mut child = Command::new(bin)
        .args(["-l", "127.0.0.1", "-p", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the floor binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the port");
    let port = line.trim().parse().expect("a port number on stdout");
    (Running(child), port)
}

fn floor_server(bin: &str, threads: &str) -> (Running, u16) {
    start_floor(bin, &["-t", threads])
}

fn floor_proxy(bin: &str, backend: u16, threads: &str) -> (Running, u16) {
    let backend = format!("127.0.0.1:{backend}");
    start_floor(bin, &["-b", &backend, "--threads", threads])
}

/// Stock memcached on a free port, once it accepts connections.
pub fn memcached() -> (Running, u16) {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        .unwrap_or(false);
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new("memcached");
        if root {
            command.args(["-u", "root"]);
        }
        let child = command
            .args(["-U", "0", "-l", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("start memcached (apt-get install memcached)");
        let mut running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if running.0.try_wait().expect("memcached's status").is_some() {
                break; // the port was taken meanwhile: another one
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (running, port);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = running.0.kill();
    }
    panic!("memcached did not start");
}

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream
}

/// Sends `request` and reads until `expected.len()` bytes came back (or the
/// connection closed).
pub fn exchange(stream: &mut TcpStream, request: &[u8], expected: &[u8]) -> Vec<u8> {
    stream.write_all(request).expect("write");
    let mut got = vec![0; expected.len()];
    let mut filled = 0;
    while filled < got.len() {
        match stream.read(&mut got[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    got.truncate(filled);
    got
}

pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}

pub fn floor_server_answers_with_canned_values_of_the_last_stored_size(bin: &str) {
    let (_server, port) = floor_server(bin, "2");
    let table: &[(&[u8], &[u8])] = &[
        (b"version\r\n", b"VERSION floor\r\n"),
        (b"get a\r\n", b"VALUE a 0 100\r\n"),
        (b"set k 0 0 5\r\nhello\r\n", b"STORED\r\n"),
        (
            b"get a bb\r\n",
            b"VALUE a 0 5\r\nxxxxx\r\nVALUE bb 0 5\r\nxxxxx\r\nEND\r\n",
        ),
        // Pipelined, a store without reply in the middle, split across reads below.
        (
            b"get a\r\nset c 0 0 3 noreply\r\nabc\r\nget c\r\nset d 1 2 3\r\nxyz\r\n",
            b"VALUE a 0 5\r\nxxxxx\r\nEND\r\nVALUE c 0 3\r\nxxx\r\nEND\r\nSTORED\r\n",
        ),
        (b"flush_all\r\nstats\r\n", b"OK\r\nEND\r\n"),
        (b"bogus\r\n", b"ERROR\r\n"),
    ];
    let mut stream = connect(port);
    for (request, expected) in table {
        let got = exchange(&mut stream, request, expected);
        if request == b"get a\r\n" {
            // Before any store: the default 100-byte value, in full.
            let mut rest = vec![0; 100 + 2 + 5];
            stream.read_exact(&mut rest).expect("the value");
            assert_eq!(got, *expected);
            assert_eq!(rest, [&[b'x'; 100][..], b"\r\nEND\r\n"].concat());
            continue;
        }
        assert_eq!(show(&got), show(expected), "request {}", show(request));
    }
}

pub fn floor_server_reads_requests_split_at_every_byte(bin: &str) {
    let (_server, port) = floor_server(bin, "1");
    let request = b"set k 0 0 4\r\nabcd\r\nget k\r\n";
    let expected = b"STORED\r\nVALUE k 0 4\r\nxxxx\r\nEND\r\n";
    let mut stream = connect(port);
    stream.set_nodelay(true).expect("nodelay");
    for byte in request.chunks(1) {
        stream.write_all(byte).expect("write");
    }
    let got = exchange(&mut stream, b"", expected);
    assert_eq!(show(&got), show(expected));
}

pub fn floor_server_closes_a_connection_it_cannot_frame(bin: &str) {
    let (_server, port) = floor_server(bin, "1");
    for bad in [&b"set k 0 0 many\r\n"[..], b"set k 0 0 2\r\nabcd\r\n"] {
        let mut stream = connect(port);
        let got = exchange(&mut stream, bad, b"anything at all");
        assert_eq!(show(&got), "", "{}", show(bad));
    }
    // The server goes on serving others.
    let mut stream = connect(port);
    assert_eq!(
        exchange(&mut stream, b"version\r\n", b"VERSION floor\r\n"),
        b"VERSION floor\r\n"
    );
}

/// Requests and memcached's replies: a proxy in front of memcached must give the
/// same bytes back.
fn proxy_table() -> Vec<(Vec<u8>, Vec<u8>)> {
    let big = vec![b'v'; 200_000];
    let mut set_big = b"set big 3 0 200000\r\n".to_vec();
    set_big.extend_from_slice(&big);
    set_big.extend_from_slice(b"\r\n");
    let mut get_big = b"VALUE big 3 200000\r\n".to_vec();
    get_big.extend_from_slice(&big);
    get_big.extend_from_slice(b"\r\nEND\r\n");
    vec![
        (b"set a 7 0 2\r\nhi\r\n".to_vec(), b"STORED\r\n".to_vec()),
        (
            b"get a nope\r\n".to_vec(),
            b"VALUE a 7 2\r\nhi\r\nEND\r\n".to_vec(),
        ),
        (
            b"set b 0 0 1 noreply\r\nx\r\nget b a\r\ndelete b\r\nget b\r\n".to_vec(),
            b"VALUE b 0 1\r\nx\r\nVALUE a 7 2\r\nhi\r\nEND\r\nDELETED\r\nEND\r\n".to_vec(),
        ),
        (set_big, b"STORED\r\n".to_vec()),
        (b"get big\r\n".to_vec(), get_big),
        (b"bogus\r\n".to_vec(), b"ERROR\r\n".to_vec()),
    ]
}

pub fn floor_proxy_gives_back_memcacheds_bytes(bin: &str) {
    let (_memcached, backend) = memcached();
    let (_proxy, port) = floor_proxy(bin, backend, "2");
    for (target, port) in [("memcached", backend), ("floor-proxy", port)] {
        let mut stream = connect(port);
        stream.write_all(b"flush_all\r\n").expect("write");
        let mut ok = [0; 4];
        stream.read_exact(&mut ok).expect("flush_all's reply");
        assert_eq!(&ok, b"OK\r\n");
        for (request, expected) in proxy_table() {
            let got = exchange(&mut stream, &request, &expected);
            assert_eq!(show(&got), show(&expected), "{target}: {}", show(&request));
            assert_eq!(got.len(), expected.len(), "{target}: {}", show(&request));
        }
    }
}

pub fn floor_proxy_matches_many_clients_replies_on_one_backend_connection(bin: &str) {
    let (_memcached, backend) = memcached();
    let (_proxy, port) = floor_proxy(bin, backend, "1");
    let clients: Vec<_> = (0..16)
        .map(|c| {
            std::thread::spawn(move || {
                // Each client its own key and value size; all ride one backend connection.
                let size = 10 + c;
                let mut request = format!("set c{c} 0 0 {size}\r\n{}\r\n", "v".repeat(size));
                let mut expected = String::from("STORED\r\n");
                for _ in 0..50 {
                    request.push_str(&format!("get c{c}\r\nversion\r\n"));
                    expected.push_str(&format!(
                        "VALUE c{c} 0 {size}\r\n{}\r\nEND\r\n",
                        "v".repeat(size)
                    ));
                }
                let mut stream = connect(port);
                stream.write_all(request.as_bytes()).expect("write");
                let mut reader = BufReader::new(stream);
                let mut got = String::new();
                let mut line = String::new();
                // memcached's VERSION line marks where each get's reply must end.
                while got.matches('|').count() < 50 {
                    line.clear();
                    if reader.read_line(&mut line).expect("read") == 0 {
                        break;
                    }
                    if line.starts_with("VERSION ") {
                        got.push('|');
                    } else {
                        got.push_str(&line);
                    }
                }
                (got, expected.replace("END\r\n", "END\r\n|"))
            })
        })
        .collect();
    for (c, client) in clients.into_iter().enumerate() {
        let (got, expected) = client.join().expect("client thread");
        assert_eq!(got, expected, "client {c}");
    }
}

/// Connections opened and closed one after another, then many at once: a server
/// that reuses what a closed connection held (a slot, a descriptor) must not mix
/// them up.
pub fn floor_server_serves_connections_coming_and_going(bin: &str) {
    let (_server, port) = floor_server(bin, "2");
    for i in 0..200 {
        let mut stream = connect(port);
        let got = exchange(&mut stream, b"version\r\n", b"VERSION floor\r\n");
        assert_eq!(show(&got), "VERSION floor\r\n", "connection {i}");
    }
    let mut streams: Vec<_> = (0..300).map(|_| connect(port)).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        let key = format!("k{i}");
        let request = format!("get {key}\r\n");
        let expected = format!("VALUE {key} 0 100\r\n{}\r\nEND\r\n", "x".repeat(100));
        let got = exchange(stream, request.as_bytes(), expected.as_bytes());
        assert_eq!(show(&got), show(expected.as_bytes()), "connection {i}");
    }
}

/// Clients that leave with replies still coming: the replies are dropped, and a
/// client that comes later (perhaps in the same slot) gets only its own.
pub fn floor_proxy_drops_the_replies_of_clients_gone(bin: &str) {
    let (_memcached, backend) = memcached();
    let (_proxy, port) = floor_proxy(bin, backend, "1");
    let value = "v".repeat(50_000);
    let mut stream = connect(port);
    let set = format!("set big 0 0 {}\r\n{value}\r\n", value.len());
    assert_eq!(
        exchange(&mut stream, set.as_bytes(), b"STORED\r\n"),
        b"STORED\r\n"
    );
    drop(stream);
    for _ in 0..50 {
        let mut gone = connect(port);
        gone.write_all(&b"get big\r\n".repeat(20)).expect("write");
    }
    let mut stream = connect(port);
    let expected = format!("VALUE big 0 {}\r\n{value}\r\nEND\r\nVERSION ", value.len());
    let got = exchange(&mut stream, b"get big\r\nversion\r\n", expected.as_bytes());
    assert_eq!(show(&got), show(expected.as_bytes()));
    assert_eq!(got.len(), expected.len());
}

/// Sends `gets` requests for one 10 KB value without reading, then reads every
/// reply: the target stops reading from a client whose replies pile up, and must
/// resume (not lose or reorder anything) once the client reads again.
/// `fill`: the byte the target's values are made of (the floor server's canned
/// value, or what was stored).
fn replies_outgrowing_the_bound_all_arrive(port: u16, gets: usize, fill: &str) {
    let value = "w".repeat(10_000);
    let mut stream = connect(port);
    let set = format!("set w 0 0 {}\r\n{value}\r\n", value.len());
    assert_eq!(
        exchange(&mut stream, set.as_bytes(), b"STORED\r\n"),
        b"STORED\r\n"
    );
    let mut writer = stream.try_clone().expect("clone the stream");
    let written = std::thread::spawn(move || {
        for _ in 0..gets / 100 {
            writer.write_all(&b"get w\r\n".repeat(100)).expect("write");
        }
    });
    let returned = fill.repeat(value.len());
    let reply = format!("VALUE w 0 {}\r\n{returned}\r\nEND\r\n", value.len());
    let mut got = vec![0; reply.len()];
    for i in 0..gets {
        stream.read_exact(&mut got).expect("a reply");
        assert_eq!(show(&got), show(reply.as_bytes()), "reply {i}");
        assert_eq!(got, reply.as_bytes(), "reply {i}");
    }
    written.join().expect("the writer");
}

/// [`replies_outgrowing_the_bound_all_arrive`] against a floor server: 2,000
/// replies of 10 KB, 20 MB, well past the 4 MiB a client may leave unread.
pub fn floor_server_resumes_a_client_that_reads_again(bin: &str) {
    let (_server, port) = floor_server(bin, "1");
    replies_outgrowing_the_bound_all_arrive(port, 2_000, "x");
}

/// The same through a floor proxy in front of memcached.
pub fn floor_proxy_resumes_a_client_that_reads_again(bin: &str) {
    let (_memcached, backend) = memcached();
    let (_proxy, port) = floor_proxy(bin, backend, "1");
    replies_outgrowing_the_bound_all_arrive(port, 2_000, "w");
}
