//! Third-party test suites (memcached's own `t/*.t`, pymemcache's integration tests)
//! run against stock memcached, the reference, and against memkeepd and memkeep-proxy.
//! `./test.sh` installs them under `target/upstream/`; a test that finds one missing
//! fails and says how to install it, never skips.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod process_group;
pub mod prove;
pub mod pytest;
pub mod suite;
pub mod table;

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bins/ has a parent")
        .to_path_buf()
}

/// `target/upstream/NAME`: where `./test.sh` installs a suite. Panics, saying to run
/// `./test.sh`, when it is missing.
pub fn installed(name: &str, what: &str) -> PathBuf {
    let path = workspace_root().join("target/upstream").join(name);
    assert!(
        path.exists(),
        "{what} is not installed ({} is missing): run ./test.sh once \
         (./test.sh --install-only installs without running the tests)",
        path.display()
    );
    path
}

/// `contrib/upstream/NAME`: the suites' wrappers and expected-results tables.
pub fn contrib(name: &str) -> PathBuf {
    workspace_root().join("contrib/upstream").join(name)
}

/// The server a suite runs against.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Stock memcached (Debian's 1.6.18): the reference.
    Memcached,
    /// memkeepd, built by this workspace.
    Memkeepd,
    /// memkeep-proxy in magent mode in front of one memkeepd.
    ProxyMemkeepd,
    /// memkeep-proxy in magent mode in front of one stock memcached.
    ProxyMemcached,
}

impl Target {
    /// Every target, in the expected-results table's column order.
    pub const ALL: [Target; 4] = [
        Target::Memcached,
        Target::Memkeepd,
        Target::ProxyMemkeepd,
        Target::ProxyMemcached,
    ];

    /// Its name in the tables, in messages, and in `contrib/upstream/memcached-debug`'s
    /// `UPSTREAM_TARGET`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Memcached => "memcached",
            Target::Memkeepd => "memkeepd",
            Target::ProxyMemkeepd => "proxy-memkeepd",
            Target::ProxyMemcached => "proxy-memcached",
        }
    }

    /// Its column in the expected-results table.
    pub fn column(self) -> usize {
        Target::ALL.iter().position(|t| *t == self).unwrap()
    }
}
