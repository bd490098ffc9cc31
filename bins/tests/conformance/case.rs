//! One conformance case and how a reply is checked against it; shared by the test
//! binaries that run the tables (against servers directly and through the proxy).

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::support::read_until;

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
pub fn matches(expect: &[u8], got: &[u8]) -> Option<bool> {
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

/// Sends the case on `conn` (a fresh connection, closed for writing afterwards) and
/// checks the reply, nothing more and nothing less. `binary` masks CAS fields first.
pub fn check(conn: &mut TcpStream, case: &Case, binary: bool, who: &str) -> Result<(), String> {
    conn.write_all(case.send).map_err(|e| e.to_string())?;
    let masked = |got: &[u8]| {
        let mut got = got.to_vec();
        if binary {
            mask_binary_cas(&mut got);
        }
        got
    };
    let (mut got, closed) = read_until(conn, Duration::from_secs(10), |got| {
        matches(case.expect, &masked(got)) != Some(false)
    });
    if !closed {
        // Anything after the expected reply is a failure too. Closing the client's
        // side marks where the case ends: the server answers all it was sent, then
        // closes, so the stream's end is the reply's end, however slow the server.
        let _ = conn.shutdown(Shutdown::Write);
        let (extra, _) = read_until(conn, Duration::from_secs(10), |_| false);
        got.extend(extra);
    }
    let got = masked(&got);
    if matches(case.expect, &got) == Some(true) {
        return Ok(());
    }
    Err(format!(
        "{who}: case {:?}\n  sent:     {:?}\n  expected: {:?}\n  got:      {:?}",
        case.name,
        String::from_utf8_lossy(&case.send[..case.send.len().min(200)]),
        String::from_utf8_lossy(case.expect),
        String::from_utf8_lossy(&got[..got.len().min(400)])
    ))
}
