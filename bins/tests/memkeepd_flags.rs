//! memkeepd's command line against stock memcached 1.6.18's: every flag and `-o`
//! option starts both servers or is refused by both; a repeated flag counts once, the
//! last time; the command switches (-C, -F, -X, -B) answer as memcached does; the
//! settings they make show in `stats settings` as memcached shows them.

mod support;

#[path = "conformance/case.rs"]
mod case;
#[path = "flags/startup.rs"]
mod startup;
#[path = "flags/switches.rs"]
mod switches;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use case::{check, Case};
use support::{free_port, read_until, wait_until_accepting, Server};

/// A scratch directory for the files some flags name, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("memkeepd-flags-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("auth"), "user:secret\n").unwrap();
        Scratch(path)
    }

    /// The arguments with `{dir}` replaced by this directory.
    fn args(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|a| a.replace("{dir}", &self.0.display().to_string()))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `program` starts with `args` after `-l 127.0.0.1 -p PORT`: `Ok(())` when
/// it accepts connections (it is then stopped), `Err(what it said)` when it exits
/// with a failure.
fn starts(program: &str, args: &[String]) -> Result<(), String> {
    let memcached = program == "memcached";
    let port = free_port();
    let mut command = Command::new(program);
    if memcached && nix::unistd::Uid::effective().is_root() {
        // memcached refuses to run as root without -u.
        command.args(["-u", "root"]);
    }
    let mut child = command
        .args(["-l", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .env_remove("MEMCACHED_SASL_PWDB")
        .env_remove("SASL_CONF_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    if wait_until_accepting(port, &mut child) {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(());
    }
    let status = child.wait().unwrap();
    let mut said = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut said);
    assert!(
        !status.success(),
        "{program} {args:?} exited 0 without listening"
    );
    Err(said.trim().replace('\n', " | "))
}

fn memkeepd() -> &'static str {
    env!("CARGO_BIN_EXE_memkeepd")
}

#[test]
fn every_flag_memcached_starts_with_starts_memkeepd() {
    let scratch = Scratch::new("starts");
    let mut disagreements = Vec::new();
    for line in startup::STARTS {
        let args = scratch.args(line);
        if let Err(why) = starts("memcached", &args) {
            disagreements.push(format!("{args:?}: the table says memcached starts: {why}"));
        }
        if let Err(why) = starts(memkeepd(), &args) {
            disagreements.push(format!("{args:?}: memkeepd refused: {why}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_flag_memcached_refuses_is_refused_with_a_reason() {
    let scratch = Scratch::new("refused");
    let mut disagreements = Vec::new();
    for line in startup::REFUSED {
        let args = scratch.args(line);
        if starts("memcached", &args).is_ok() {
            disagreements.push(format!("{args:?}: the table says memcached refuses"));
        }
        match starts(memkeepd(), &args) {
            Ok(()) => disagreements.push(format!("{args:?}: memkeepd started")),
            Err(why) if why.is_empty() => disagreements.push(format!("{args:?}: no reason")),
            Err(_) => {}
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn the_documented_differences_are_what_they_say() {
    let scratch = Scratch::new("differences");
    for (line, memcached_starts, memkeepd_starts, why) in startup::DIFFERENCES {
        let args = scratch.args(line);
        assert_eq!(
            starts("memcached", &args).is_ok(),
            *memcached_starts,
            "memcached {args:?} ({why})"
        );
        assert_eq!(
            starts(memkeepd(), &args).is_ok(),
            *memkeepd_starts,
            "memkeepd {args:?} ({why})"
        );
    }
}

#[test]
fn usage_errors_exit_64_with_memcacheds_words() {
    for (args, words) in [
        (
            &["-I", "256m"][..],
            "Cannot set item size limit higher than 1/2 of memory max.",
        ),
        (&["-B", "foo"], "Invalid value for binding protocol: foo"),
        (
            &["-o", "hashpower=11"],
            "Initial hashtable multiplier of 11 is too low",
        ),
        (&["-o", "bogus"], "Illegal suboption \"bogus\""),
        (&["--no-such-flag"], "--no-such-flag"),
    ] {
        let out = Command::new(memkeepd()).args(args).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {said}");
        assert!(said.contains(words), "{args:?}: {said}");
    }
    let out = Command::new(memkeepd()).arg("-i").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Apache License"));
}

/// `stats settings` as a list of (name, value).
fn settings(server: &Server) -> Vec<(String, String)> {
    let mut c = server.connect();
    c.write_all(b"stats settings\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    String::from_utf8_lossy(&got)
        .lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix("STAT ")?.splitn(2, ' ');
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

#[test]
fn settings_show_the_flags_as_memcached_shows_them() {
    let flags = [
        "-m",
        "64",
        "-m",
        "128",
        "-I",
        "2m",
        "-C",
        "-F",
        "-X",
        "-B",
        "ascii",
        "-a",
        "18",
        "-b",
        "abc",
        "-t",
        "2",
        "-c",
        "500",
        "-l",
        "127.0.0.2",
        "-M",
    ];
    let names = [
        "maxbytes",
        "maxconns",
        "inter",
        "umask",
        "evictions",
        "num_threads",
        "cas_enabled",
        "tcp_backlog",
        "binding_protocol",
        "item_size_max",
        "flush_enabled",
        "dump_enabled",
    ];
    let pick = |all: Vec<(String, String)>| -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| {
                all.iter()
                    .find(|(name, _)| name == n)
                    .cloned()
                    .unwrap_or_else(|| (n.to_string(), "(missing)".into()))
            })
            .collect()
    };
    let memcached = pick(settings(&Server::memcached(&flags)));
    let ours = pick(settings(&Server::memkeepd(&flags)));
    assert_eq!(ours, memcached);
    assert!(memcached.contains(&("maxbytes".into(), (128u64 << 20).to_string())));
    assert!(memcached.contains(&("inter".into(), "127.0.0.1,127.0.0.2".into())));
}

#[test]
fn a_repeated_listen_flag_listens_on_every_address() {
    for server in [
        Server::memcached(&["-l", "127.0.0.2"]),
        Server::memkeepd(&["-l", "127.0.0.2"]),
    ] {
        for host in ["127.0.0.1", "127.0.0.2"] {
            let mut c = std::net::TcpStream::connect((host, server.port)).unwrap();
            c.write_all(b"mn\r\n").unwrap();
            let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
            assert_eq!(got, b"MN\r\n", "{} on {host}", server.name);
        }
    }
}

/// Runs `cases` against memcached and memkeepd started with `flags`.
fn run_cases(flags: &[&str], cases: &[Case]) {
    let mut failures = Vec::new();
    for server in [Server::memcached(flags), Server::memkeepd(flags)] {
        for case in cases {
            if let Err(e) = check(&mut server.connect(), case, false, server.name) {
                failures.push(format!("{flags:?} {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn disable_cas_answers_as_memcached() {
    run_cases(&["-C"], switches::NO_CAS);
}

#[test]
fn disable_flush_all_answers_as_memcached() {
    run_cases(&["-F"], switches::NO_FLUSH);
}

#[test]
fn disable_dumping_answers_as_memcached() {
    run_cases(&["-X"], switches::NO_DUMPING);
    run_cases(&["--disable-dumping"], switches::NO_DUMPING);
}

#[test]
fn disable_watch_answers_as_memcached() {
    run_cases(&["-W"], switches::NO_WATCH);
    run_cases(&["--disable-watch"], switches::NO_WATCH);
}

#[test]
fn prefix_delimiter_answers_as_memcached() {
    run_cases(&["-D", "/"], switches::SLASH_DELIMITER);
}

#[test]
fn ascii_binding_reads_binary_bytes_as_text() {
    run_cases(&["-B", "ascii"], switches::ASCII_ONLY);
}

#[test]
fn binary_binding_closes_a_text_connection_without_a_word() {
    run_cases(&["-B", "binary"], switches::BINARY_ONLY);
    for server in [
        Server::memcached(&["-B", "binary"]),
        Server::memkeepd(&["-B", "binary"]),
    ] {
        // A whole header's worth of text: memcached looks at the magic byte then.
        let mut c = server.connect();
        c.write_all(b"get some_key_to_fill\r\nmn\r\n").unwrap();
        let (got, closed) = read_until(&mut c, Duration::from_secs(5), |_| false);
        assert_eq!(
            (got.as_slice(), closed),
            (&b""[..], true),
            "{}",
            server.name
        );
    }
}

#[test]
fn dash_x_with_a_port_is_still_the_replication_port() {
    let repl = free_port();
    let primary = Server::memkeepd(&["-X", &repl.to_string()]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", repl)).is_ok());
    // Dumping stays allowed: -X PORT is repcached's flag, not memcached's -X.
    let mut c = primary.connect();
    c.write_all(b"lru_crawler metadump all\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    assert_eq!(got, b"END\r\n");
}

/// Runs `openssl` in `dir`.
fn openssl(dir: &Scratch, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// Copies a PEM file under another label.
fn relabel(dir: &Scratch, from: &str, to: &str, label: (&str, &str)) {
    let text = std::fs::read_to_string(dir.0.join(from)).unwrap();
    let text = text
        .replace(&format!("BEGIN {}", label.0), &format!("BEGIN {}", label.1))
        .replace(&format!("END {}", label.0), &format!("END {}", label.1));
    std::fs::write(dir.0.join(to), text).unwrap();
}

/// Whether a TLS handshake with the server on `port` completes, checked by
/// `openssl s_client` against the self-signed certificate `cert`.
fn handshake(port: u16, cert: &std::path::Path) -> bool {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
        ])
        .arg(cert)
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    out.status.success()
        && String::from_utf8_lossy(&out.stdout).contains("Verify return code: 0 (ok)")
}

/// Keys as `openssl` writes them, including a PKCS#8 key under the "RSA PRIVATE KEY"
/// or "EC PRIVATE KEY" label, which OpenSSL (and so memcached -Z) reads: memkeepd
/// starts where memcached starts, and serves TLS with the key.
#[test]
fn openssl_keys_are_read_as_memcached_reads_them() {
    let dir = Scratch::new("keys");
    let cert = |key: &str, out: &str| {
        openssl(
            &dir,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                key,
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-days",
                "1",
                "-out",
                out,
            ],
        )
    };
    openssl(&dir, &["genpkey", "-algorithm", "RSA", "-out", "rsa8.pem"]);
    openssl(
        &dir,
        &["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"],
    );
    cert("rsa8.pem", "rsa.crt");
    relabel(
        &dir,
        "rsa8.pem",
        "rsa8_as_rsa.pem",
        ("PRIVATE KEY", "RSA PRIVATE KEY"),
    );
    relabel(
        &dir,
        "rsa1.pem",
        "rsa1_as_p8.pem",
        ("RSA PRIVATE KEY", "PRIVATE KEY"),
    );
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec8.pem",
        ],
    );
    openssl(&dir, &["ec", "-in", "ec8.pem", "-out", "ec1.pem"]);
    cert("ec8.pem", "ec.crt");
    relabel(
        &dir,
        "ec8.pem",
        "ec8_as_ec.pem",
        ("PRIVATE KEY", "EC PRIVATE KEY"),
    );
    // (certificate, key, whether OpenSSL reads it)
    for (crt, key, readable) in [
        ("rsa.crt", "rsa8.pem", true),
        ("rsa.crt", "rsa1.pem", true),
        ("rsa.crt", "rsa8_as_rsa.pem", true),
        ("rsa.crt", "rsa1_as_p8.pem", false),
        ("ec.crt", "ec8.pem", true),
        ("ec.crt", "ec1.pem", true),
        ("ec.crt", "ec8_as_ec.pem", true),
    ] {
        let flags = [
            "-Z".to_owned(),
            "-o".to_owned(),
            format!(
                "ssl_chain_cert={},ssl_key={}",
                dir.0.join(crt).display(),
                dir.0.join(key).display()
            ),
        ];
        assert_eq!(
            starts("memcached", &flags).is_ok(),
            readable,
            "memcached {key}"
        );
        let ours = starts(memkeepd(), &flags);
        assert_eq!(ours.is_ok(), readable, "memkeepd {key}: {ours:?}");
        if readable {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let server = Server::memkeepd(&flags);
            assert!(handshake(server.port, &dir.0.join(crt)), "TLS with {key}");
        } else {
            assert!(
                ours.unwrap_err().contains(key),
                "the error names the key file"
            );
        }
    }
}

/// SIGUSR1 is memcached's graceful stop, the one that saves `-e`'s memory file:
/// memkeepd drains and exits 0 on it too, rather than dying of the signal, and saves
/// its snapshot there (memcached writes its metadata beside the file, FILE.meta).
#[test]
fn sigusr1_stops_gracefully_and_saves_the_memory_file_as_in_memcached() {
    let scratch = Scratch::new("sigusr1");
    for (name, saved) in [("memcached", "memfile.meta"), ("memkeepd", "memfile")] {
        let file = scratch.0.join(format!("{name}-memfile"));
        let flags = ["-e", file.to_str().unwrap()];
        let mut server = if name == "memcached" {
            Server::memcached(&flags)
        } else {
            Server::memkeepd(&flags)
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.pid() as i32),
            nix::sys::signal::SIGUSR1,
        )
        .unwrap();
        let status = server.wait_exit(Duration::from_secs(10));
        assert!(status.is_some_and(|s| s.success()), "{name}: {status:?}");
        let saved = scratch.0.join(format!("{name}-{saved}"));
        assert!(saved.exists(), "{name}: no {}", saved.display());
    }
}
