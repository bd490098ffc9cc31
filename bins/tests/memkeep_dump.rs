//! `memkeep dump` and `memkeep load` with real servers: items of every shape
//! copied from stock memcached to memkeepd and back, with their flags and expiry;
//! and memkeepd's `lru_crawler metadump` (which `dump` reads) next to memcached's.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use support::{read_until, wait_for, Server};

/// Runs memkeep; returns the exit code and standard error.
fn memkeep_err(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends `request` and reads until the reply ends with `end`.
fn call(server: &Server, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut c = server.connect();
    c.write_all(request).unwrap();
    read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(end)).0
}

/// `mg` of a base64 key: (flags, ttl, value), or `None` on a miss.
fn item(server: &Server, b64_key: &str) -> Option<(u32, i64, Vec<u8>)> {
    let reply = call(
        server,
        format!("mg {b64_key} b v f t\r\n").as_bytes(),
        b"\r\n",
    );
    let mut reply = reply;
    if reply.starts_with(b"EN") {
        return None;
    }
    let head_end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let head = String::from_utf8(reply[..head_end].to_vec()).unwrap();
    let mut tokens = head.split(' ');
    assert_eq!(tokens.next(), Some("VA"), "{head}");
    let len: usize = tokens.next().unwrap().parse().unwrap();
    let (mut flags, mut ttl) = (0, 0);
    for t in tokens {
        match t.split_at(1) {
            ("f", n) => flags = n.parse().unwrap(),
            ("t", n) => ttl = n.parse().unwrap(),
            _ => {}
        }
    }
    let mut c = server.connect();
    while reply.len() < head_end + 2 + len + 2 {
        c.write_all(format!("mg {b64_key} b v f t\r\n").as_bytes())
            .unwrap();
        reply = read_until(&mut c, Duration::from_secs(10), |g| {
            g.len() >= head_end + 2 + len + 2
        })
        .0;
    }
    Some((flags, ttl, reply[head_end + 2..head_end + 2 + len].to_vec()))
}

fn b64(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    // Tiny standard base64 for test keys.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = write!(
                    out,
                    "{}",
                    ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
                );
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Items of every shape: plain and odd keys (stored through meta's base64), flags,
/// no expiry and an expiry, values with CRLF inside, an empty one and a large one.
fn fill(server: &Server) -> Vec<(Vec<u8>, u32, i64, Vec<u8>)> {
    let mut items = Vec::new();
    for i in 0..300u32 {
        let key = format!("user:{i}").into_bytes();
        let ttl = if i % 3 == 0 { 0 } else { 1000 + i64::from(i) };
        items.push((
            key,
            i * 7,
            ttl,
            format!("value {i}\r\nline two").into_bytes(),
        ));
    }
    items.push((b"odd key\x01\xff".to_vec(), 1, 0, b"x".to_vec()));
    items.push((b"empty".to_vec(), 0, 0, Vec::new()));
    items.push((b"large".to_vec(), 9, 0, vec![b'L'; 200_000]));
    let mut request = Vec::new();
    for (key, flags, ttl, value) in &items {
        request.extend(format!("ms {} {} b F{flags} T{ttl}\r\n", b64(key), value.len()).as_bytes());
        request.extend(value);
        request.extend(b"\r\n");
    }
    let reply = call(server, &request, &b"HD\r\n".repeat(items.len()));
    assert_eq!(reply, b"HD\r\n".repeat(items.len()), "{}", server.name);
    items
}

fn assert_holds(server: &Server, items: &[(Vec<u8>, u32, i64, Vec<u8>)]) {
    for (key, flags, ttl, value) in items {
        let (got_flags, got_ttl, got_value) =
            item(server, &b64(key)).unwrap_or_else(|| panic!("{}: {key:?} missing", server.name));
        assert_eq!((got_flags, &got_value), (*flags, value), "{key:?}");
        if *ttl == 0 {
            assert_eq!(got_ttl, -1, "{key:?}");
        } else {
            assert!(
                (ttl - 3..=*ttl).contains(&got_ttl),
                "{key:?}: ttl {got_ttl}, want {ttl}"
            );
        }
    }
}

#[test]
fn dump_and_load_copy_items_between_memcached_and_memkeepd_both_ways() {
    let dir = harness::TempDir::new();
    let file = |name: &str| dir.0.join(name).to_str().unwrap().to_owned();
    let source = Server::memcached(&[]);
    let items = fill(&source);

    // memcached -> memkeepd.
    let (code, err) = memkeep_err(&["dump", &source.addr(), "-o", &file("a.dump")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("dumped {} items", items.len())),
        "{err}"
    );
    let ours = Server::memkeepd(&[]);
    let (code, err) = memkeep_err(&["load", &ours.addr(), "-i", &file("a.dump")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("loaded {} items", items.len())),
        "{err}"
    );
    assert_holds(&ours, &items);

    // Loading again keeps what is there, unless told to replace it.
    let (_, err) = memkeep_err(&["load", &ours.addr(), "-i", &file("a.dump")]);
    assert!(
        err.contains(&format!(
            "loaded 0 items into {} ({} kept",
            ours.addr(),
            items.len()
        )),
        "{err}"
    );
    call(&ours, b"set user:1 0 0 3\r\nnew\r\n", b"\r\n");
    memkeep_err(&["load", &ours.addr(), "-i", &file("a.dump")]);
    assert_eq!(item(&ours, &b64(b"user:1")).unwrap().2, b"new");
    let (code, err) = memkeep_err(&["load", &ours.addr(), "-i", &file("a.dump"), "--replace"]);
    assert_eq!(code, 0, "{err}");
    assert_holds(&ours, &items);

    // memkeepd -> a fresh memcached.
    let (code, err) = memkeep_err(&["dump", &ours.addr(), "-o", &file("b.dump")]);
    assert_eq!(code, 0, "{err}");
    let target = Server::memcached(&[]);
    let (code, err) = memkeep_err(&["load", &target.addr(), "-i", &file("b.dump")]);
    assert_eq!(code, 0, "{err}");
    assert_holds(&target, &items);

    // A file cut short is refused.
    let whole = std::fs::read(file("b.dump")).unwrap();
    std::fs::write(file("cut.dump"), &whole[..whole.len() / 2]).unwrap();
    let (code, err) = memkeep_err(&["load", &target.addr(), "-i", &file("cut.dump")]);
    assert_ne!(code, 0);
    assert!(err.contains("cut short"), "{err}");
}

#[test]
fn memkeepd_metadump_lists_what_memcached_lists() {
    let (theirs, ours) = (Server::memcached(&[]), Server::memkeepd(&[]));
    let mut dumps = Vec::new();
    for server in [&theirs, &ours] {
        let items = fill(server);
        call(server, b"get user:1 user:2\r\n", b"END\r\n");
        // memcached's crawler can miss items stored a moment ago (still on their way
        // into its LRU): ask again until it lists them all, as an operator would.
        let mut text = String::new();
        wait_for(Duration::from_secs(5), || {
            let dump = call(server, b"lru_crawler metadump all\r\n", b"END\r\n");
            text = String::from_utf8(dump).unwrap();
            text.lines().filter(|l| *l != "END").count() >= items.len()
        });
        assert!(text.ends_with("\nEND\r\n"), "{text}");
        // la and cas differ between any two servers; the rest must not.
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| *l != "END")
            .map(|l| {
                l.split(' ')
                    .filter(|f| !f.starts_with("la=") && !f.starts_with("cas="))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        lines.sort();
        assert_eq!(lines.len(), items.len(), "{}", server.name);
        dumps.push(lines);
    }
    // Expiry times are absolute: the two servers' clocks may be a second apart.
    let strip_exp = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.split(' ')
                    .filter(|f| !f.starts_with("exp="))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(strip_exp(&dumps[1]), strip_exp(&dumps[0]));
    assert!(dumps[1]
        .iter()
        .any(|l| l.starts_with("key=odd%20key%01%FF exp=-1 fetch=no")));
    assert!(dumps[1]
        .iter()
        .any(|l| l.starts_with("key=user%3A1 ") && l.contains(" fetch=yes")));
}
