//! The conformance tables (bins/tests/conformance/{text,meta}.rs) run through
//! memkeep-proxy in front of three stock memcached, except the cases that are
//! about one server rather than the protocol (listed in [`EXCLUDED`] with why).

#[path = "proxy/harness.rs"]
mod harness;
mod support;

#[path = "conformance/case.rs"]
mod case;

#[path = "conformance/meta.rs"]
mod meta;
#[path = "conformance/text.rs"]
mod text;

use case::check;
pub use case::Case;
use harness::{exchange, nutcracker_yml, Proxy};
use support::Server;

/// Cases that do not hold through a proxy, and why. None today: every text and
/// meta case passes through the proxy (version and stats, which the proxy answers
/// itself or from one server, are not in the tables).
const EXCLUDED: &[(&str, &str)] = &[];

fn run_case(proxy: &Proxy, case: &Case) -> Result<(), String> {
    let mut flush = proxy.connect();
    assert_eq!(exchange(&mut flush, b"flush_all\r\n", b"\r\n"), b"OK\r\n");
    check(&mut proxy.connect(), case, false, "memkeep-proxy")
}

#[test]
fn text_and_meta_tables_through_the_proxy() {
    let servers: Vec<Server> = (0..3).map(|_| Server::memcached(&[])).collect();
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        nutcracker_yml(port, &addrs, "")
    });
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for case in text::CASES.iter().chain(meta::CASES) {
        if EXCLUDED.iter().any(|(name, _)| *name == case.name) {
            skipped += 1;
            continue;
        }
        match run_case(&proxy, case) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "through memkeep-proxy: {passed} passed, {} failed, {skipped} excluded",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
