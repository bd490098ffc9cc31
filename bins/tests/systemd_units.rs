//! The systemd units in contrib/systemd, run as systemd would run them: their
//! ExecStart (and ExecStartPre) command lines, read from the unit files, with the
//! extra flags their README tells operators to put in the environment file, and with
//! the notify socket and watchdog timeout systemd gives a `Type=notify` unit.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::notify::NotifySocket;
use support::{free_port, read_until};

/// Generous bound on anything these tests wait for.
const LIMIT: Duration = Duration::from_secs(20);

fn contrib() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(contrib().join(name)).unwrap()
}

/// The command line of `key` (`ExecStart`, `ExecStartPre`) in `unit`, as systemd
/// splits it: the binary under /usr/local/bin replaced by the one built here, and
/// `$VAR` (unbraced, so split on whitespace) replaced by `env`'s words.
fn command_line(unit: &str, key: &str, var: &str, env: &str) -> Vec<String> {
    let line = read(unit)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{unit} has no {key}"));
    let mut words = Vec::new();
    for word in line.split_whitespace() {
        match word {
            "/usr/local/bin/memkeepd" => words.push(env!("CARGO_BIN_EXE_memkeepd").to_owned()),
            "/usr/local/bin/memkeep-proxy" => {
                words.push(env!("CARGO_BIN_EXE_memkeep-proxy").to_owned())
            }
            w if w == format!("${var}") => words.extend(env.split_whitespace().map(String::from)),
            w => words.push(w.to_owned()),
        }
    }
    words
}

/// The `MEMKEEPD_OPTS` example the README gives.
fn readme_opts() -> String {
    let readme = read("README.md");
    let at = readme
        .find("MEMKEEPD_OPTS=\"")
        .expect("the README shows MEMKEEPD_OPTS")
        + 15;
    readme[at..].split('"').next().unwrap().to_owned()
}

/// The value of `key=` in `unit`.
fn setting(unit: &str, key: &str) -> Option<String> {
    read(unit)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// `WATCHDOG_USEC` as systemd sets it from the unit's `WatchdogSec=` (whole seconds,
/// `10s` or `10`, the only form the units use).
fn watchdog_usec(unit: &str) -> u64 {
    let value = setting(unit, "WatchdogSec").unwrap_or_else(|| panic!("{unit}: no WatchdogSec"));
    let seconds: u64 = value
        .strip_suffix('s')
        .unwrap_or(&value)
        .parse()
        .unwrap_or_else(|_| panic!("{unit}: WatchdogSec={value}"));
    seconds * 1_000_000
}

/// Starts `unit`'s command line as systemd starts a `Type=notify` unit: with
/// `NOTIFY_SOCKET` naming `socket` and the unit's watchdog timeout.
fn spawn(unit: &str, words: &[String], socket: &NotifySocket) -> std::process::Child {
    Command::new(&words[0])
        .args(&words[1..])
        .env_remove("RUST_LOG")
        .env_remove("WATCHDOG_PID")
        .env("NOTIFY_SOCKET", &socket.address)
        .env("WATCHDOG_USEC", watchdog_usec(unit).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for READY=1, the first message a unit sends.
fn wait_ready(socket: &NotifySocket, words: &[String]) {
    let got = socket
        .until(LIMIT, |m| m.starts_with("READY=1"))
        .unwrap_or_else(|got| panic!("{words:?}: no READY=1: {got:?}"));
    assert_eq!(got.len(), 1, "{got:?}");
}

/// SIGTERM: STOPPING=1, then exit 0.
fn stop(mut child: std::process::Child, socket: &NotifySocket) -> String {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let got = socket.until(LIMIT, |m| m.starts_with("STOPPING=1"));
    assert!(got.is_ok(), "no STOPPING=1: {got:?}");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(status.success(), "SIGTERM: exit 0 ({stderr})");
    stderr
}

#[test]
fn units_point_at_no_invented_address() {
    for name in ["memkeepd.service", "memkeep-proxy.service", "README.md"] {
        let text = read(name);
        assert!(!text.contains("example.invalid"), "{name}");
        for line in text.lines().filter(|l| l.starts_with("Documentation=")) {
            assert!(
                !line.contains("://"),
                "{name}: {line} is not a published page"
            );
        }
    }
}

/// The README's advice (`MEMKEEPD_OPTS="-m 1024"`, more `-l` addresses) on top of the
/// unit's own `-m 64 -l 127.0.0.1`: memkeepd takes the last `-m` and every `-l`,
/// where it used to refuse the repeated flag and restart in a loop.
#[test]
fn memkeepd_unit_takes_the_environment_files_flags_over_its_own() {
    let (port, admin) = (free_port(), free_port());
    let opts = format!(
        "{} -l 127.0.0.2 -p {port} --admin 127.0.0.1:{admin}",
        readme_opts()
    );
    assert!(opts.contains("-m 1024"), "{opts}");
    let words = command_line("memkeepd.service", "ExecStart", "MEMKEEPD_OPTS", &opts);
    let socket = NotifySocket::at_path();
    let child = spawn("memkeepd.service", &words, &socket);
    wait_ready(&socket, &words);
    for host in ["127.0.0.1", "127.0.0.2"] {
        let mut c = std::net::TcpStream::connect((host, port)).unwrap();
        c.write_all(b"stats settings\r\n").unwrap();
        let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
        let got = String::from_utf8_lossy(&got);
        assert!(got.contains("STAT maxbytes 1073741824\r\n"), "{got}");
        assert!(got.contains("STAT inter 127.0.0.1,127.0.0.2\r\n"), "{got}");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok());
    // One keep-alive at the unit's own period (half its WatchdogSec).
    let got = socket.until(LIMIT, |m| m == "WATCHDOG=1\n");
    assert!(got.is_ok(), "no keep-alive: {got:?}");
    stop(child, &socket);
}

/// A refused command line exits 64, which the unit does not restart.
#[test]
fn memkeepd_unit_does_not_restart_a_refused_command_line() {
    assert!(read("memkeepd.service")
        .lines()
        .any(|l| l == "RestartPreventExitStatus=64"));
    let opts = format!("-p {} -I 256m", free_port());
    let words = command_line("memkeepd.service", "ExecStart", "MEMKEEPD_OPTS", &opts);
    let out = Command::new(&words[0]).args(&words[1..]).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}

#[test]
fn proxy_unit_checks_then_runs_with_the_environment_files_flags() {
    let dir = std::env::temp_dir().join(format!("memkeep-units-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, stats, admin) = (free_port(), free_port(), free_port());
    let yml = dir.join("nutcracker.yml");
    std::fs::write(
        &yml,
        format!("alpha:\n  listen: 127.0.0.1:{port}\n  servers:\n    - 127.0.0.1:11211:1\n"),
    )
    .unwrap();
    let with_file = |words: Vec<String>| -> Vec<String> {
        words
            .into_iter()
            .map(|w| w.replace("/etc/memkeep/nutcracker.yml", &yml.display().to_string()))
            .collect()
    };
    let opts = format!("-s {stats} --admin 127.0.0.1:{admin}");
    let check = with_file(command_line(
        "memkeep-proxy.service",
        "ExecStartPre",
        "MEMKEEP_PROXY_OPTS",
        &opts,
    ));
    let out = Command::new(&check[0]).args(&check[1..]).output().unwrap();
    assert!(out.status.success(), "{check:?}: {out:?}");
    let start = with_file(command_line(
        "memkeep-proxy.service",
        "ExecStart",
        "MEMKEEP_PROXY_OPTS",
        &opts,
    ));
    let socket = NotifySocket::abstract_name();
    let child = spawn("memkeep-proxy.service", &start, &socket);
    wait_ready(&socket, &start);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(std::net::TcpStream::connect(("127.0.0.1", stats)).is_ok());
    assert!(std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok());
    stop(child, &socket);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Both units are `Type=notify` with a watchdog, restart on failure (a watchdog
/// timeout included), and only their main process may notify.
#[test]
fn units_are_notify_services_with_a_watchdog() {
    for unit in ["memkeepd.service", "memkeep-proxy.service"] {
        for (key, value) in [
            ("Type", "notify"),
            ("NotifyAccess", "main"),
            ("Restart", "on-failure"),
        ] {
            assert_eq!(setting(unit, key).as_deref(), Some(value), "{unit}: {key}");
        }
        assert!(
            watchdog_usec(unit) >= 2_000_000,
            "{unit}: WatchdogSec too short"
        );
    }
}

/// systemd's own checker accepts both units, pointed at the binaries built here
/// (`systemd-analyze`, from Debian's `systemd`).
#[test]
fn systemd_analyze_verifies_the_units() {
    let dir = std::env::temp_dir().join(format!("memkeep-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_memkeepd"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut units = Vec::new();
    for unit in ["memkeepd.service", "memkeep-proxy.service"] {
        let path = dir.join(unit);
        std::fs::write(&path, read(unit).replace("/usr/local/bin", &built)).unwrap();
        units.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
