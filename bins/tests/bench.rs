//! `memkeep bench` run briefly (bounded by request count) against memkeepd and stock
//! memcached: its JSON report must show every request done, no errors and a hit ratio
//! that matches a preloaded key space; on a terminal, its progress bars end at 100%.

mod support;

use std::process::Command;

use serde_json::Value;
use support::Server;

fn bench(server: &Server, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(["bench", "--json", "--no-progress", "-s", &server.addr()])
        .args(args)
        .output()
        .expect("memkeep runs");
    assert!(
        output.status.success(),
        "{}: memkeep bench {args:?} failed: {}",
        server.name,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}): {}",
            server.name,
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn servers() -> [Server; 2] {
    [
        Server::memkeepd(&["-t", "2"]),
        Server::memcached(&["-t", "2"]),
    ]
}

fn assert_clean(server: &Server, report: &Value, requests: u64, what: &str) {
    let context = format!("{} {what}: {report}", server.name);
    assert_eq!(report["requests"], requests, "{context}");
    assert_eq!(report["errors"], 0, "{context}");
    assert!(
        report["requests_per_s"].as_f64().unwrap() > 0.0,
        "{context}"
    );
    assert!(
        report["latency_us"]["p99"].as_f64().unwrap() > 0.0,
        "{context}"
    );
    assert!(
        report["client_cpu_us_per_request"].as_f64().unwrap() >= 0.0,
        "{context}"
    );
}

#[test]
fn every_protocol_hits_a_preloaded_key_space() {
    for server in servers() {
        for protocol in ["text", "meta", "binary"] {
            let report = bench(
                &server,
                &[
                    "-P",
                    protocol,
                    "--preload",
                    "-k",
                    "300",
                    "-n",
                    "1000",
                    "-c",
                    "4",
                    "--pipeline",
                    "4",
                ],
            );
            assert_clean(&server, &report, 1000, protocol);
            assert_eq!(report["preload"]["items"], 300, "{}", server.name);
            assert_eq!(report["preload"]["errors"], 0, "{}", server.name);
            // Every key was stored first and nothing evicts 300 small items.
            assert_eq!(report["hit_ratio"], 1.0, "{} {protocol}", server.name);
            let gets = report["gets"].as_u64().unwrap();
            assert!((800..=980).contains(&gets), "9:1 mix: {gets} gets of 1000");
        }
    }
}

#[test]
fn multi_gets_zipf_and_an_empty_cache() {
    for server in servers() {
        server.flush_all();
        // Nothing stored under these keys: every get misses.
        let report = bench(
            &server,
            &[
                "--ratio",
                "1:0",
                "--multiget",
                "16",
                "-k",
                "5000",
                "--key-size",
                "10-30",
                "--distribution",
                "zipf",
                "-n",
                "200",
                "-c",
                "2",
                "-t",
                "2",
            ],
        );
        assert_clean(&server, &report, 200, "multi-get misses");
        assert_eq!(report["get_keys"], 200 * 16);
        assert_eq!(report["hit_ratio"], 0.0, "{}", server.name);
        // Sets only, 1 KiB values, then half gets: those keys are found.
        let report = bench(
            &server,
            &[
                "-P",
                "meta",
                "--ratio",
                "1:1",
                "-k",
                "50",
                "--value-size",
                "1024",
                "-n",
                "1000",
                "--pipeline",
                "8",
            ],
        );
        assert_clean(&server, &report, 1000, "meta 1:1");
        let hit_ratio = report["hit_ratio"].as_f64().unwrap();
        assert!(hit_ratio > 0.5, "{}: hit ratio {hit_ratio}", server.name);
    }
}

#[test]
fn preload_only_stores_every_key_and_measures_nothing() {
    let server = Server::memkeepd(&[]);
    let report = bench(&server, &["--preload-only", "-k", "2000", "-P", "binary"]);
    assert_eq!(report["preload"]["items"], 2000);
    assert_eq!(report["requests"], 0);
    let check = bench(&server, &["--ratio", "1:0", "-k", "2000", "-n", "500"]);
    assert_eq!(check["hit_ratio"], 1.0);
}

#[test]
fn refuses_targets_beyond_loopback() {
    let output = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(["bench", "-s", "192.0.2.1:11211", "-n", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}

#[test]
fn rate_holds_the_load_to_its_schedule() {
    let server = Server::memkeepd(&[]);
    // 500 operations a second for one second over 4 connections: however fast the
    // server, no more than the schedule allows are sent.
    let report = bench(
        &server,
        &["--rate", "500", "-d", "1s", "-c", "4", "--ratio", "1:1"],
    );
    let requests = report["requests"].as_u64().unwrap();
    assert!(requests > 0, "{report}");
    assert!(
        requests <= 520,
        "{requests} requests at 500/s for 1 s: {report}"
    );
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    let refused = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(["bench", "-s", &server.addr(), "--rate", "0", "-n", "1"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("bad rate"));
    // A key space the key arena cannot hold is refused, not a crash.
    let huge = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args([
            "bench",
            "-s",
            &server.addr(),
            "-k",
            "10000000000",
            "-n",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!huge.status.success());
    assert!(String::from_utf8_lossy(&huge.stderr).contains("too many keys"));
}

/// What `memkeep bench` leaves on a terminal: run under `script` (util-linux), which
/// gives it a pseudo-terminal, so the progress bars are drawn as a person sees them.
fn on_a_terminal(server: &Server, args: &str) -> String {
    let command = format!(
        "stty cols 200; exec {} bench -s {} {args}",
        env!("CARGO_BIN_EXE_memkeep"),
        server.addr()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux)");
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{transcript}");
    transcript
}

/// The last frame a bar drew: the text after the last `label` up to the end of
/// its line.
fn last_frame<'a>(transcript: &'a str, label: &str) -> &'a str {
    let start = transcript
        .rfind(label)
        .unwrap_or_else(|| panic!("no {label:?} bar in {transcript:?}"));
    let frame = &transcript[start..];
    frame
        .find(['\r', '\n', '\u{1b}'])
        .map_or(frame, |end| &frame[..end])
        .trim_end()
}

#[test]
fn progress_bars_count_what_they_say_and_end_at_100_percent() {
    let server = Server::memkeepd(&[]);
    let transcript = on_a_terminal(&server, "--preload -k 2000 -n 20000 -c 4");
    let preload = last_frame(&transcript, "preload [");
    assert!(preload.contains("] 100% 2000/2000 items"), "{preload}");
    let run = last_frame(&transcript, "run     [");
    assert!(run.contains("] 100% 20000/20000 requests ("), "{run}");
    assert!(transcript.contains("requests     20000 in"), "{transcript}");

    // With --duration alone the bar counts seconds, and says how many requests.
    let transcript = on_a_terminal(&server, "-d 1s -c 2");
    let run = last_frame(&transcript, "run     [");
    assert!(run.contains("] 100% 1.0/1.0 s, "), "{run}");
    let report_line = transcript
        .lines()
        .find(|l| l.trim_start().starts_with("requests "))
        .unwrap_or_else(|| panic!("{transcript}"));
    let requests: &str = report_line.split_whitespace().nth(1).unwrap();
    assert!(
        run.contains(&format!(", {requests} requests (")),
        "{run} / {report_line}"
    );
}
