//! `memkeep` against servers that want TLS and a login: memkeepd `-Z` requiring
//! client certificates with `-Y`, memkeepd and stock memcached with `-S` (SASL
//! PLAIN), memkeep-proxy with a TLS listener and an auth file. Every subcommand that
//! connects (stats, check, dump, load, bench) takes the same flags; the password
//! comes from a flag, a file or MEMKEEP_AUTH; every failure is told in words that
//! name the flag that fixes it, never as a rustls variant. Certificates are made at
//! run time (rcgen, and `openssl req -x509` as operators make self-signed ones).

#[path = "memkeep_secure/certs.rs"]
mod certs;
#[path = "proxy/harness.rs"]
mod harness;
#[path = "security/pki.rs"]
mod pki;
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use certs::{openssl_self_signed, Authority, Leaf};
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
fn sasl_logins_to_memkeepd_and_stock_memcached() {
    let (dir, _ca) = setup();
    // SASL users only (no -Y): text clients have no ASCII login.
    let port = support::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(["-S", "-l", "127.0.0.1", "-p", &port.to_string()])
        .env("MEMCACHED_SASL_PWDB", dir.file("users"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let _memkeepd = Child(child.id());
    assert!(support::wait_until_accepting(port, &mut child));
    let addr = format!("127.0.0.1:{port}");
    let auth = dir.arg("ops.auth");
    let run = memkeep(&["stats", &addr, "--auth-file", &auth], &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("does not take ASCII logins")
            && run.stdout.contains("--auth-mechanism sasl"),
        "{}",
        run.text()
    );
    let sasl = ["--auth-file", auth.as_str(), "--auth-mechanism", "sasl"];
    let run = memkeep(&with(&["stats", &addr], &sasl), &[]);
    assert!(
        run.code == 0 && run.stdout.contains(" up "),
        "{}",
        run.text()
    );
    let run = memkeep(
        &with(
            &["stats", &addr],
            &["--auth", "alice:nope", "--auth-mechanism", "sasl"],
        ),
        &[],
    );
    assert!(
        run.stdout.contains("refused the SASL PLAIN login as alice"),
        "{}",
        run.text()
    );
    for protocol in ["text", "binary"] {
        let report = bench_report(&memkeep(
            &with(
                &[
                    "bench",
                    "--json",
                    "--no-progress",
                    "-s",
                    &addr,
                    "-P",
                    protocol,
                ],
                &with(&["--keys", "100", "--preload", "-n", "1000"], &sasl),
            ),
            &[],
        ));
        assert_eq!(report["errors"], 0, "{protocol}: {report}");
        assert_eq!(report["requests"], 1000, "{protocol}: {report}");
    }

    // Stock memcached -S speaks binary only: the benchmark logs in with SASL.
    let memcached = memcached_with_sasl(&dir);
    let addr = format!("127.0.0.1:{}", memcached.1);
    let report = bench_report(&memkeep(
        &with(
            &[
                "bench",
                "--json",
                "--no-progress",
                "-s",
                &addr,
                "-P",
                "binary",
            ],
            &with(&["--keys", "100", "--preload", "-n", "1000"], &sasl),
        ),
        &[],
    ));
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["hit_ratio"], 1.0, "{report}");
}

/// A process killed when dropped.
struct Child(u32);

impl Drop for Child {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0 as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

/// Stock memcached `-S` with alice:secret in a sasldb made by `saslpasswd2`
/// (Debian sasl2-bin); the process and its port.
fn memcached_with_sasl(dir: &TempDir) -> (Child, u16) {
    let db = dir.file("sasldb");
    let mut saslpasswd2 = Command::new("saslpasswd2")
        .args(["-a", "memcached", "-c", "-p", "-f"])
        .arg(&db)
        .arg("alice")
        .stdin(Stdio::piped())
        .spawn()
        .expect("saslpasswd2 (Debian sasl2-bin)");
    saslpasswd2
        .stdin
        .take()
        .unwrap()
        .write_all(b"secret")
        .unwrap();
    assert!(saslpasswd2.wait().unwrap().success());
    std::fs::write(
        dir.file("memcached.conf"),
        format!("mech_list: plain\nsasldb_path: {}\n", db.display()),
    )
    .unwrap();
    let port = support::free_port();
    let mut command = Command::new("memcached");
    command.args(["-S", "-U", "0", "-l", "127.0.0.1", "-p", &port.to_string()]);
    if nix::unistd::Uid::effective().is_root() {
        command.args(["-u", "root"]);
    }
    // libsasl2 finds memcached.conf through the environment.
    let mut child = command
        .env("SASL_CONF_PATH", &dir.0)
        .stdin(Stdio::null())
        .spawn()
        .expect("memcached");
    let guard = Child(child.id());
    assert!(support::wait_until_accepting(port, &mut child));
    (guard, port)
}

#[test]
fn certificate_problems_are_told_in_words() {
    let (dir, ca) = setup();
    let other = Authority::new("another CA", &dir.file("other-ca.crt"));
    other.issue(
        &dir.0,
        "other-client",
        Leaf {
            names: &["127.0.0.1"],
            expires: None,
        },
    );
    for (stem, names, expires) in [
        ("wrong-name", &["cache.example"][..], None),
        ("expired", &["127.0.0.1"][..], Some((2021, 1, 1))),
    ] {
        ca.issue(&dir.0, stem, Leaf { names, expires });
    }
    openssl_self_signed(&dir.0, "self-ca", false);
    openssl_self_signed(&dir.0, "self-leaf", true);

    let server = |cert: &str| Server::memkeepd(&strs(&locked_down(&dir, cert)));
    let good = server("server");
    let [ca_file, other_ca, client, key, auth] = [
        "ca.crt",
        "other-ca.crt",
        "client.crt",
        "client.key",
        "ops.auth",
    ]
    .map(|f| dir.arg(f));
    let login = ["--auth-file", auth.as_str()];
    let full = with(
        &[
            "--tls-ca",
            &ca_file,
            "--tls-cert",
            &client,
            "--tls-key",
            &key,
        ],
        &login,
    );
    // (what, server, flags, words expected, rustls name that must not show)
    let cases: Vec<(&str, &Server, Vec<&str>, &str, &str)> = vec![
        (
            "a CA we do not trust",
            &good,
            with(
                &[
                    "--tls-ca",
                    &other_ca,
                    "--tls-cert",
                    &client,
                    "--tls-key",
                    &key,
                ],
                &login,
            ),
            "not signed by a CA we trust",
            "UnknownIssuer",
        ),
        (
            "no client certificate",
            &good,
            with(&["--tls-ca", &ca_file], &login),
            // The alert says so; should the connection be reset before it is
            // read, the words still name the flags.
            "client certificate: pass --tls-cert FILE and --tls-key FILE",
            "CertificateRequired",
        ),
        (
            "plain text to a TLS server",
            &good,
            login.to_vec(),
            "pass --tls",
            "\\x15",
        ),
    ];
    let wrong_name = server("wrong-name");
    let expired = server("expired");
    let self_signed_ca = {
        let flags = [
            "-Z".to_owned(),
            "-o".to_owned(),
            format!(
                "ssl_chain_cert={},ssl_key={}",
                dir.arg("self-ca.crt"),
                dir.arg("self-ca.key")
            ),
        ];
        Server::memkeepd(&strs(&flags))
    };
    let self_ca_file = dir.arg("self-ca.crt");
    let mut cases = cases;
    cases.extend([
        (
            "a certificate for another name",
            &wrong_name,
            full.clone(),
            "not made out for 127.0.0.1: it lists cache.example",
            "NotValidForName",
        ),
        (
            "an expired certificate",
            &expired,
            full.clone(),
            "the server's certificate expired",
            "Expired",
        ),
        (
            "a self-signed CA certificate as the server's",
            &self_signed_ca,
            vec!["--tls-ca", self_ca_file.as_str()],
            "is a CA certificate",
            "CaUsedAsEndEntity",
        ),
    ]);
    for (what, server, flags, words, variant) in &cases {
        let addr = server.addr();
        let run = memkeep(&with(&["stats", &addr], flags), &[]);
        assert_ne!(run.code, 0, "{what}");
        assert!(run.stdout.contains(words), "{what}: {}", run.text());
        assert!(!run.text().contains(variant), "{what}: {}", run.text());
        let run = memkeep(&with(&["check", &addr], flags), &[]);
        assert_eq!(run.code, 2, "{what}: {}", run.text());
        assert!(
            run.stdout.starts_with("MEMKEEP CRITICAL") && run.stdout.contains(words),
            "{what}: {}",
            run.text()
        );
        let run = memkeep(
            &with(&["bench", "--no-progress", "-s", &addr, "-n", "10"], flags),
            &[],
        );
        assert_ne!(run.code, 0, "{what}");
        assert!(run.stderr.contains(words), "{what}: {}", run.text());
        let run = memkeep(&with(&["dump", &addr], flags), &[]);
        assert!(
            run.code != 0 && run.stderr.contains(words),
            "{what}: {}",
            run.text()
        );
    }

    // The fixes the words give work: the right CA; a self-signed certificate without
    // CA:TRUE passed as its own CA.
    let run = memkeep(&with(&["stats", &good.addr()], &full), &[]);
    assert!(run.stdout.contains(" up "), "{}", run.text());
    let flags = [
        "-Z".to_owned(),
        "-o".to_owned(),
        format!(
            "ssl_chain_cert={},ssl_key={}",
            dir.arg("self-leaf.crt"),
            dir.arg("self-leaf.key")
        ),
    ];
    let self_signed = Server::memkeepd(&strs(&flags));
    let run = memkeep(
        &[
            "stats",
            &self_signed.addr(),
            "--tls-ca",
            &dir.arg("self-leaf.crt"),
        ],
        &[],
    );
    assert!(run.stdout.contains(" up "), "{}", run.text());
    // TLS to a plain server.
    let plain = Server::memkeepd(&[]);
    let run = memkeep(&["stats", &plain.addr(), "--tls-ca", &ca_file], &[]);
    assert!(run.stdout.contains("drop --tls"), "{}", run.text());
    // A client certificate from a CA the server does not trust.
    let run = memkeep(
        &with(
            &["stats", &good.addr(), "--tls-ca", &ca_file],
            &with(
                &["--tls-cert", &dir.arg("other-client.crt")],
                &["--tls-key", &dir.arg("other-client.key")],
            ),
        ),
        &[],
    );
    assert!(
        run.stdout.contains("refused our client certificate"),
        "{}",
        run.text()
    );
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
