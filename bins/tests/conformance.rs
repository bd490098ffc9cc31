//! Raw-bytes conformance: each case sends bytes on a fresh connection and expects
//! memcached's exact reply. Every table runs against stock memcached (so the table is
//! checked against the reference) and against memkeepd.

mod support;

#[path = "conformance/binary.rs"]
mod binary;
#[path = "conformance/meta.rs"]
mod meta;
#[path = "conformance/text.rs"]
mod text;

use std::io::Write;
use std::time::Duration;

use support::{read_until, Server};

/// One exchange: bytes in, the exact bytes out.
pub struct Case {
    /// What the case checks.
    pub name: &'static str,
    /// Bytes the client sends on a fresh connection.
    pub send: &'static [u8],
    /// The reply; `{u64}` matches a run of digits (CAS values differ by server).
    pub expect: &'static [u8],
}

const PLACEHOLDER: &[u8] = b"{u64}";

/// How far `got` matches `expect`: `Some(true)` a full match, `Some(false)` a
/// prefix of a match so far, `None` a mismatch.
fn matches(expect: &[u8], got: &[u8]) -> Option<bool> {
    let (mut e, mut g) = (0, 0);
    while e < expect.len() {
        if expect[e..].starts_with(PLACEHOLDER) {
            let digits = got[g..].iter().take_while(|b| b.is_ascii_digit()).count();
            if g + digits == got.len() {
                return Some(false);
            }
            if digits == 0 {
                return None;
            }
            e += PLACEHOLDER.len();
            g += digits;
            continue;
        }
        if g == got.len() {
            return Some(false);
        }
        if expect[e] != got[g] {
            return None;
        }
        e += 1;
        g += 1;
    }
    (g == got.len()).then_some(true)
}

/// Zeroes the CAS field of every binary response header, walking the frames.
fn mask_binary_cas(bytes: &mut [u8]) {
    let mut at = 0;
    while at + 24 <= bytes.len() && bytes[at] == 0x81 {
        let body = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        bytes[at + 16..at + 24].fill(0);
        at += 24 + body;
    }
}

fn run_case(server: &Server, case: &Case, binary: bool) -> Result<(), String> {
    server.flush_all();
    let mut conn = server.connect();
    conn.write_all(case.send).map_err(|e| e.to_string())?;
    let complete = |got: &[u8]| {
        let mut got = got.to_vec();
        if binary {
            mask_binary_cas(&mut got);
        }
        matches(case.expect, &got) != Some(false)
    };
    let (mut got, closed) = read_until(&mut conn, Duration::from_secs(3), complete);
    if !closed {
        // Anything after the expected reply is a failure too.
        let (extra, _) = read_until(&mut conn, Duration::from_millis(30), |g| !g.is_empty());
        got.extend(extra);
    }
    if binary {
        mask_binary_cas(&mut got);
    }
    if matches(case.expect, &got) == Some(true) {
        Ok(())
    } else {
        Err(format!(
            "{}: case {:?}\n  sent:     {:?}\n  expected: {:?}\n  got:      {:?}",
            server.name,
            case.name,
            String::from_utf8_lossy(case.send),
            String::from_utf8_lossy(case.expect),
            String::from_utf8_lossy(&got)
        ))
    }
}

fn run_all(server: &Server) {
    let tables: [(&str, &[Case], bool); 3] = [
        ("text", text::CASES, false),
        ("meta", meta::CASES, false),
        ("binary", binary::CASES, true),
    ];
    let mut failures = Vec::new();
    let mut passed = 0;
    for (_, cases, binary) in tables {
        for case in cases {
            match run_case(server, case, binary) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(e),
            }
        }
    }
    let sizes: Vec<String> = tables
        .iter()
        .map(|(n, c, _)| format!("{n} {}", c.len()))
        .collect();
    eprintln!(
        "{}: {passed} cases passed, {} failed ({})",
        server.name,
        failures.len(),
        sizes.join(", ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0);
}

#[test]
fn tables_match_stock_memcached() {
    run_all(&Server::memcached(&[]));
}

#[test]
fn memkeepd_matches_the_tables() {
    run_all(&Server::memkeepd(&[]));
}

#[test]
fn placeholder_matching() {
    assert_eq!(
        matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 42\r\n"),
        Some(true)
    );
    assert_eq!(
        matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 4"),
        Some(false)
    );
    assert_eq!(matches(b"VALUE a 0 1 {u64}\r\n", b"VALUE a 0 1 x"), None);
    assert_eq!(matches(b"END\r\n", b"END\r\nEND\r\n"), None);
}
