//! systemd's notify protocol (sd_notify(3)) without libsystemd: `KEY=value` lines in
//! one datagram to the Unix socket `$NOTIFY_SOCKET` names (a path, or an abstract
//! name written `@name`). With the variable unset nothing is sent at all.

use std::ffi::OsStr;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::{debug, warn};

/// Where systemd listens for this process's notifications, and whether it expects
/// watchdog keep-alives.
#[derive(Clone, Debug)]
pub struct Notifier {
    socket: SocketAddr,
    /// `$WATCHDOG_USEC` when it is meant for this process: systemd kills it when no
    /// keep-alive arrives for that long.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` describe;
    /// `None` when `$NOTIFY_SOCKET` is unset, or unusable (then with a warning).
    pub fn from_env() -> Option<Notifier> {
        let socket = std::env::var_os("NOTIFY_SOCKET")?;
        let socket = match socket_address(&socket) {
            Ok(socket) => socket,
            Err(e) => {
                warn!(error = %e, "NOTIFY_SOCKET ignored");
                return None;
            }
        };
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        let watchdog = watchdog_timeout(usec.as_deref(), pid.as_deref(), std::process::id())
            .unwrap_or_else(|e| {
                warn!(error = %e, "watchdog off");
                None
            });
        Some(Notifier { socket, watchdog })
    }

    /// How often to send keep-alives: half the watchdog timeout, as sd_watchdog_enabled(3)
    /// advises, so one late keep-alive is not a restart. `None` without a watchdog.
    pub fn keep_alive_period(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    /// READY=1: every listener is bound and served.
    pub fn ready(&self, status: &str) {
        self.send_or_warn(&ready_message(std::process::id(), status));
    }

    /// STOPPING=1: draining after SIGTERM, SIGINT or `shutdown`.
    pub fn stopping(&self, status: &str) {
        self.send_or_warn(&stopping_message(status));
    }

    /// WATCHDOG=1. A failure is logged at debug level only: it repeats every period.
    pub fn keep_alive(&self) {
        if let Err(e) = self.send(KEEP_ALIVE) {
            debug!(error = %e, "cannot send WATCHDOG=1 to NOTIFY_SOCKET");
        }
    }

    fn send_or_warn(&self, message: &str) {
        if let Err(e) = self.send(message) {
            warn!(error = %e, message, "cannot notify NOTIFY_SOCKET");
        }
    }

    /// A fresh unbound socket per message, as sd_notify does: nothing stays open
    /// between the rare messages.
    fn send(&self, message: &str) -> std::io::Result<()> {
        UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), &self.socket)?;
        Ok(())
    }
}

// Each message ends with a newline, as systemd-notify's do: systemd ignores it, and
// a listener that prints datagrams as they come (socat) prints one line each.

/// The keep-alive datagram.
const KEEP_ALIVE: &str = "WATCHDOG=1\n";

fn ready_message(pid: u32, status: &str) -> String {
    format!("READY=1\nMAINPID={pid}\nSTATUS={}\n", one_line(status))
}

fn stopping_message(status: &str) -> String {
    format!("STOPPING=1\nSTATUS={}\n", one_line(status))
}

/// A newline would end the STATUS= value and start a bogus assignment.
fn one_line(status: &str) -> String {
    status.replace(['\n', '\r'], " ")
}

/// `$NOTIFY_SOCKET` as an address: an absolute path, or `@name` for the abstract
/// namespace.
fn socket_address(value: &OsStr) -> Result<SocketAddr, String> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    let bytes = value.as_bytes();
    let address = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]),
        Some(b'/') => SocketAddr::from_pathname(value),
        _ => {
            return Err(format!(
                "{}: neither an absolute path nor an @abstract name",
                value.to_string_lossy()
            ))
        }
    };
    address.map_err(|e| format!("{}: {e}", value.to_string_lossy()))
}

/// The watchdog timeout systemd set, if it is meant for process `pid`: `$WATCHDOG_PID`
/// absent (set for whoever reads it) or naming `pid` (a child started by the service
/// inherits the variables but is not the one watched).
fn watchdog_timeout(
    usec: Option<&str>,
    watched_pid: Option<&str>,
    pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else {
        return Ok(None);
    };
    let usec: u64 = usec
        .parse()
        .map_err(|_| format!("WATCHDOG_USEC={usec} is not a number of microseconds"))?;
    if usec == 0 {
        return Err("WATCHDOG_USEC=0".into());
    }
    if let Some(watched) = watched_pid {
        let watched: u32 = watched
            .parse()
            .map_err(|_| format!("WATCHDOG_PID={watched} is not a process id"))?;
        if watched != pid {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(usec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_names_the_main_pid_and_a_one_line_status() {
        assert_eq!(
            ready_message(4242, "serving on 127.0.0.1:11211"),
            "READY=1\nMAINPID=4242\nSTATUS=serving on 127.0.0.1:11211\n"
        );
        assert_eq!(
            ready_message(1, "a\nb\r\nc"),
            "READY=1\nMAINPID=1\nSTATUS=a b  c\n"
        );
    }

    #[test]
    fn stopping_says_so_with_a_status() {
        assert_eq!(
            stopping_message("draining"),
            "STOPPING=1\nSTATUS=draining\n"
        );
        assert_eq!(KEEP_ALIVE, "WATCHDOG=1\n");
    }

    #[test]
    fn socket_is_a_path_or_an_abstract_name() {
        use std::os::linux::net::SocketAddrExt;
        let path = socket_address(OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let abstract_name = socket_address(OsStr::new("@memkeep/notify")).unwrap();
        assert_eq!(
            abstract_name.as_abstract_name(),
            Some(&b"memkeep/notify"[..])
        );
        assert!(abstract_name.as_pathname().is_none());
        for bad in ["", "relative/notify", "vsock:2:1234"] {
            assert!(socket_address(OsStr::new(bad)).is_err(), "{bad:?}");
        }
        // Longer than sun_path holds.
        let long = format!("/{}", "x".repeat(200));
        assert!(socket_address(OsStr::new(&long)).is_err());
    }

    #[test]
    fn watchdog_timeout_is_for_the_watched_pid_only() {
        let ten_seconds = Some(Duration::from_secs(10));
        assert_eq!(watchdog_timeout(None, None, 7), Ok(None));
        assert_eq!(watchdog_timeout(None, Some("7"), 7), Ok(None));
        assert_eq!(watchdog_timeout(Some("10000000"), None, 7), Ok(ten_seconds));
        assert_eq!(
            watchdog_timeout(Some("10000000"), Some("7"), 7),
            Ok(ten_seconds)
        );
        assert_eq!(watchdog_timeout(Some("10000000"), Some("8"), 7), Ok(None));
        assert!(watchdog_timeout(Some("0"), None, 7).is_err());
        assert!(watchdog_timeout(Some("ten"), None, 7).is_err());
        assert!(watchdog_timeout(Some("-5"), None, 7).is_err());
        assert!(watchdog_timeout(Some("10000000"), Some("me"), 7).is_err());
    }

    #[test]
    fn keep_alives_go_at_half_the_timeout() {
        let notifier = Notifier {
            socket: socket_address(OsStr::new("@unused")).unwrap(),
            watchdog: Some(Duration::from_secs(10)),
        };
        assert_eq!(notifier.keep_alive_period(), Some(Duration::from_secs(5)));
        let no_watchdog = Notifier {
            watchdog: None,
            ..notifier
        };
        assert_eq!(no_watchdog.keep_alive_period(), None);
    }

    #[test]
    fn messages_arrive_as_single_datagrams() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("memkeep-sd-notify-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let notifier = Notifier {
            socket: socket_address(OsStr::new(&format!("@{name}"))).unwrap(),
            watchdog: None,
        };
        notifier.ready("up");
        notifier.keep_alive();
        notifier.stopping("draining");
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..3 {
            let n = listener.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let pid = std::process::id();
        assert_eq!(
            got,
            [
                format!("READY=1\nMAINPID={pid}\nSTATUS=up\n"),
                "WATCHDOG=1\n".to_owned(),
                "STOPPING=1\nSTATUS=draining\n".to_owned(),
            ]
        );
    }
}
