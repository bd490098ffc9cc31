//! memcached's ASCII authentication (`-Y`) byte for byte: the table in
//! `conformance/auth.rs` runs against stock memcached (checking the table) and
//! against memkeepd.

mod support;

#[path = "conformance/auth.rs"]
mod auth;
#[path = "conformance/case.rs"]
mod case;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use case::Case;
use support::Server;

/// An auth file for both servers, removed when dropped.
struct Users(std::path::PathBuf);

impl Users {
    fn new() -> Users {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "memkeep-auth-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, "alice:secret\nbob:hunter2\n").unwrap();
        Users(path)
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_all(server: &Server) {
    let failures: Vec<String> = auth::CASES
        .iter()
        .filter_map(|c| case::check(&mut server.connect(), c, false, server.name).err())
        .collect();
    eprintln!(
        "{}: {} auth cases passed, {} failed",
        server.name,
        auth::CASES.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn auth_table_matches_stock_memcached() {
    let users = Users::new();
    run_all(&Server::memcached(&["-Y", &users.arg()]));
}

#[test]
fn memkeepd_matches_the_auth_table() {
    let users = Users::new();
    run_all(&Server::memkeepd(&["-Y", &users.arg()]));
}
