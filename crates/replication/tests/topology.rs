//! Topologies beyond a pair, in one process over loopback: what a node receives is
//! forwarded to its other links, never back to the link it came by nor to the node
//! that took the write, and not at all when it was no news (which ends a record's
//! travel around a cycle). Counted per link.

use bytes::Bytes;
use memkeep_replication::{LinkInfo, Role};

mod support;

use support::*;

/// Records received on all of a node's links.
fn received(links: &[LinkInfo]) -> u64 {
    links.iter().map(|l| l.records_received).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_forwards_to_the_replica_of_either_member() {
    // A <-> B a pair; C a replica of A. Writes on B reach C through A.
    let mut a = node(Role::Primary, false, 1 << 20);
    let mut b = node(Role::Pair, true, 1 << 20);
    let c = node(Role::Replica, true, 1 << 20);
    let (addr_a, _stop_a) = listening(&a.replication);
    let _stop_b = connecting(&b.replication, addr_a);
    let _stop_c = connecting(&c.replication, addr_a);
    eventually(|| !b.replication.is_warming() && !c.replication.is_warming()).await;
    for i in 0..50 {
        set(&mut a, &format!("a{i}"), "from a").await;
        set(&mut b, &format!("b{i}"), "from b").await;
    }
    eventually(|| (0..50).all(|i| holds(&c.replication, &format!("b{i}")))).await;
    eventually(|| (0..50).all(|i| holds(&c.replication, &format!("a{i}")))).await;
    // A forwarded B's writes to C and only there: none went back to B.
    assert_eq!(stat(&a.replication, "repl_records_forwarded"), "50");
    let on_b = b.replication.links();
    assert_eq!(on_b.len(), 1);
    eventually(|| b.replication.links()[0].records_received == 50).await;
    // Roles as stats show them.
    assert_eq!(stat(&a.replication, "repl_role"), "pair");
    assert_eq!(stat(&b.replication, "repl_role"), "pair");
    assert_eq!(stat(&c.replication, "repl_role"), "replica");
    assert_eq!(c.replication.links()[0].addr, addr_a.to_string());
    assert_eq!(stat(&a.replication, "repl_replicas").split(',').count(), 1);
    assert_eq!(stat(&a.replication, "repl_links"), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triangle_carries_each_write_at_most_once_per_direction_and_never_back() {
    // Three nodes, each dialling the other two: one link per pair of nodes remains.
    let (nodes, _stops) = group(3, |i| (0..3).filter(|&j| j != i).collect()).await;
    let mut nodes = nodes;
    const N: u64 = 200;
    for i in 0..N {
        set(&mut nodes[0], &format!("k{i}"), "v").await;
    }
    eventually(|| {
        nodes[1..]
            .iter()
            .all(|n| (0..N).all(|i| holds(&n.replication, &format!("k{i}"))))
    })
    .await;
    eventually(|| {
        nodes
            .iter()
            .all(|n| stat(&n.replication, "repl_lag_items") == "0")
            && settled(&nodes)
    })
    .await;
    // Each key crosses A->B and A->C once, and B->C or C->B at most once each (only
    // a node that learnt it from A passes it on): between 3N and 4N in all. Nothing
    // goes back to A, the origin.
    let a_links = nodes[0].replication.links();
    assert_eq!(received(&a_links), 0, "{a_links:?}");
    let (b_links, c_links) = (nodes[1].replication.links(), nodes[2].replication.links());
    let total = received(&b_links) + received(&c_links);
    assert!(
        (3 * N..=4 * N).contains(&total),
        "{total} records: {b_links:?} {c_links:?}"
    );
    for n in &nodes[1..] {
        let forwarded: u64 = stat(&n.replication, "repl_records_forwarded")
            .parse()
            .unwrap();
        assert_eq!(forwarded, N, "each key is news once per node");
    }
    // A delete made on C travels the same way and removes the key everywhere.
    let c_received = received(&c_links);
    let delete = memkeep_protocol::Request {
        command: memkeep_protocol::Command::Delete(memkeep_protocol::Delete {
            key: Bytes::from_static(b"k7"),
            ..Default::default()
        }),
        form: form(),
    };
    use tower::{Service, ServiceExt};
    let reply = nodes[2]
        .service
        .ready()
        .await
        .unwrap()
        .call(delete)
        .await
        .unwrap();
    assert_eq!(reply, memkeep_protocol::Response::Deleted);
    eventually(|| nodes.iter().all(|n| !holds(&n.replication, "k7"))).await;
    eventually(|| settled(&nodes)).await;
    // The delete crossed C->A and C->B, then A->B and B->A for each of A and B that
    // learnt it from C: 3 or 4 records; none came back to C.
    let after: u64 = nodes.iter().map(|n| received(&n.replication.links())).sum();
    assert!((3..=4).contains(&(after - total)), "{after} after {total}");
    assert_eq!(received(&nodes[2].replication.links()), c_received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_of_four_passes_writes_around_and_stops() {
    // A - B - C - D - A, no chords: a write on A reaches C by two hops, and each
    // node forwards each key once.
    let (nodes, _stops) = group(4, |i| vec![(i + 1) % 4]).await;
    let mut nodes = nodes;
    const N: u64 = 100;
    for i in 0..N {
        set(&mut nodes[0], &format!("r{i}"), "v").await;
    }
    eventually(|| (0..N).all(|i| holds(&nodes[2].replication, &format!("r{i}")))).await;
    eventually(|| {
        nodes
            .iter()
            .all(|n| stat(&n.replication, "repl_lag_items") == "0")
            && settled(&nodes)
    })
    .await;
    for n in &nodes[1..] {
        assert_eq!(
            stat(&n.replication, "repl_records_forwarded"),
            N.to_string()
        );
    }
    // A sees none of its own writes back. Each key crosses A->B and A->D; B and D
    // each pass it to C if they learnt it from A, and C passes it on to whichever of
    // them it did not learn it from: four or five times in all, never more.
    assert_eq!(received(&nodes[0].replication.links()), 0);
    let total: u64 = nodes.iter().map(|n| received(&n.replication.links())).sum();
    assert!((4 * N..=5 * N).contains(&total), "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_a_replica_follows_the_chain() {
    // A primary, B a replica of A listening for replicas of its own, C a replica of B.
    let mut a = node(Role::Primary, false, 1 << 20);
    let b = node(Role::Replica, true, 1 << 20);
    let mut c = node(Role::Replica, true, 1 << 20);
    let (addr_a, _stop_a) = listening(&a.replication);
    let port_b = bound();
    let addr_b = port_b.0;
    let _stop_b = listening_and_dialling(&b.replication, port_b, &[addr_a]);
    let _stop_c = connecting(&c.replication, addr_b);
    eventually(|| !b.replication.is_warming() && !c.replication.is_warming()).await;
    for i in 0..50 {
        set(&mut a, &format!("k{i}"), "v").await;
    }
    eventually(|| (0..50).all(|i| holds(&c.replication, &format!("k{i}")))).await;
    // C's own writes stay on C; B's reach C.
    set(&mut c, "only-c", "v").await;
    assert_eq!(stat(&c.replication, "repl_records_sent"), "0");
    assert!(!holds(&b.replication, "only-c"));
    assert_eq!(b.replication.replicas().len(), 1);
    assert_eq!(a.replication.replicas().len(), 1);
}
