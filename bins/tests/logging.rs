//! Logs: nothing per request at the default level, field-style events with `-v`,
//! `RUST_LOG` over the flags.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, read_until, wait_until_accepting};

/// Runs memkeepd with `args` (and `RUST_LOG` if given), sends 100 requests, stops it
/// and returns what it wrote to standard error.
fn stderr_of(args: &[&str], rust_log: Option<&str>) -> String {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
    command
        .args(["-l", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().unwrap();
    assert!(wait_until_accepting(port, &mut child));
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    for i in 0..100 {
        c.write_all(format!("set k{i} 0 0 1\r\nx\r\nget k{i}\r\n").as_bytes())
            .unwrap();
    }
    let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| {
        g.windows(5).filter(|w| w == b"END\r\n").count() == 100
    });
    assert!(got.ends_with(b"END\r\n"));
    drop(c);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    err
}

#[test]
fn quiet_by_default_fields_with_v_and_rust_log_wins() {
    let quiet = stderr_of(&[], None);
    assert_eq!(
        quiet, "",
        "the default level logs nothing for normal traffic"
    );

    let info = stderr_of(&["-v"], None);
    assert!(
        info.lines()
            .any(|l| l.contains(" INFO memkeep_bins::memkeepd: listening addr=127.0.0.1:")),
        "{info}"
    );
    assert_eq!(
        info.lines().filter(|l| l.contains("listening")).count(),
        1,
        "one line per address, not per worker thread: {info}"
    );
    assert!(
        !info.contains('\x1b'),
        "no colour codes when not on a terminal"
    );
    assert!(
        info.lines().count() < 50,
        "no line per request at info: {info}"
    );

    let overridden = stderr_of(&["-v"], Some("error"));
    assert_eq!(overridden, "", "RUST_LOG=error silences -v");
}
