//! Stores that fail for want of room, and what they do to the key's old value: a
//! value over the item size limit (`-I`, 1 MiB by default) or no memory left (`-M`).
//! memcached answers `SERVER_ERROR object too large for cache` (binary "Too large.")
//! or `SERVER_ERROR out of memory storing object`, and removes the old value for a
//! text `set`, every `ms` whatever its mode, and binary SET and SETQ, so that a failed
//! write never leaves stale data readable; `add`, `replace`, `append`, `prepend` and
//! `cas` leave it. Checked against memcached 1.6.18, and run through memkeep-proxy
//! (bins/tests/proxy_conformance.rs), which deletes the key where memcached would
//! have removed it.

#![allow(dead_code)] // the proxy's tests use the tables, not the out-of-memory run

use std::io::Write;
use std::time::Duration;

use super::Case;
use crate::support::{read_until, Server};

/// One byte over memcached's default item size limit: refused before it is read.
const OVER_LIMIT: usize = 1024 * 1024 + 1;
/// Under the limit as a value, over it once memcached's item header is counted.
const OVER_WITH_HEADER: usize = 1024 * 1024 - 10;

fn leak(bytes: Vec<u8>) -> &'static [u8] {
    Box::leak(bytes.into_boxed_slice())
}

/// `set k MOO`, then `line` with a value of `len` bytes, then `get k`.
fn text(name: &'static str, line: &str, len: usize, expect: &'static [u8]) -> Case {
    let mut send = b"set k 0 0 3\r\nMOO\r\n".to_vec();
    send.extend_from_slice(line.replace("{n}", &len.to_string()).as_bytes());
    send.extend_from_slice(b"\r\n");
    send.resize(send.len() + len, b'x');
    send.extend_from_slice(b"\r\nget k\r\n");
    Case {
        name,
        send: leak(send),
        expect,
    }
}

const STORED_GONE: &[u8] = b"STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n";
const STORED_KEPT: &[u8] =
    b"STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE k 0 3\r\nMOO\r\nEND\r\n";

/// The text and meta cases.
pub fn text_cases() -> Vec<Case> {
    vec![
        text(
            "set too large removes the old value",
            "set k 0 0 {n}",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "set too large with the item header removes the old value",
            "set k 0 0 {n}",
            OVER_WITH_HEADER,
            STORED_GONE,
        ),
        text(
            "set noreply too large removes the old value silently",
            "set k 0 0 {n} noreply",
            OVER_LIMIT,
            b"STORED\r\nEND\r\n",
        ),
        text(
            "add too large keeps the old value",
            "add k 0 0 {n}",
            OVER_LIMIT,
            STORED_KEPT,
        ),
        text(
            "replace too large keeps the old value",
            "replace k 0 0 {n}",
            OVER_LIMIT,
            STORED_KEPT,
        ),
        text(
            "append too large keeps the old value",
            "append k 0 0 {n}",
            OVER_LIMIT,
            STORED_KEPT,
        ),
        text(
            "prepend too large keeps the old value",
            "prepend k 0 0 {n}",
            OVER_LIMIT,
            STORED_KEPT,
        ),
        text(
            "cas too large keeps the old value",
            "cas k 0 0 {n} 1",
            OVER_LIMIT,
            STORED_KEPT,
        ),
        text(
            "cas too large with the item header keeps the old value",
            "cas k 0 0 {n} 1",
            OVER_WITH_HEADER,
            STORED_KEPT,
        ),
        text(
            "ms too large removes the old value",
            "ms k {n}",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms append too large removes the old value",
            "ms k {n} MA",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms add too large removes the old value",
            "ms k {n} ME",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms replace too large removes the old value",
            "ms k {n} MR",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms cas too large removes the old value",
            "ms k {n} C1",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms quiet too large still answers, without its opaque",
            "ms k {n} q O9 k",
            OVER_LIMIT,
            STORED_GONE,
        ),
        text(
            "ms too large with the item header removes the old value",
            "ms k {n} MA",
            OVER_WITH_HEADER,
            STORED_GONE,
        ),
        counted_by_stats_detail(),
    ]
}

/// memcached counts a set for `stats detail` before it finds the value too large.
fn counted_by_stats_detail() -> Case {
    let mut send =
        format!("stats detail on\r\nstats reset\r\nset a:1 0 0 {OVER_LIMIT}\r\n").into_bytes();
    send.resize(send.len() + OVER_LIMIT, b'x');
    send.extend_from_slice(b"\r\nstats detail dump\r\nstats detail off\r\nstats reset\r\n");
    Case {
        name: "a set too large counts for stats detail",
        send: leak(send),
        expect: b"OK\r\nRESET\r\nSERVER_ERROR object too large for cache\r\nPREFIX a get 0 hit 0 set 1 del 0\r\nEND\r\nOK\r\nRESET\r\n",
    }
}

/// A binary request packet.
fn packet(opcode: u8, extras: &[u8], key: &[u8], value_len: usize, opaque: u8) -> Vec<u8> {
    let body = extras.len() + key.len() + value_len;
    let mut p = vec![
        0x80,
        opcode,
        0,
        key.len() as u8,
        extras.len() as u8,
        0,
        0,
        0,
    ];
    p.extend_from_slice(&(body as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, opaque, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.resize(p.len() + value_len, b'x');
    p
}

/// A binary reply header with no extras or key.
fn reply(opcode: u8, status: u16, body: &[u8], opaque: u8) -> Vec<u8> {
    let mut r = vec![0x81, opcode, 0, 0, 0, 0];
    r.extend_from_slice(&status.to_be_bytes());
    r.extend_from_slice(&(body.len() as u32).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, opaque, 0, 0, 0, 0, 0, 0, 0, 0]);
    r.extend_from_slice(body);
    r
}

/// Binary SET k MOO, then `opcode` too large, then GET k.
fn binary(name: &'static str, opcode: u8, gone: bool) -> Case {
    let flags_exptime = [0u8; 8];
    let extras: &[u8] = if matches!(opcode, 0x0e | 0x0f) {
        &[]
    } else {
        &flags_exptime
    };
    let mut set = packet(0x01, &flags_exptime, b"k", 0, 1);
    // The value of the first set: patch its length in and append it.
    set[8..12].copy_from_slice(&(8 + 1 + 3u32).to_be_bytes());
    set.extend_from_slice(b"MOO");
    let send = [
        set,
        packet(opcode, extras, b"k", OVER_LIMIT, 2),
        packet(0x00, &[], b"k", 0, 3),
    ]
    .concat();
    let get = if gone {
        reply(0x00, 1, b"Not found", 3)
    } else {
        let mut hit = reply(0x00, 0, b"\0\0\0\0MOO", 3);
        hit[4] = 4; // four bytes of extras: the flags
        hit
    };
    let expect = [
        reply(0x01, 0, b"", 1),
        reply(opcode, 3, b"Too large.", 2),
        get,
    ]
    .concat();
    Case {
        name,
        send: leak(send),
        expect: leak(expect),
    }
}

/// The binary cases.
pub fn binary_cases() -> Vec<Case> {
    vec![
        binary("binary SET too large removes the old value", 0x01, true),
        binary("binary SETQ too large removes the old value", 0x11, true),
        binary("binary ADD too large keeps the old value", 0x02, false),
        binary("binary REPLACE too large keeps the old value", 0x03, false),
        binary("binary APPEND too large keeps the old value", 0x0e, false),
        binary("binary PREPEND too large keeps the old value", 0x0f, false),
    ]
}

/// The reply to one command line (and value) on `conn`.
fn ask(conn: &mut std::net::TcpStream, send: &[u8], ends: &[&[u8]]) -> Vec<u8> {
    conn.write_all(send).unwrap();
    let (got, _) = read_until(conn, Duration::from_secs(5), |got| {
        ends.iter().any(|end| got.ends_with(end))
    });
    got
}

/// With `-M` and memory full, a store memcached cannot make room for fails with
/// `SERVER_ERROR out of memory storing object`; a failed `set` or `ms` removes the
/// old value, a failed `append` keeps it. `server` runs with a few megabytes and
/// `-M`. Small values are stored first, a set of keys per verb; big values then fill
/// memory until stores fail; then each key gets a big value by its verb, and where
/// that fails, a `get` shows whether the small value survived. (memcached also
/// refuses an `add` of a present key for want of memory, where memkeepd, which
/// checks the key first, answers `NOT_STORED`.)
pub fn out_of_memory_unlinks(server: &Server) {
    const BIG: usize = 100_000;
    const KEYS: usize = 64;
    let mut conn = server.connect();
    let ends: &[&[u8]] = &[b"\r\n"];
    for v in 0..3 {
        for i in 0..KEYS {
            let line = format!("set k{v}_{i} 0 0 3\r\nMOO\r\n");
            assert_eq!(
                ask(&mut conn, line.as_bytes(), ends),
                b"STORED\r\n",
                "{}",
                server.name
            );
        }
    }
    let big = "y".repeat(BIG);
    let mut refused = 0;
    for i in 0..2_000 {
        let line = format!("set fill{i} 0 0 {BIG}\r\n{big}\r\n");
        let got = ask(&mut conn, line.as_bytes(), ends);
        if got == b"SERVER_ERROR out of memory storing object\r\n" {
            refused += 1;
            if refused == 20 {
                break;
            }
        } else {
            assert_eq!(got, b"STORED\r\n", "{}", server.name);
        }
    }
    assert_eq!(refused, 20, "{}: memory never filled up", server.name);
    let get_ends: &[&[u8]] = &[b"END\r\n"];
    // (verb line, whether a failed store removes the old value)
    let verbs = [
        (format!("set {{k}} 0 0 {BIG}"), true),
        (format!("ms {{k}} {BIG} MA"), true),
        (format!("append {{k}} 0 0 {BIG}"), false),
    ];
    for (v, (verb, unlinks)) in verbs.into_iter().enumerate() {
        let mut failed = 0;
        for i in 0..KEYS {
            let key = format!("k{v}_{i}");
            let line = format!("{}\r\n{big}\r\n", verb.replace("{k}", &key));
            let got = ask(&mut conn, line.as_bytes(), ends);
            if got != b"SERVER_ERROR out of memory storing object\r\n" {
                continue;
            }
            failed += 1;
            let value = ask(&mut conn, format!("get {key}\r\n").as_bytes(), get_ends);
            let expect = if unlinks {
                "END\r\n".to_owned()
            } else {
                format!("VALUE {key} 0 3\r\nMOO\r\nEND\r\n")
            };
            assert_eq!(
                String::from_utf8_lossy(&value),
                expect,
                "{}: {verb} on {key}",
                server.name
            );
        }
        assert!(failed > 0, "{}: no {verb} failed", server.name);
    }
}
