//! A peer dialled by name, as a Kubernetes pod names its pair: the name is looked
//! up before every attempt. A name that does not resolve yet leaves the node
//! serving alone and retrying; once it resolves the link comes up; and when the
//! peer dies and comes back at another address under the same name, the node
//! finds it there. The names go through a resolver the test controls (no DNS).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memkeep_replication::{Peers, Resolve, Role};
use tokio::sync::oneshot;

mod support;

use support::*;

const PEER: &str = "memkeepd-1.memkeepd.cache.svc.cluster.local:11212";

/// A peer node on its own runtime in its own thread. Stopping it drops that
/// runtime and every task and socket of it, links included: what its peers see
/// when a process dies.
struct Process {
    addr: SocketAddr,
    run_id: u64,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Process {
    fn start() -> Process {
        let (started, info) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let peer = node(Role::Pair, false, 1 << 20);
                let (addr, _listening) = listening(&peer.replication);
                started.send((addr, peer.replication.run_id())).unwrap();
                let _ = stopped.await;
            });
        });
        let (addr, run_id) = info.recv().unwrap();
        Process {
            addr,
            run_id,
            stop,
            thread,
        }
    }

    fn kill(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_name_is_looked_up_again_before_every_attempt() {
    // What the name stands for now (none: NXDOMAIN), and how often it was asked.
    let answer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let lookups = Arc::new(AtomicUsize::new(0));
    let resolve = {
        let (answer, lookups) = (answer.clone(), lookups.clone());
        Resolve::new(move |name| {
            assert_eq!(name, PEER);
            lookups.fetch_add(1, Ordering::SeqCst);
            let found = *answer.lock().unwrap();
            async move {
                found
                    .map(|addr| vec![addr])
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
            }
        })
    };
    let a = node(Role::Pair, true, 1 << 20);
    let _a = start(
        &a.replication,
        Peers {
            connect: vec![PEER.to_owned()],
            retry: Duration::from_millis(20),
            resolve,
            ..Peers::default()
        },
    );
    // The peer's name does not resolve yet: the node keeps asking and serves alone.
    eventually(|| lookups.load(Ordering::SeqCst) >= 3 && !a.replication.is_warming()).await;
    assert!(a.replication.links().is_empty());

    let first = Process::start();
    *answer.lock().unwrap() = Some(first.addr);
    eventually(|| {
        a.replication
            .links()
            .iter()
            .any(|l| l.peer_run == first.run_id)
    })
    .await;
    assert_eq!(
        a.replication.links()[0].addr,
        PEER,
        "the link goes by the name"
    );

    // The peer dies and comes back elsewhere under the same name.
    let old_addr = first.addr;
    first.kill();
    eventually(|| a.replication.links().is_empty()).await;
    let second = Process::start();
    assert_ne!(second.addr, old_addr);
    *answer.lock().unwrap() = Some(second.addr);
    eventually(|| {
        a.replication
            .links()
            .iter()
            .any(|l| l.peer_run == second.run_id)
    })
    .await;
    second.kill();
}
