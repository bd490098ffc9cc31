//! Two nodes in one process over loopback: warming until the copy, the stream both
//! ways, resume after a short disconnect, and a full copy when the backlog was passed.

use bytes::Bytes;
use memkeep_protocol::Response;
use memkeep_replication::Role;

mod support;

use support::*;

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

#[tokio::test]
async fn a_peer_of_the_older_link_format_is_refused_with_a_clear_error() {
    use memkeep_replication::{run_link_over, LinkError, Side};
    use tokio::io::AsyncWriteExt;
    let a = node(Role::Primary, false, 1 << 20);
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    // Version 2's hello: length, tag 1, magic "mkr" 2, run id, role (pair).
    let mut hello = vec![0, 0, 0, 14, 1, 0x6d, 0x6b, 0x72, 2];
    hello.extend(42u64.to_be_bytes());
    hello.push(0);
    theirs.write_all(&hello).await.unwrap();
    let result = run_link_over(&a.replication, ours, "127.0.0.1:1", Side::Accepted).await;
    let Err(error) = result else {
        panic!("an old peer was linked")
    };
    assert!(matches!(error, LinkError::Version(2)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the peer speaks link format 2, this node 3: link refused; run the same memkeepd version on every node"
    );
    assert_eq!(stat(&a.replication, "repl_links"), "0");
}
