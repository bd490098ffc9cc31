//! The status page in a real browser: headless Chromium (Debian `chromium`) loads
//! memkeep-proxy's page over a live pool, and memkeepd's page of a replica still
//! waiting for its copy, and takes screenshots, which must be real 1200x800 PNGs
//! with content. Set `MEMKEEP_STATUS_PAGE_PNG=docs/status-page.png`
//! to keep the screenshot (the README shows it).

mod admin;
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use admin::http::{get, scrape, value};
use admin::proxy::AdminProxy;
use support::{free_port, read_until, wait_for, Server};

fn exchange(conn: &mut std::net::TcpStream, request: &[u8], end: &[u8]) -> Vec<u8> {
    conn.write_all(request).unwrap();
    read_until(conn, Duration::from_secs(5), |g| g.ends_with(end)).0
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn chromium_renders_the_proxy_status_page() {
    // A memcached, a memkeepd pair (so the replication column has something to
    // say) and a server that is not there.
    let cache = Server::memcached(&["-m", "16"]);
    let (ra, rb) = (free_port().to_string(), free_port().to_string());
    let pair_a = Server::memkeepd(&["-m", "32", "-X", &ra]);
    let peer = format!("127.0.0.1:{ra}");
    let pair_b = Server::memkeepd(&["-m", "32", "-X", &rb, "-x", &peer]);
    let dead = format!("127.0.0.1:{}", free_port());
    let servers = [
        format!("{} cache-a", cache.addr()),
        format!("{} pair-a", pair_a.addr()),
        format!("{} pair-b", pair_b.addr()),
        format!("{dead} cache-gone"),
    ];
    let proxy = AdminProxy::start(
        &servers,
        // Long enough that a live server is never ejected for a slow reply on a
        // loaded machine: the dead one is refused at once.
        "timeout: 5000\nauto_eject_hosts: true\nserver_failure_limit: 1\nserver_retry_timeout: 600000",
    );
    let mut conn = proxy.connect();
    for i in 0..300 {
        let key = format!("user:{i}");
        exchange(
            &mut conn,
            format!("set {key} 0 0 4\r\ndata\r\n").as_bytes(),
            b"\r\n",
        );
        exchange(
            &mut conn,
            format!("get {key} nothing:{i}\r\n").as_bytes(),
            b"\r\n",
        );
    }
    // Wait until every live backend's stats have been polled since the traffic.
    assert!(wait_for(Duration::from_secs(10), || {
        let m = scrape(proxy.admin);
        let hits: f64 = m
            .iter()
            .filter(|(k, _)| k.starts_with("memkeep_backend_get_hits_total"))
            .map(|(_, v)| v)
            .sum();
        hits == 300.0
            && m.iter()
                .filter(|(k, _)| k.starts_with("memkeep_backend_replication_warming"))
                .all(|(_, v)| *v == 0.0)
    }));
    assert_eq!(
        value(
            &scrape(proxy.admin),
            &format!("memkeep_backend_state{{pool=\"alpha\",backend=\"cache-gone\",address=\"{dead}\",state=\"ejected\"}}")
        ),
        1.0
    );
    assert!(get(proxy.admin, "/").body.contains("pair synced"));

    // Traffic keeps flowing while the browser loads the page, so the latency and
    // ops/s columns have figures.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = std::thread::spawn({
        let stop = stop.clone();
        let mut conn = proxy.connect();
        move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("user:{}", i % 300);
                exchange(&mut conn, format!("get {key}\r\n").as_bytes(), b"END\r\n");
                i += 1;
            }
        }
    });
    // The page's figures cover the last complete second: wait for one with traffic.
    assert!(wait_for(Duration::from_secs(10), || {
        let s: serde_json::Value = serde_json::from_str(&get(proxy.admin, "/status").body).unwrap();
        s["nodes"][0]["ops_per_second"].as_f64().unwrap_or(0.0) > 0.0
    }));
    let png = screenshot(proxy.admin);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    assert_non_trivial(&png);
    if let Ok(keep) = std::env::var("MEMKEEP_STATUS_PAGE_PNG") {
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(keep);
        std::fs::write(target, &png).unwrap();
    }
}

#[test]
fn chromium_renders_the_memkeepd_status_page_of_a_warming_replica() {
    let primary_repl = free_port();
    let peer = format!("127.0.0.1:{primary_repl}");
    let (_replica, admin) = admin::http::memkeepd_with_admin(&["--replica-of", &peer]);
    let page = get(admin, "/");
    assert!(page.body.contains("warming: waiting for a full copy from"));
    assert_non_trivial(&screenshot(admin));
}

/// Headless Chromium's screenshot of the page at `/` on `admin`, as PNG bytes.
fn screenshot(admin: u16) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("memkeep-chromium-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("status.png");
    let mut chromium = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,800",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{admin}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium (Debian package `chromium`) must be installed");
    let mut status = None;
    wait_for(Duration::from_secs(120), || {
        status = chromium.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = chromium.kill();
        let _ = chromium.wait();
        panic!("chromium did not finish within two minutes");
    }
    assert!(status.unwrap().success(), "chromium failed: {status:?}");
    let png = std::fs::read(&shot).expect("no screenshot written");
    let _ = std::fs::remove_dir_all(&dir);
    png
}

/// A real 1200x800 PNG with content: a blank page compresses to a few KB; a table
/// with text and coloured state badges is far larger.
fn assert_non_trivial(png: &[u8]) {
    assert_eq!(png_size(png), (1200, 800));
    assert!(
        png.len() > 20_000,
        "screenshot of {} bytes looks empty",
        png.len()
    );
}
