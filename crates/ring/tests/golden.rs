//! The ring against twemproxy itself: every table in tests/golden/ was recorded from
//! a running nutcracker 0.5.0 by golden/generate.py (keys set through nutcracker,
//! then looked up on each memcached backend). Each key must land where it did.

use std::fs;
use std::path::{Path, PathBuf};

use memkeep_ring::{Distribution, Hash, Ring, Server};

struct Table {
    name: String,
    ring: Ring,
    rows: Vec<(usize, Vec<u8>)>,
}

fn parse(path: &Path) -> Table {
    let text = fs::read_to_string(path).unwrap();
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let (mut hash, mut distribution, mut hash_tag) = (None, None, None);
    let (mut servers, mut rows) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (head, rest) = line.split_once(' ').unwrap();
        match head {
            "hash" => hash = Some(rest.parse::<Hash>().unwrap()),
            "distribution" => distribution = Some(rest.parse::<Distribution>().unwrap()),
            "hash_tag" => hash_tag = Some(rest.as_bytes().to_vec()),
            "server" => servers.push(server(rest)),
            index => rows.push((index.parse().unwrap(), key(rest))),
        }
    }
    let mut builder = Ring::builder(servers)
        .hash(hash.expect("hash line"))
        .distribution(distribution.expect("distribution line"));
    if let Some(tag) = hash_tag {
        builder = builder.hash_tag(&tag);
    }
    Table {
        name,
        ring: builder.build().unwrap(),
        rows,
    }
}

/// `host:port:weight [name]`, as in nutcracker.yml.
fn server(spec: &str) -> Server {
    let (addr, name) = match spec.split_once(' ') {
        Some((addr, name)) => (addr, Some(name)),
        None => (spec, None),
    };
    let mut parts = addr.rsplitn(3, ':');
    let weight = parts.next().unwrap().parse().unwrap();
    let port = parts.next().unwrap().parse().unwrap();
    let host = parts.next().unwrap();
    Server::twemproxy(host, port, weight, name)
}

fn key(text: &str) -> Vec<u8> {
    match text.strip_prefix("hex:") {
        Some(hex) => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect(),
        None => text.as_bytes().to_vec(),
    }
}

fn tables() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_key_lands_where_twemproxy_put_it() {
    let paths = tables();
    assert!(paths.len() >= 30, "golden tables missing: {}", paths.len());
    let mut failures = Vec::new();
    let mut total = 0;
    for path in &paths {
        let table = parse(path);
        let wrong: Vec<_> = table
            .rows
            .iter()
            .filter(|(want, key)| table.ring.node_for(key) != *want)
            .collect();
        total += table.rows.len();
        if let Some((want, key)) = wrong.first() {
            failures.push(format!(
                "{}: {} of {} keys differ, e.g. {:?} -> {} (twemproxy: {})",
                table.name,
                wrong.len(),
                table.rows.len(),
                String::from_utf8_lossy(key),
                table.ring.node_for(key),
                want
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total > 30_000, "{total} keys checked");
}

#[test]
fn the_coverage_the_tables_promise() {
    let tables: Vec<Table> = tables().iter().map(|p| parse(p)).collect();
    let has = |f: &dyn Fn(&Table) -> bool| tables.iter().any(f);
    for n in [1, 3, 5, 25] {
        assert!(has(&|t| t.ring.servers().len() == n), "{n} servers");
    }
    for hash in Hash::ALL
        .into_iter()
        .filter(|h| !matches!(h, Hash::Djb | Hash::Xxh3))
    {
        for d in [Distribution::Ketama, Distribution::Modula] {
            assert!(
                has(&|t| t.ring.hash() == hash && t.ring.distribution() == d),
                "{hash} with {d}"
            );
        }
    }
    assert!(
        has(&|t| t.ring.servers().iter().any(|s| s.weight() > 1)),
        "weights"
    );
    assert!(
        has(&|t| t.ring.servers()[0].identity() == "alpha"),
        "named servers"
    );
    assert!(
        has(&|t| t.ring.servers()[0].identity() == "127.0.0.1"),
        ":11211 dropped"
    );
    assert!(
        has(&|t| t.ring.hashed_part(b"a{b}c") == b"b"),
        "hash_tag {{}}"
    );
    assert!(
        has(&|t| t.rows.iter().any(|(_, k)| k.iter().any(|&b| b >= 0x80))),
        "non-ASCII keys"
    );
    // The 25-server rounding quirk shows in the continuum size.
    assert!(
        has(&|t| t.ring.continuum_len() == 25 * 156),
        "25 servers, 156 points each"
    );
}
