//! The systemd units in contrib/systemd, run as systemd would run them: their
//! ExecStart (and ExecStartPre) command lines, read from the unit files, with the
//! extra flags their README tells operators to put in the environment file.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, read_until, wait_until_accepting};

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

fn spawn(words: &[String]) -> std::process::Child {
    Command::new(&words[0])
        .args(&words[1..])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(mut child: std::process::Child) -> String {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
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
    let mut child = spawn(&words);
    assert!(wait_until_accepting(port, &mut child), "{words:?}");
    for host in ["127.0.0.1", "127.0.0.2"] {
        let mut c = std::net::TcpStream::connect((host, port)).unwrap();
        c.write_all(b"stats settings\r\n").unwrap();
        let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
        let got = String::from_utf8_lossy(&got);
        assert!(got.contains("STAT maxbytes 1073741824\r\n"), "{got}");
        assert!(got.contains("STAT inter 127.0.0.1,127.0.0.2\r\n"), "{got}");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok());
    stop(child);
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
    let mut child = spawn(&start);
    assert!(wait_until_accepting(port, &mut child), "{start:?}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", stats)).is_ok());
    assert!(std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok());
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
