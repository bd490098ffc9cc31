//! Nodes in one process over loopback, for the link tests: a cache with replication,
//! writes and reads through its service, its stats, and its links started.

#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use memkeep_protocol::{Command, Form, Get, MetaForm, Request, Response, Store as Set};
use memkeep_replication::{run, Observe, Peers, Replication, ReplicationConfig, Role};
use memkeep_server::cache::{Cache, CacheConfig};
use memkeep_server::store::{Store, StoreConfig};
use tokio::sync::oneshot;
use tower::{Service, ServiceExt};

/// A node in this process: its replication state and its cache service.
pub struct Node {
    pub replication: Replication,
    pub service: Observe<Cache>,
}

pub fn node(role: Role, warming: bool, backlog_records: usize) -> Node {
    node_announcing(role, warming, backlog_records, "")
}

/// A node that announces `addr` to its peers.
pub fn node_announcing(role: Role, warming: bool, backlog_records: usize, addr: &str) -> Node {
    let store = Arc::new(Store::new(StoreConfig::default()));
    let cache = Cache::new(store.clone(), Default::default(), CacheConfig::default());
    let replication = Replication::new(
        store,
        ReplicationConfig {
            role,
            starts_warming: warming,
            backlog_records,
            announce: addr.to_owned(),
            ..ReplicationConfig::default()
        },
    );
    Node {
        service: Observe::new(cache, replication.clone()),
        replication,
    }
}

pub fn form() -> Form {
    Form::Meta(MetaForm::default())
}

pub async fn set(node: &mut Node, key: &str, value: &str) {
    let request = Request {
        command: Command::Store(Set {
            key: Bytes::copy_from_slice(key.as_bytes()),
            data: Bytes::copy_from_slice(value.as_bytes()),
            ..Set::default()
        }),
        form: form(),
    };
    let r = node
        .service
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap();
    assert!(matches!(r, Response::Stored(_)), "{r:?}");
}

pub async fn get(node: &mut Node, key: &str) -> Response {
    let request = Request {
        command: Command::Get(Get {
            keys: vec![Bytes::copy_from_slice(key.as_bytes())],
            ..Get::default()
        }),
        form: form(),
    };
    node.service
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap()
}

pub fn stat(replication: &Replication, name: &str) -> String {
    replication
        .stats()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap()
}

pub async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 20 s");
}

/// Starts a node's links; dropping the sender stops them.
pub fn start(replication: &Replication, peers: Peers) -> oneshot::Sender<()> {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(run(replication.clone(), peers, async move {
        let _ = rx.await;
    }));
    tx
}

pub fn listening(replication: &Replication) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = start(
        replication,
        Peers {
            listen: Some(addr),
            listener: Some(listener),
            connect: Vec::new(),
            retry: Duration::from_millis(20),
            tls: None,
            ..Peers::default()
        },
    );
    (addr, stop)
}

pub fn connecting(replication: &Replication, to: std::net::SocketAddr) -> oneshot::Sender<()> {
    start(
        replication,
        Peers {
            connect: vec![to.to_string()],
            retry: Duration::from_millis(20),
            ..Peers::default()
        },
    )
}

/// A listener on a free loopback port, for a node that also dials others.
pub fn bound() -> (std::net::SocketAddr, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (listener.local_addr().unwrap(), listener)
}

/// Starts a node that listens on `listener` and dials each of `peers`.
pub fn listening_and_dialling(
    replication: &Replication,
    (addr, listener): (std::net::SocketAddr, std::net::TcpListener),
    peers: &[std::net::SocketAddr],
) -> oneshot::Sender<()> {
    start(
        replication,
        Peers {
            listen: Some(addr),
            listener: Some(listener),
            connect: peers.iter().map(ToString::to_string).collect(),
            retry: Duration::from_millis(20),
            tls: None,
            ..Peers::default()
        },
    )
}

/// Whether `replication`'s store holds `key`.
pub fn holds(replication: &Replication, key: &str) -> bool {
    replication
        .store()
        .peek(&Bytes::copy_from_slice(key.as_bytes()))
        .is_some()
}

/// Starts `n` pair nodes, each listening and dialling the ones `dials(i)` names,
/// and waits until every link is up once on both of its sides (both ends agree on
/// which of them dialled it) and every full copy was received.
pub async fn group(
    n: usize,
    dials: impl Fn(usize) -> Vec<usize>,
) -> (Vec<Node>, Vec<oneshot::Sender<()>>) {
    let ports: Vec<_> = (0..n).map(|_| bound()).collect();
    let addrs: Vec<_> = ports.iter().map(|(a, _)| *a).collect();
    let nodes: Vec<_> = addrs
        .iter()
        .map(|a| node_announcing(Role::Pair, false, 1 << 20, &a.to_string()))
        .collect();
    let mut stops = Vec::new();
    for (i, port) in ports.into_iter().enumerate() {
        let to: Vec<_> = dials(i).into_iter().map(|j| addrs[j]).collect();
        stops.push(listening_and_dialling(&nodes[i].replication, port, &to));
    }
    let expected: Vec<usize> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i && (dials(i).contains(&j) || dials(j).contains(&i)))
                .count()
        })
        .collect();
    eventually(|| {
        nodes.iter().enumerate().all(|(i, node)| {
            let links = node.replication.links();
            links.len() == expected[i]
                && stat(&node.replication, "repl_full_copies_received")
                    .parse::<usize>()
                    .unwrap()
                    >= expected[i]
                && links.iter().all(|l| {
                    // The same link seen from the other end.
                    let j = addrs.iter().position(|a| a.to_string() == l.addr).unwrap();
                    nodes[j].replication.links().iter().any(|back| {
                        back.peer_run == node.replication.run_id() && back.dialled != l.dialled
                    })
                })
        })
    })
    .await;
    (nodes, stops)
}

/// Whether every record streamed on every link between `nodes` has been received
/// at its other end.
pub fn settled(nodes: &[Node]) -> bool {
    nodes.iter().all(|node| {
        node.replication.links().iter().all(|l| {
            nodes.iter().any(|other| {
                other.replication.run_id() == l.peer_run
                    && other.replication.links().iter().any(|back| {
                        back.peer_run == node.replication.run_id()
                            && back.records_received == l.records_sent
                    })
            })
        })
    })
}
