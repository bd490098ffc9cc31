//! Chaos under load. A replicated read-repair pool in memkeep-proxy (writes to both
//! replicas, policy all; reads with read-repair) over a repcached-style memkeepd
//! pair, every backend behind a fault-injecting relay, the pair's replication link
//! too. Client threads keep a ledger of acknowledged writes while one fault at a
//! time is injected and healed:
//!
//! kill -9 a backend and restart it; blackhole one; slow one by 200 ms; SIGSTOP one;
//! partition the pair's replication link; kill -9 each backend in turn (never both).
//!
//! For each: client errors, wrong values read (must be 0), acknowledged writes lost
//! after recovery (must be 0), deleted keys that came back (must be 0), the replicas
//! disagreeing on a key after recovery (must be 0), and the time from the fault (and
//! from its end) to the last client error. Figures go to
//! `$CARGO_TARGET_TMPDIR/chaos/<scenario>.json`; `benches/chaos.sh` runs the long
//! version (`MEMKEEP_CHAOS_HOLD=10`: each fault held 10 s) and gathers them.

#[path = "proxy/harness.rs"]
mod harness;
#[path = "chaos/load.rs"]
mod load;
mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use harness::{exchange, Proxy};
use load::{call, parse_get, Acked, KeyState, Load, Tally};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::relay::{Direction, Fault, Relay};
use support::{free_port, wait_for, Server};

/// How long each fault is held (seconds), from MEMKEEP_CHAOS_HOLD; 2 by default.
fn hold() -> Duration {
    let secs = std::env::var("MEMKEEP_CHAOS_HOLD")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// A memkeepd pair, each node behind a client relay, the second reaching the first's
/// replication port through a relay, and the proxy in front.
struct Cluster {
    nodes: [Server; 2],
    repl_ports: [u16; 2],
    client_relays: [Relay; 2],
    repl_relay: Relay,
    proxy: Proxy,
}

impl Cluster {
    fn start() -> Cluster {
        let repl_ports = [free_port(), free_port()];
        let first = Server::memkeepd(&["-t", "2", "-X", &repl_ports[0].to_string()]);
        let repl_relay = Relay::start(repl_ports[0]);
        let second = Server::memkeepd(&[
            "-t",
            "2",
            "-X",
            &repl_ports[1].to_string(),
            "-x",
            &repl_relay.addr(),
        ]);
        let client_relays = [Relay::start(first.port), Relay::start(second.port)];
        let servers = format!(
            "\"{}\", \"{}\"",
            client_relays[0].addr(),
            client_relays[1].addr()
        );
        let proxy = Proxy::memkeep("--config", "chaos.toml", |port| {
            format!(
                r#"
[pools.pair]
servers = [{servers}]
replicas = 2
timeout_ms = 300
eject = {{ failure_limit = 3, retry_timeout_ms = 500, rebuild_ring = false }}

[routes.reads]
kind = "read_repair"
to = ["pair"]

[routes.writes]
kind = "replicate"
to = ["pair"]
policy = "all"

[routes.main]
kind = "operation"
reads = "reads"
writes = "writes"

[[listeners]]
listen = "127.0.0.1:{port}"
route = "main"
"#
            )
        });
        let cluster = Cluster {
            nodes: [first, second],
            repl_ports,
            client_relays,
            repl_relay,
            proxy,
        };
        cluster.wait_synced();
        cluster
    }

    /// Kills node `i` with SIGKILL and starts it again, empty, pointed at its peer's
    /// replication port so it copies the survivor's items.
    fn kill_and_restart(&mut self, i: usize) {
        kill(Pid::from_raw(self.nodes[i].pid() as i32), Signal::SIGKILL).unwrap();
        let own = self.repl_ports[i].to_string();
        let peer = if i == 0 {
            format!("127.0.0.1:{}", self.repl_ports[1])
        } else {
            self.repl_relay.addr()
        };
        // The old process's socket may linger a moment: the new one binds with
        // SO_REUSEADDR, so this only waits for the kernel to release the port.
        self.nodes[i] = Server::memkeepd(&["-t", "2", "-X", &own, "-x", &peer]);
        self.client_relays[i].retarget(self.nodes[i].port);
    }

    fn signal(&self, i: usize, signal: Signal) {
        kill(Pid::from_raw(self.nodes[i].pid() as i32), signal).unwrap();
    }

    /// Both nodes synced, linked, and with nothing left to send.
    fn wait_synced(&self) {
        for node in &self.nodes {
            let mut c = node.connect();
            let ok = wait_for(Duration::from_secs(30), || {
                let s = stats(&mut c);
                s.contains("STAT repl_state synced\r\n")
                    && !s.contains("STAT repl_links 0\r\n")
                    && s.contains("STAT repl_lag_items 0\r\n")
            });
            assert!(ok, "node {} never synced: {}", node.port, stats(&mut c));
        }
    }
}

fn stats(c: &mut TcpStream) -> String {
    String::from_utf8_lossy(&exchange(c, b"stats\r\n", b"END\r\n")).into_owned()
}

/// What a scenario measured.
#[derive(Debug, Default)]
struct Figures {
    ops: u64,
    client_errors: u64,
    wrong_values: u64,
    acked_misses_during: u64,
    lost_acked_writes: u64,
    deleted_came_back: u64,
    replicas_disagreeing: u64,
    recovery_s: f64,
    fault_to_recovery_s: f64,
    first_wrong: Option<String>,
}

/// Runs the load, applies `fault`, holds it, calls `heal`, lets the load run on,
/// then stops it, waits for the pair to settle, checks every key and writes the
/// figures.
fn scenario(
    name: &str,
    fault: impl FnOnce(&mut Cluster),
    heal: impl FnOnce(&mut Cluster),
) -> Figures {
    let mut cluster = Cluster::start();
    let load = Load::start(cluster.proxy.port, 4, 200);
    assert!(
        wait_for(Duration::from_secs(30), || load.ops() > 500),
        "no load before the fault"
    );
    let faulted = Instant::now();
    fault(&mut cluster);
    let ops_at_fault = load.ops();
    std::thread::sleep(hold());
    heal(&mut cluster);
    let healed = Instant::now();
    assert!(
        wait_for(Duration::from_secs(60), || load.ops()
            > ops_at_fault + 2_000),
        "the load did not go on after the fault was healed"
    );
    let results = load.finish();
    cluster.wait_synced();

    let mut f = Figures::default();
    let mut last_error: Option<Instant> = None;
    for (_, tally) in &results {
        add_tally(&mut f, tally);
        last_error = last_error.max(tally.last_error);
    }
    f.recovery_s = last_error.map_or(0.0, |t| t.saturating_duration_since(healed).as_secs_f64());
    f.fault_to_recovery_s =
        last_error.map_or(0.0, |t| t.saturating_duration_since(faulted).as_secs_f64());
    let ledgers: Vec<&KeyState> = results.iter().flat_map(|(l, _)| l.iter()).collect();
    check_end_state(&cluster, &ledgers, &mut f);
    write_figures(name, &f);
    assert_eq!(
        f.wrong_values, 0,
        "{name}: wrong values: {:?}",
        f.first_wrong
    );
    assert_eq!(
        f.lost_acked_writes, 0,
        "{name}: acknowledged writes lost: {f:?}"
    );
    assert_eq!(
        f.deleted_came_back, 0,
        "{name}: deleted keys came back: {f:?}"
    );
    assert_eq!(
        f.replicas_disagreeing, 0,
        "{name}: the replicas disagree: {f:?}"
    );
    assert!(f.ops > 2_500, "{name}: too little load to judge: {f:?}");
    f
}

fn add_tally(f: &mut Figures, t: &Tally) {
    f.ops += t.ops;
    f.client_errors += t.errors;
    f.wrong_values += t.wrong_values;
    f.acked_misses_during += t.acked_misses;
    if f.first_wrong.is_none() {
        f.first_wrong.clone_from(&t.first_wrong);
    }
}

/// Every key read through the proxy and from each node directly: an acknowledged
/// value must be there, an acknowledged delete must stay deleted, a key with
/// writes of unknown outcome may hold any of them, and both nodes must agree.
fn check_end_state(cluster: &Cluster, ledgers: &[&KeyState], f: &mut Figures) {
    let mut through = cluster.proxy.connect();
    let mut direct = [cluster.nodes[0].connect(), cluster.nodes[1].connect()];
    for state in ledgers {
        let request = format!("get {}\r\n", state.key);
        // A reply is whole at END, or at the end of an error line.
        let whole = |r: &[u8]| {
            r.ends_with(b"END\r\n") || (!r.starts_with(b"VALUE ") && r.ends_with(b"\r\n"))
        };
        let ask = |c: &mut TcpStream| {
            let reply = call(c, request.as_bytes(), whole)
                .unwrap_or_else(|| panic!("no reply for {}", state.key));
            parse_get(&reply).map_err(|()| String::from_utf8_lossy(&reply).into_owned())
        };
        let read = |c: &mut TcpStream| -> Option<String> {
            ask(c).unwrap_or_else(|e| panic!("error reply for {}: {e}", state.key))
        };
        // The pool's timeout is short, for the faults: on a loaded machine a read
        // through the proxy may run out of it, which says nothing of the data.
        let mut via_proxy = None;
        let answered = wait_for(Duration::from_secs(30), || match ask(&mut through) {
            Ok(value) => {
                via_proxy = value;
                true
            }
            Err(e) => {
                assert!(e.starts_with("SERVER_ERROR "), "{}: {e}", state.key);
                false
            }
        });
        assert!(answered, "no answer through the proxy for {}", state.key);
        let mut on_nodes = [read(&mut direct[0]), read(&mut direct[1])];
        if on_nodes[0] != on_nodes[1] {
            // Records sent but not yet applied: the link has no lag left to send,
            // the receiver may still be applying. Give it a moment.
            let settled = wait_for(Duration::from_secs(5), || {
                on_nodes = [read(&mut direct[0]), read(&mut direct[1])];
                on_nodes[0] == on_nodes[1]
            });
            if !settled {
                f.replicas_disagreeing += 1;
                f.first_wrong.get_or_insert_with(|| {
                    format!("{} differs: {on_nodes:?}, ledger {state:?}", state.key)
                });
            }
        }
        for value in std::iter::once(&via_proxy).chain(on_nodes.iter()) {
            if state.allows(value.as_deref()) {
                continue;
            }
            match (&state.acked, value) {
                (Acked::Value(_), None) => f.lost_acked_writes += 1,
                (Acked::Absent, Some(_)) if state.maybe.is_empty() => f.deleted_came_back += 1,
                _ => {
                    f.wrong_values += 1;
                    f.first_wrong.get_or_insert_with(|| {
                        format!("end state of {}: {value:?}, ledger {state:?}", state.key)
                    });
                }
            }
        }
    }
}

fn write_figures(name: &str, f: &Figures) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos");
    std::fs::create_dir_all(&dir).unwrap();
    let json = format!(
        "{{\"scenario\": \"{name}\", \"hold_s\": {}, \"ops\": {}, \"client_errors\": {}, \
         \"wrong_values\": {}, \"acked_misses_during_fault\": {}, \"lost_acked_writes\": {}, \
         \"deleted_came_back\": {}, \"replicas_disagreeing\": {}, \"recovery_s\": {:.3}, \
         \"fault_to_recovery_s\": {:.3}}}\n",
        hold().as_secs_f64(),
        f.ops,
        f.client_errors,
        f.wrong_values,
        f.acked_misses_during,
        f.lost_acked_writes,
        f.deleted_came_back,
        f.replicas_disagreeing,
        f.recovery_s,
        f.fault_to_recovery_s
    );
    std::fs::write(dir.join(format!("{name}.json")), json).unwrap();
    eprintln!("chaos {name}: {f:?}");
}

#[test]
fn chaos_kill9_a_backend_and_restart_it() {
    scenario(
        "kill9_restart",
        |c| {
            kill(Pid::from_raw(c.nodes[1].pid() as i32), Signal::SIGKILL).unwrap();
        },
        |c| c.kill_and_restart(1),
    );
}

#[test]
fn chaos_blackhole_a_backend() {
    let blackhole = Fault {
        blackhole: true,
        ..Fault::default()
    };
    scenario(
        "blackhole",
        |c| c.client_relays[0].set_both(blackhole),
        |c| c.client_relays[0].heal(),
    );
}

#[test]
fn chaos_slow_a_backend_by_200ms() {
    // Every reply 200 ms late: inside the pool's 300 ms timeout, so the load slows
    // down but should not fail.
    let slow = Fault {
        delay: Duration::from_millis(200),
        ..Fault::default()
    };
    scenario(
        "slow_200ms",
        |c| c.client_relays[1].set(Direction::Down, slow),
        |c| c.client_relays[1].heal(),
    );
}

#[test]
fn chaos_sigstop_a_backend() {
    scenario(
        "sigstop",
        |c| c.signal(0, Signal::SIGSTOP),
        |c| c.signal(0, Signal::SIGCONT),
    );
}

#[test]
fn chaos_partition_the_replication_link() {
    let cut = Fault {
        blackhole: true,
        ..Fault::default()
    };
    scenario(
        "replication_partition",
        |c| {
            c.repl_relay.set_both(cut);
            c.repl_relay.reset_all();
            c.repl_relay.refuse(true);
        },
        |c| c.repl_relay.heal(),
    );
}

#[test]
fn chaos_kill9_each_backend_in_turn() {
    scenario(
        "kill9_each_in_turn",
        |c| {
            c.kill_and_restart(0);
            c.wait_synced();
        },
        |c| {
            c.kill_and_restart(1);
            c.wait_synced();
        },
    );
}
