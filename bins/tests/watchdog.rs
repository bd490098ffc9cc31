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
/// A keep-alive, as sent (systemd ignores the newline).
const KEEP_ALIVE: &str = "WATCHDOG=1\n";
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
    /// Holds its standard error and the proxy's configuration file.
    dir: std::path::PathBuf,
}

impl Notifying {
    /// Starts `binary` on a reserved port with `NOTIFY_SOCKET` naming `socket` and
    /// the watchdog variables in `env`, none inherited from the test's own
    /// environment.
    fn start(binary: Binary, socket: NotifySocket, env: &[(&str, String)]) -> Notifying {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("memkeep-watchdog-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = match binary {
            Binary::Memkeepd => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
                command.args(["-l", "127.0.0.1", "-t", "2", "-p", &port.to_string()]);
                command
            }
            Binary::Proxy => {
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
                command
            }
        };
        command
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("NOTIFY_SOCKET", &socket.address)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
        let child = command.spawn().unwrap();
        Notifying {
            child,
            port,
            socket,
            dir,
        }
    }

    /// What it logged so far.
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
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
            lines.iter().any(|l| l.starts_with("STATUS=serving on ")
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
            assert_eq!(m, KEEP_ALIVE);
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
        assert!(before.iter().all(|m| m == KEEP_ALIVE), "{got:?}");
        assert!(
            stopping.lines().any(|l| l.starts_with("STATUS=")),
            "{stopping:?}"
        );
        let mut status = None;
        wait_for(LIMIT, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}: {}",
            self.stderr()
        );
        // Exited: whatever it sent is queued by now.
        assert_eq!(self.socket.queued(), Vec::<String>::new());
    }

    /// Whether SIGSTOP took effect on every thread (state `T` in /proc).
    fn all_stopped(&self) -> bool {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).unwrap();
        tasks.filter_map(Result::ok).all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            state.is_some_and(|s| s.starts_with('T'))
        })
    }
}

impl Drop for Notifying {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
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
    assert!(wait_for(LIMIT, || server.all_stopped()), "{binary:?}");
    // Sent before it stopped.
    for message in server.socket.queued() {
        assert_eq!(message, KEEP_ALIVE);
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

/// A thread held still with ptrace; let go on drop.
struct Held(nix::unistd::Pid);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = nix::sys::ptrace::detach(self.0, None);
    }
}

/// A thread of process `pid` called `name` (Linux keeps a name's first 15 bytes).
fn thread_named(pid: i32, name: &str) -> nix::unistd::Pid {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let tid = tasks
        .filter_map(|task| {
            let task = task.ok()?.path();
            let comm = std::fs::read_to_string(task.join("comm")).ok()?;
            (comm.trim_end() == name).then(|| task.file_name()?.to_str()?.parse().ok())?
        })
        .next()
        .unwrap_or_else(|| panic!("no thread {name} in {pid}"));
    nix::unistd::Pid::from_raw(tid)
}

/// One event loop wedged, the rest of the process running: the keep-alives stop
/// (the notifying thread says why in the log), and resume once the loop runs again.
/// The loop's thread is held still with ptrace, as a task that never yields would.
fn silent_while_one_loop_is_wedged(binary: Binary, thread: &str) {
    use nix::sys::ptrace;
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let server = Notifying::start(binary, NotifySocket::at_path(), &watchdog_env());
    server.wait_ready();
    server.wait_keep_alives(1);
    let tid = thread_named(server.pid(), thread);
    assert!(
        !server.stderr().contains("no WATCHDOG=1"),
        "{}",
        server.stderr()
    );
    ptrace::seize(tid, ptrace::Options::empty()).unwrap();
    // Declared after `server`, so dropped before it: a killed process whose thread
    // is still traced is not reaped until the tracer lets go, and the test would hang.
    let held = Held(tid);
    ptrace::interrupt(tid).unwrap();
    let stop = waitpid(tid, Some(WaitPidFlag::__WALL)).unwrap();
    assert!(
        matches!(stop, WaitStatus::PtraceEvent(..) | WaitStatus::Stopped(..)),
        "{stop:?}"
    );
    // The loop may have beaten since the last keep-alive, just before it was held:
    // that period is vouched for and its keep-alive may still come. Then silence.
    let mut late = Vec::new();
    let silent = wait_for(LIMIT, || match server.socket.next(SILENCE) {
        Some(message) => {
            late.push(message);
            false
        }
        None => true,
    });
    assert!(
        silent,
        "{binary:?}: keep-alives while {thread} is wedged: {late:?}"
    );
    assert!(late.iter().all(|m| m == KEEP_ALIVE), "{late:?}");
    // The rest of the process runs: the notifying thread says why it is silent.
    assert!(
        wait_for(LIMIT, || server.stderr().contains("no WATCHDOG=1")),
        "{binary:?}: {}",
        server.stderr()
    );
    drop(held);
    server.wait_keep_alives(3);
    server.stop();
}

#[test]
fn memkeepd_keep_alives_stop_when_one_worker_is_wedged() {
    // "memkeepd-worker-N", cut short: whichever worker comes first.
    silent_while_one_loop_is_wedged(Binary::Memkeepd, "memkeepd-worker");
}

#[test]
fn proxy_keep_alives_stop_when_its_event_loop_is_wedged() {
    // One runtime thread by default: the main one.
    silent_while_one_loop_is_wedged(Binary::Proxy, "memkeep-proxy");
}
