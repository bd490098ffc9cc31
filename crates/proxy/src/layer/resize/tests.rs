use std::sync::atomic::Ordering;
use std::time::Duration;

use memkeep_protocol::Response;
use memkeep_ring::{Distribution, Hash, Ring, Server};
use tower::ServiceExt;

use super::*;
use crate::layer::fake::{delete, get, hits, set, settle, Fake, Log};
use crate::layer::shard::{Shard, ShardOptions};

const NAMES: [&str; 4] = ["s0", "s1", "s2", "s3"];

/// Four fake servers, at ports 11211.. in the ring.
fn servers(log: &Log) -> Vec<Fake> {
    NAMES.iter().map(|name| Fake::new(name, log)).collect()
}

/// A pool over `servers[of]`: its shard, ring and addresses.
fn pool(servers: &[Fake], of: &[usize]) -> (Shard<Fake>, Ring, Vec<String>) {
    let addrs: Vec<String> = of
        .iter()
        .map(|i| format!("127.0.0.1:{}", 11211 + i))
        .collect();
    let ring = Ring::builder(
        of.iter()
            .map(|&i| Server::twemproxy("127.0.0.1", 11211 + i as u16, 1, None))
            .collect::<Vec<_>>(),
    )
    .hash(Hash::Md5)
    .distribution(Distribution::Ketama)
    .build()
    .expect("a ring");
    let services = of.iter().map(|&i| servers[i].clone()).collect();
    let shard = Shard::new(ring.clone(), services, ShardOptions::default());
    (shard, ring, addrs)
}

type Pool = Shard<Fake>;

/// The pool grown (or shrunk) from `before` to `after`, warming from `before`.
fn changed(
    servers: &[Fake],
    before: &[usize],
    after: &[usize],
) -> (Resize<Pool>, Arc<Window<Pool>>, Arc<Moved>) {
    let (old, old_ring, old_addrs) = pool(servers, before);
    let (new, new_ring, new_addrs) = pool(servers, after);
    let window = Window::open(
        vec![old],
        Moved::new(old_ring.clone(), &old_addrs, new_ring.clone(), &new_addrs),
        WarmUpCounters::default(),
    );
    let moved = Arc::new(Moved::new(old_ring, &old_addrs, new_ring, &new_addrs));
    (Resize::new(new, window.clone(), 0), window, moved)
}

/// The first keys `k0, k1, ...` that moved (or not) between the rings.
fn keys(moved: &Moved, want_moved: bool, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("k{i}"))
        .filter(|k| moved.moved(k.as_bytes(), 0) == want_moved)
        .take(n)
        .collect()
}

/// Where `key` lives in the ring over `of`.
fn owner(servers: &[Fake], of: &[usize], key: &str) -> Fake {
    let (_, ring, _) = pool(servers, of);
    servers[of[ring.node_for(key.as_bytes())]].clone()
}

#[tokio::test(start_paused = true)]
async fn about_a_quarter_of_the_keys_move_from_three_servers_to_four() {
    let log = Log::default();
    let (_, _, moved) = changed(&servers(&log), &[0, 1, 2], &[0, 1, 2, 3]);
    let moved_count = (0..10_000)
        .filter(|i| moved.moved(format!("key:{i}").as_bytes(), 0))
        .count();
    assert!((1_500..3_500).contains(&moved_count), "{moved_count} moved");
}

#[tokio::test(start_paused = true)]
async fn a_moved_key_missing_on_its_new_server_is_read_from_its_previous_one_and_filled() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, window, moved) = changed(&all, &[0, 1, 2], &[0, 1, 2, 3]);
    let key = &keys(&moved, true, 1)[0];
    let was = owner(&all, &[0, 1, 2], key);
    let is = owner(&all, &[0, 1, 2, 3], key);
    was.put(key, "v", 3, 600);

    let reply = resize.oneshot(get(&[key])).await.unwrap();
    assert_eq!(hits(&reply), [format!("{key}=v")]);
    settle().await;
    assert_eq!(is.item(key), Some(("v".into(), 3, 600)));
    assert_eq!(window.counters.fallbacks.load(Ordering::Relaxed), 1);
    assert_eq!(window.counters.fills.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_key_that_did_not_move_never_reaches_the_previous_pool() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, window, moved) = changed(&all, &[0, 1, 2], &[0, 1, 2, 3]);
    let key = &keys(&moved, false, 1)[0];
    let reply = resize.oneshot(get(&[key])).await.unwrap();
    assert_eq!(reply, Response::Values(vec![]));
    settle().await;
    assert_eq!(log.take().len(), 1, "one get, to the key's server");
    assert_eq!(window.counters.fallbacks.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_multi_get_asks_the_previous_pool_for_its_moved_misses_only() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, window, moved) = changed(&all, &[0, 1, 2], &[0, 1, 2, 3]);
    let gone = keys(&moved, true, 3);
    let stayed = keys(&moved, false, 3);
    // One unmoved key is missing (lost in a restart, say); one moved key is filled.
    for key in gone.iter().chain(&stayed[1..]) {
        owner(&all, &[0, 1, 2], key).put(key, "old", 0, 60);
    }
    owner(&all, &[0, 1, 2, 3], &gone[0]).put(&gone[0], "new", 0, 60);
    let mut asked: Vec<&str> = gone.iter().chain(&stayed).map(String::as_str).collect();
    asked.sort();

    let reply = resize.oneshot(get(&asked)).await.unwrap();
    let mut want: Vec<String> = asked
        .iter()
        .filter(|k| **k != stayed[0])
        .map(|k| format!("{k}={}", if *k == gone[0] { "new" } else { "old" }))
        .collect();
    want.sort();
    let mut got = hits(&reply);
    got.sort();
    assert_eq!(got, want);
    assert_eq!(window.counters.fallbacks.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn a_write_of_a_moved_key_deletes_its_previous_copy() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, window, moved) = changed(&all, &[0, 1, 2], &[0, 1, 2, 3]);
    let gone = &keys(&moved, true, 1)[0];
    let stayed = &keys(&moved, false, 1)[0];
    let was = owner(&all, &[0, 1, 2], gone);
    was.put(gone, "old", 0, 60);

    resize.clone().oneshot(set(gone, "new")).await.unwrap();
    resize.clone().oneshot(set(stayed, "new")).await.unwrap();
    assert_eq!(was.item(gone), None, "gone before the write is answered");
    assert_eq!(
        owner(&all, &[0, 1, 2, 3], gone).item(gone).map(|i| i.0),
        Some("new".into())
    );
    assert_eq!(window.counters.stale_deletes.load(Ordering::Relaxed), 1);
    let reply = resize.oneshot(get(&[gone])).await.unwrap();
    assert_eq!(hits(&reply), [format!("{gone}=new")]);
}

#[tokio::test(start_paused = true)]
async fn deleting_a_moved_key_found_only_on_its_previous_server_is_a_delete() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, _, moved) = changed(&all, &[0, 1, 2], &[0, 1, 2, 3]);
    let gone = &keys(&moved, true, 1)[0];
    owner(&all, &[0, 1, 2], gone).put(gone, "old", 0, 60);

    let reply = resize.clone().oneshot(delete(gone)).await.unwrap();
    assert_eq!(reply, Response::Deleted);
    let reply = resize.oneshot(get(&[gone])).await.unwrap();
    assert_eq!(reply, Response::Values(vec![]), "not copied back");
}

#[tokio::test(start_paused = true)]
async fn a_removed_servers_keys_are_read_from_it_until_the_window_ends() {
    let log = Log::default();
    let all = servers(&log);
    let (resize, window, moved) = changed(&all, &[0, 1, 2, 3], &[0, 1, 2]);
    let (_, four, _) = pool(&all, &[0, 1, 2, 3]);
    let on_removed: Vec<String> = keys(&moved, true, 50)
        .into_iter()
        .filter(|k| four.node_for(k.as_bytes()) == 3)
        .collect();
    let (key, other) = (&on_removed[0], &on_removed[1]);
    all[3].put(key, "v", 0, 60);
    window.close_after(Duration::from_secs(300), "p".into());

    let reply = resize.clone().oneshot(get(&[key])).await.unwrap();
    assert_eq!(hits(&reply), [format!("{key}=v")]);
    assert_eq!(window.counters.active.load(Ordering::Relaxed), 1);

    tokio::time::sleep(Duration::from_secs(301)).await;
    assert!(!window.is_open());
    assert_eq!(window.counters.active.load(Ordering::Relaxed), 0);
    all[3].put(other, "v", 0, 60);
    log.take();
    let reply = resize.oneshot(get(&[other])).await.unwrap();
    assert_eq!(reply, Response::Values(vec![]), "the window is over");
    assert_eq!(log.take().len(), 1, "the removed server is not asked");
}
