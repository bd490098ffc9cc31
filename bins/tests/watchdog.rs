//! systemd's notify protocol, as memkeepd and memkeep-proxy speak it to a socket
//! standing in for systemd's: READY=1 once the port answers, WATCHDOG=1 keep-alives
//! while the process runs (and none while it is stopped, which is how systemd tells
//! a hung process), STOPPING=1 on SIGTERM.

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use support::notify::NotifySocket;
use support::{free_port, read_until, wait_for};

/// systemd's watchdog timeout for the tests: keep-alives every 100 ms.
const WATCHDOG_USEC: &str = "200000";
/// Ten keep-alive periods: a process that is not stopped sends several in that time.
const SILENCE: Duration = Duration::from_secs(1);
/// Generous bound on anything the tests wait for.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum Binary {
    Memkeepd,
    Proxy,
}

/// A server started with a notify socket, killed on drop.
struct Notifying {
    child: Child,
    port: u16,
    socket: NotifySocket,
    /// The proxy's configuration file's directory.
    dir: Option<std::path::PathBuf>,
}

impl Notifying {
    /// Starts `binary` on a reserved port with `NOTIFY_SOCKET` naming `socket` and
    /// the watchdog variables in `env`, none inherited from the test's own
    /// environment.
    fn start(binary: Binary, socket: NotifySocket, env: &[(&str, String)]) -> Notifying {
        let port = free_port();
        let (mut command, dir) = match binary {
            Binary::Memkeepd => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
                command.args(["-l", "127.0.0.1", "-t", "2", "-p", &port.to_string()]);
                (command, None)
            }
            Binary::Proxy => {
                let dir = std::env::temp_dir().join(format!(
                    "memkeep-watchdog-{}-{port}",
                    std::process::id()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let yml = dir.join("nutcracker.yml");
                // The backend need not run: the proxy answers `version` itself.
                std::fs::write(
                    &yml,
                    format!(
                        "alpha:\n  listen: 127.0.0.1:{port}\n  servers:\n   - 127.0.0.1:{}:1\n",
                        free_port()
                    ),
                )
                .unwrap();
                let mut command = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"));
                command
                    .arg("-c")
                    .arg(&yml)
                    .args(["-s", &free_port().to_string()]);
                (command, Some(dir))
            }
        };
        command
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("NOTIFY_SOCKET", &socket.address)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().unwrap();
        Notifying {
            child,
            port,
            socket,
            dir,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
    }

    /// Waits for READY=1, which must be the first message, and checks what it says.
    fn wait_ready(&self) -> String {
        let got = self
            .socket
            .until(LIMIT, |m| m.starts_with("READY=1"))
            .unwrap_or_else(|got| panic!("no READY=1: {got:?}"));
        assert_eq!(got.len(), 1, "READY=1 comes first: {got:?}");
        let ready = got.into_iter().next().unwrap();
        let lines: Vec<&str> = ready.lines().collect();
        assert_eq!(lines[0], "READY=1", "{ready:?}");
        assert!(
            lines.contains(&format!("MAINPID={}", self.pid()).as_str()),
            "{ready:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("STATUS=serving on ")
                    && l.contains(&format!("127.0.0.1:{}", self.port))),
            "{ready:?}"
        );
        ready
    }

    /// `version`'s reply on a new connection.
    fn version(&self) -> String {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port))
            .expect("READY=1 means the port accepts");
        conn.write_all(b"version\r\n").unwrap();
        let (got, _) = read_until(&mut conn, LIMIT, |g| g.ends_with(b"\r\n"));
        String::from_utf8_lossy(&got).into_owned()
    }

    /// Waits for `n` keep-alives; anything else in between fails the test.
    fn wait_keep_alives(&self, n: usize) {
        let mut seen = 0;
        let got = self.socket.until(LIMIT, |m| {
            assert_eq!(m, "WATCHDOG=1");
            seen += 1;
            seen == n
        });
        assert!(got.is_ok(), "{n} keep-alives: {got:?}");
    }

    /// SIGTERM: STOPPING=1 (after keep-alives only), exit 0, and nothing after it.
    fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let got = self
            .socket
            .until(LIMIT, |m| m.starts_with("STOPPING=1"))
            .unwrap_or_else(|got| panic!("no STOPPING=1: {got:?}"));
        let (stopping, before) = got.split_last().unwrap();
        assert!(before.iter().all(|m| m == "WATCHDOG=1"), "{got:?}");
        assert!(stopping.lines().any(|l| l.starts_with("STATUS=")), "{stopping:?}");
        let mut status = None;
        wait_for(LIMIT, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
        // Exited: whatever it sent is queued by now.
        assert_eq!(self.socket.queued(), Vec::<String>::new());
    }

    /// The process's state letter in /proc (`T` once SIGSTOP took effect).
    fn state(&self) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = stat.rsplit_once(')').unwrap().1;
        after_name.trim_start().chars().next().unwrap()
    }
}

impl Drop for Notifying {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn watchdog_env() -> Vec<(&'static str, String)> {
    vec![("WATCHDOG_USEC", WATCHDOG_USEC.to_owned())]
}

fn ready_keep_alives_stopping(binary: Binary, socket: NotifySocket) {
    let server = Notifying::start(binary, socket, &watchdog_env());
    server.wait_ready();
    let version = server.version();
    assert!(version.starts_with("VERSION "), "{binary:?}: {version:?}");
    server.wait_keep_alives(5);
    server.stop();
}

#[test]
fn memkeepd_says_ready_keeps_alive_and_says_stopping() {
    ready_keep_alives_stopping(Binary::Memkeepd, NotifySocket::at_path());
}

#[test]
fn proxy_says_ready_keeps_alive_and_says_stopping() {
    // systemd's own socket is abstract on some systems: `@name`.
    ready_keep_alives_stopping(Binary::Proxy, NotifySocket::abstract_name());
}

/// A stopped process is a hung one as far as systemd can tell: no keep-alive comes
/// while it is stopped, and they resume when it continues.
fn silent_while_stopped(binary: Binary) {
    let server = Notifying::start(binary, NotifySocket::at_path(), &watchdog_env());
    server.wait_ready();
    server.wait_keep_alives(1);
    server.signal(Signal::SIGSTOP);
    assert!(wait_for(LIMIT, || server.state() == 'T'), "{binary:?}");
    // Sent before it stopped.
    for message in server.socket.queued() {
        assert_eq!(message, "WATCHDOG=1");
    }
    assert_eq!(
        server.socket.next(SILENCE),
        None,
        "{binary:?}: a keep-alive while stopped"
    );
    server.signal(Signal::SIGCONT);
    server.wait_keep_alives(3);
    server.stop();
}

#[test]
fn memkeepd_keep_alives_stop_while_it_is_stopped() {
    silent_while_stopped(Binary::Memkeepd);
}

#[test]
fn proxy_keep_alives_stop_while_it_is_stopped() {
    silent_while_stopped(Binary::Proxy);
}

/// Without WATCHDOG_USEC, or with WATCHDOG_PID naming another process (a child
/// inherits systemd's variables), READY=1 and STOPPING=1 only.
#[test]
fn no_keep_alives_unless_the_watchdog_is_for_this_process() {
    let other_pid = std::process::id().to_string();
    let cases = [
        (Binary::Memkeepd, vec![]),
        (
            Binary::Memkeepd,
            vec![
                ("WATCHDOG_USEC", WATCHDOG_USEC.to_owned()),
                ("WATCHDOG_PID", other_pid.clone()),
            ],
        ),
        (Binary::Proxy, vec![]),
        (
            Binary::Proxy,
            vec![
                ("WATCHDOG_USEC", WATCHDOG_USEC.to_owned()),
                ("WATCHDOG_PID", other_pid),
            ],
        ),
    ];
    for (binary, env) in cases {
        let server = Notifying::start(binary, NotifySocket::at_path(), &env);
        server.wait_ready();
        assert!(server.version().starts_with("VERSION "), "{binary:?}");
        assert_eq!(server.socket.next(SILENCE), None, "{binary:?} {env:?}");
        server.stop();
    }
}
