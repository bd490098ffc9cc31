//! SASL PLAIN logins (`--auth-mechanism sasl`): memkeepd `-S` with its users from
//! MEMCACHED_SASL_PWDB, and stock memcached `-S` with a sasldb made by `saslpasswd2`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::pki::TempDir;
use crate::{bench_report, memkeep, setup, support, with};

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
