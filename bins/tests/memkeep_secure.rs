//! `memkeep` against servers that want TLS and a login: memkeepd `-Z` requiring
//! client certificates with `-Y`, memkeepd and stock memcached with `-S` (SASL
//! PLAIN), memkeep-proxy with a TLS listener and an auth file. Every subcommand that
//! connects (stats, check, dump, load, bench) takes the same flags; the password
//! comes from a flag, a file or MEMKEEP_AUTH; every failure is told in words that
//! name the flag that fixes it, never as a rustls variant. Certificates are made at
//! run time (rcgen, and `openssl req -x509` as operators make self-signed ones).

#[path = "memkeep_secure/certificate_words.rs"]
mod certificate_words;
#[path = "memkeep_secure/certs.rs"]
mod certs;
#[path = "proxy/harness.rs"]
mod harness;
#[path = "security/pki.rs"]
mod pki;
#[path = "memkeep_secure/sasl.rs"]
mod sasl;
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use certs::{Authority, Leaf};
use pki::TempDir;
use support::Server;

/// What a run of memkeep printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Everything it printed.
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn memkeep(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(args)
        .env_remove("MEMKEEP_AUTH")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `args` then `extra`, as one argument list.
fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(extra).copied().collect()
}

/// A CA `ca.crt`, a server certificate `server.{crt,key}` and a client certificate
/// `client.{crt,key}` for 127.0.0.1, the server's users and the operator's auth file.
fn setup() -> (TempDir, Authority) {
    let dir = TempDir::new();
    let ca = Authority::new("memkeep test CA", &dir.file("ca.crt"));
    for stem in ["server", "client"] {
        ca.issue(
            &dir.0,
            stem,
            Leaf {
                names: &["127.0.0.1", "localhost"],
                expires: None,
            },
        );
    }
    std::fs::write(dir.file("users"), "alice:secret\nbob:hunter2\n").unwrap();
    std::fs::write(dir.file("ops.auth"), "# memkeep's login\nalice:secret\n").unwrap();
    (dir, ca)
}

/// memkeepd's flags: TLS with `cert` (`<cert>.crt` and `.key`), client certificates
/// from the CA required, and `-Y users`.
fn locked_down(dir: &TempDir, cert: &str) -> Vec<String> {
    vec![
        "-Z".into(),
        "-o".into(),
        format!(
            "ssl_chain_cert={},ssl_key={},ssl_ca_cert={},ssl_verify_mode=2",
            dir.arg(&format!("{cert}.crt")),
            dir.arg(&format!("{cert}.key")),
            dir.arg("ca.crt")
        ),
        "-Y".into(),
        dir.arg("users"),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The connection flags for a server made with [`locked_down`].
fn client_flags(dir: &TempDir) -> Vec<String> {
    [
        ("--tls-ca", "ca.crt"),
        ("--tls-cert", "client.crt"),
        ("--tls-key", "client.key"),
        ("--auth-file", "ops.auth"),
    ]
    .iter()
    .flat_map(|(flag, file)| [flag.to_string(), dir.arg(file)])
    .collect()
}

fn bench_report(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}", run.text());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.text()))
}

#[test]
fn every_command_speaks_tls_with_a_client_certificate_and_logs_in() {
    let (dir, _ca) = setup();
    let source = Server::memkeepd(&strs(&locked_down(&dir, "server")));
    let target = Server::memkeepd(&strs(&locked_down(&dir, "server")));
    let flags = client_flags(&dir);
    let flags = strs(&flags);
    let (source_addr, target_addr) = (source.addr(), target.addr());

    let run = memkeep(&with(&["stats", &source_addr, &target_addr], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert_eq!(
        run.stdout.lines().filter(|l| l.contains(" up ")).count(),
        2,
        "{}",
        run.text()
    );
    let run = memkeep(&with(&["check", &source_addr], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stdout.starts_with("MEMKEEP OK - "), "{}", run.text());

    // bench: preload 300 items, then a measured run in each dialect (binary after
    // an ASCII login: memkeepd opens every dialect with one login).
    let report = bench_report(&memkeep(
        &with(
            &["bench", "--json", "--no-progress", "-s", &source_addr],
            &with(&["--keys", "300", "--preload-only"], &flags),
        ),
        &[],
    ));
    assert_eq!(report["preload"]["items"], 300, "{report}");
    assert_eq!(report["preload"]["errors"], 0, "{report}");
    for protocol in ["text", "meta", "binary"] {
        let report = bench_report(&memkeep(
            &with(
                &["bench", "--json", "--no-progress", "-s", &source_addr],
                &with(&["-P", protocol, "--keys", "300", "-n", "2000"], &flags),
            ),
            &[],
        ));
        assert_eq!(report["requests"], 2000, "{protocol}: {report}");
        assert_eq!(report["errors"], 0, "{protocol}: {report}");
        assert_eq!(report["workload"]["tls"], true, "{report}");
        assert_eq!(report["hit_ratio"], 1.0, "{protocol}: {report}");
    }

    // dump one, load into the other, dump that: the same 300 items.
    let dump = dir.arg("source.dump");
    let run = memkeep(&with(&["dump", &source_addr, "-o", &dump], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stderr.contains("dumped 300 items"), "{}", run.text());
    let run = memkeep(&with(&["load", &target_addr, "-i", &dump], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stderr.contains("loaded 300 items"), "{}", run.text());
    let run = memkeep(&with(&["dump", &target_addr], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(run.stdout.ends_with("# end items=300\n"), "{}", run.stderr);
}

#[test]
fn the_password_comes_from_a_flag_a_file_or_the_environment() {
    let (dir, _ca) = setup();
    let server = Server::memkeepd(&["-Y", &dir.arg("users")]);
    let addr = server.addr();
    let up = |run: &Run| run.code == 0 && run.stdout.contains(" up ");

    let run = memkeep(&["stats", &addr], &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("requires a login")
            && run.stdout.contains("--auth-file FILE")
            && run.stdout.contains("MEMKEEP_AUTH"),
        "{}",
        run.text()
    );
    let run = memkeep(&["stats", &addr, "--auth", "bob:hunter2"], &[]);
    assert!(up(&run), "{}", run.text());
    let run = memkeep(&["stats", &addr, "--auth-file", &dir.arg("ops.auth")], &[]);
    assert!(up(&run), "{}", run.text());
    let run = memkeep(&["stats", &addr], &[("MEMKEEP_AUTH", "alice:secret")]);
    assert!(up(&run), "{}", run.text());
    // Stock memcached -Y takes the same login.
    let memcached = Server::memcached(&["-Y", &dir.arg("users")]);
    let run = memkeep(
        &["stats", &memcached.addr()],
        &[("MEMKEEP_AUTH", "alice:secret")],
    );
    assert!(up(&run) && run.stdout.contains("1.6"), "{}", run.text());
    // The flag wins over the environment.
    let run = memkeep(
        &["check", &addr, "--auth", "alice:nope"],
        &[("MEMKEEP_AUTH", "alice:secret")],
    );
    assert_eq!(run.code, 2, "{}", run.text());
    assert!(
        run.stdout
            .contains("refused the login as alice: wrong user or password"),
        "{}",
        run.text()
    );
    assert!(
        !run.text().contains("nope"),
        "the password is never printed"
    );
    let run = memkeep(&["stats", &addr, "--auth", "alice"], &[]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("user:password"), "{}", run.text());

    // A server that wants no login is never sent the password (memcached would
    // store it as an item).
    let open = Server::memkeepd(&[]);
    let run = memkeep(&["stats", &open.addr(), "--auth", "alice:secret"], &[]);
    assert!(up(&run), "{}", run.text());
    let mut conn = open.connect();
    let mut ask = |request: &[u8]| {
        conn.write_all(request).unwrap();
        let (got, _) = support::read_until(&mut conn, Duration::from_secs(5), |g| {
            g.ends_with(b"END\r\n")
        });
        String::from_utf8_lossy(&got).into_owned()
    };
    assert_eq!(ask(b"get memkeep-auth\r\n"), "END\r\n");
    let stats = ask(b"stats\r\n");
    assert!(stats.contains("STAT cmd_set 0\r\n"), "{stats}");
}

#[test]
fn every_subcommand_takes_the_same_connection_flags() {
    for subcommand in ["stats", "check", "dump", "load", "bench"] {
        let run = memkeep(&[subcommand, "--help"], &[]);
        assert_eq!(run.code, 0, "{}", run.text());
        for flag in [
            "--tls\n",
            "--tls-ca <FILE>",
            "--tls-cert <FILE>",
            "--tls-key <FILE>",
            "--tls-insecure",
            "--auth-file <FILE>",
            "--auth <USER:PASSWORD>",
            "--auth-mechanism <AUTH_MECHANISM>",
            "MEMKEEP_AUTH",
        ] {
            assert!(
                run.stdout.contains(flag),
                "{subcommand} --help lacks {flag}:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
fn the_proxy_listener_with_tls_client_certificates_and_logins() {
    let (dir, _ca) = setup();
    let backend = Server::memkeepd(&[]);
    let proxy = harness::Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            "[pools.alpha]\nservers = [\"{backend}:1\"]\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\npool = \"alpha\"\nauthfile = \"{users}\"\n\
             [listeners.tls]\ncert = \"{crt}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\n\
             verify_clients = \"required\"\n",
            backend = backend.addr(),
            users = dir.arg("users"),
            crt = dir.arg("server.crt"),
            key = dir.arg("server.key"),
            ca = dir.arg("ca.crt"),
        )
    });
    let addr = format!("127.0.0.1:{}", proxy.port);
    let flags = client_flags(&dir);
    let flags = strs(&flags);
    let run = memkeep(&with(&["stats", &addr], &flags), &[]);
    assert!(
        run.code == 0 && run.stdout.contains(" up "),
        "{}",
        run.text()
    );
    let run = memkeep(&with(&["check", &addr], &flags), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    let report = bench_report(&memkeep(
        &with(
            &["bench", "--json", "--no-progress", "-s", &addr],
            &with(&["--keys", "200", "--preload", "-n", "2000"], &flags),
        ),
        &[],
    ));
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["hit_ratio"], 1.0, "{report}");
    // Without a login the proxy refuses, and memkeep says what to pass.
    let run = memkeep(&with(&["stats", &addr], &flags[..6]), &[]);
    assert!(run.stdout.contains("requires a login"), "{}", run.text());
}
