//! Two nodes in one process over loopback: warming until the copy, the stream both
//! ways, resume after a short disconnect, and a full copy when the backlog was passed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use memkeep_protocol::{Command, Form, Get, MetaForm, Request, Response, Store as Set};
use memkeep_replication::{run, Observe, Peers, Replication, ReplicationConfig, Role};
use memkeep_server::cache::{Cache, CacheConfig};
use memkeep_server::store::{Store, StoreConfig};
use tokio::sync::oneshot;
use tower::{Service, ServiceExt};

struct Node {
    replication: Replication,
    service: Observe<Cache>,
}

fn node(role: Role, warming: bool, backlog_records: usize) -> Node {
    let store = Arc::new(Store::new(StoreConfig::default()));
    let cache = Cache::new(store.clone(), Default::default(), CacheConfig::default());
    let replication = Replication::new(
        store,
        ReplicationConfig {
            role,
            starts_warming: warming,
            backlog_records,
            ..ReplicationConfig::default()
        },
    );
    Node {
        service: Observe::new(cache, replication.clone()),
        replication,
    }
}

fn form() -> Form {
    Form::Meta(MetaForm::default())
}

async fn set(node: &mut Node, key: &str, value: &str) {
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

async fn get(node: &mut Node, key: &str) -> Response {
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

fn stat(replication: &Replication, name: &str) -> String {
    replication
        .stats()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap()
}

async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 20 s");
}

/// Starts a node's links; dropping the sender stops them.
fn start(replication: &Replication, peers: Peers) -> oneshot::Sender<()> {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(run(replication.clone(), peers, async move {
        let _ = rx.await;
    }));
    tx
}

fn listening(replication: &Replication) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = start(
        replication,
        Peers {
            listen: Some(addr),
            listener: Some(listener),
            connect: None,
            retry: Duration::from_millis(20),
            tls: None,
        },
    );
    (addr, stop)
}

fn connecting(replication: &Replication, to: std::net::SocketAddr) -> oneshot::Sender<()> {
    start(
        replication,
        Peers {
            connect: Some(to.to_string()),
            retry: Duration::from_millis(20),
            ..Peers::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_warms_then_streams_both_ways() {
    let mut a = node(Role::Primary, false, 1 << 20);
    let mut b = node(Role::Pair, true, 1 << 20);
    for i in 0..100 {
        set(&mut a, &format!("k{i}"), "before").await;
    }
    assert_eq!(
        get(&mut b, "k1").await,
        Response::ServerError(memkeep_replication::WARMING.into())
    );
    let (addr, _stop_a) = listening(&a.replication);
    let _stop_b = connecting(&b.replication, addr);
    eventually(|| !b.replication.is_warming()).await;
    assert!(matches!(get(&mut b, "k99").await, Response::Values(v) if v.len() == 1));
    set(&mut b, "from-b", "x").await;
    set(&mut a, "from-a", "y").await;
    let (sa, sb) = (a.replication.store().clone(), b.replication.store().clone());
    let key = |k: &'static str| Bytes::from_static(k.as_bytes());
    eventually(|| sa.peek(&key("from-b")).is_some() && sb.peek(&key("from-a")).is_some()).await;
    // The CAS travels with the item.
    assert_eq!(
        sa.peek(&key("from-b")).unwrap().meta.cas,
        sb.peek(&key("from-b")).unwrap().meta.cas
    );
    assert_eq!(stat(&b.replication, "repl_full_copies_received"), "1");
    assert_eq!(stat(&b.replication, "repl_state"), "synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_disconnect_resumes_and_a_long_one_copies_again() {
    let mut a = node(Role::Primary, false, 50);
    let b = node(Role::Replica, true, 50);
    let (addr, _stop_a) = listening(&a.replication);
    let stop_b = connecting(&b.replication, addr);
    eventually(|| !b.replication.is_warming()).await;
    drop(stop_b);
    eventually(|| stat(&a.replication, "repl_links") == "0").await;
    for i in 0..10 {
        set(&mut a, &format!("short{i}"), "v").await;
    }
    let stop_b = connecting(&b.replication, addr);
    let sb = b.replication.store().clone();
    eventually(|| sb.peek(&Bytes::from_static(b"short9")).is_some()).await;
    assert_eq!(stat(&a.replication, "repl_resumes"), "1");
    assert_eq!(stat(&a.replication, "repl_full_copies_sent"), "1");
    drop(stop_b);
    eventually(|| stat(&a.replication, "repl_links") == "0").await;
    // More writes than the backlog holds: the replica needs a full copy.
    for i in 0..200 {
        set(&mut a, &format!("long{i}"), "v").await;
    }
    let _stop_b = connecting(&b.replication, addr);
    eventually(|| sb.peek(&Bytes::from_static(b"long0")).is_some()).await;
    // A copy is counted at its end, after its items arrived.
    eventually(|| {
        stat(&a.replication, "repl_full_copies_sent") == "2"
            && stat(&b.replication, "repl_full_copies_received") == "2"
    })
    .await;
    // The replica's own writes stay local.
    let mut b = b;
    set(&mut b, "replica-only", "v").await;
    // Nothing to wait for: a replica's link never streams, so its write is not even
    // sent, let alone applied on the primary.
    assert_eq!(stat(&b.replication, "repl_records_sent"), "0");
    let sa = a.replication.store().clone();
    assert!(sa.peek(&Bytes::from_static(b"replica-only")).is_none());
}
