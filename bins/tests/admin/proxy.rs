//! memkeep-proxy with `--admin`, over a nutcracker.yml written to a temporary
//! directory; killed on drop.

use std::process::{Child, Command, Stdio};

use crate::support::{free_port, spawn_listening};

/// A running memkeep-proxy with its admin listener.
pub struct AdminProxy {
    child: Child,
    /// The pool's port.
    pub port: u16,
    /// The admin listener's port.
    pub admin: u16,
    dir: std::path::PathBuf,
}

impl AdminProxy {
    /// One pool `alpha` over `servers` (`host:port name`), with extra pool lines.
    pub fn start(servers: &[String], extra: &str) -> AdminProxy {
        let dir = std::env::temp_dir().join(format!(
            "memkeep-admin-proxy-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (port, admin) = (free_port(), free_port());
        let mut yml = format!(
            "alpha:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n"
        );
        for line in extra.lines().filter(|l| !l.trim().is_empty()) {
            yml.push_str(&format!("  {}\n", line.trim()));
        }
        yml.push_str("  servers:\n");
        for s in servers {
            let (addr, name) = s.split_once(' ').unwrap_or((s, ""));
            yml.push_str(&format!("   - {addr}:1 {name}\n"));
        }
        let path = dir.join("nutcracker.yml");
        std::fs::write(&path, yml).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"));
        command
            .arg("-c")
            .arg(&path)
            .args(["--admin", &format!("127.0.0.1:{admin}")])
            // The stats port is on by default with -c (22222): one per proxy.
            .args(["-s", &free_port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // Its admin listener is bound before the port file is written.
        let child = spawn_listening(&mut command, port);
        AdminProxy {
            child,
            port,
            admin,
            dir,
        }
    }

    /// A new client connection.
    pub fn connect(&self) -> std::net::TcpStream {
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }
}

impl Drop for AdminProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
