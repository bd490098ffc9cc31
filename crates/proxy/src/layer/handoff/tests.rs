use std::time::Duration;

use tower::{Layer, ServiceExt};

use super::*;
use crate::layer::fake::{self, Fake, Log};
use crate::layer::replicate::{Policy, ReplicateLayer};

/// Waits (on paused time) until nothing is owed to `server`.
async fn caught_up(server: &Handoff<Fake>) {
    for _ in 0..1000 {
        if server.pending() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still owed {} writes", server.pending());
}

#[tokio::test(start_paused = true)]
async fn writes_a_server_missed_are_replayed_when_it_is_back() {
    let log = Log::default();
    let (main, backup) = (Fake::new("main", &log), Fake::new("backup", &log));
    let guarded = Handoff::new(main.clone(), "main", MissedLimits::default());
    let other = Handoff::new(backup.clone(), "backup", MissedLimits::default());
    let writes =
        ReplicateLayer::new(Policy::FirstSuccess).layer(vec![guarded.clone(), other.clone()]);
    main.put("gone", "old", 0, -1);

    main.fail(true);
    for request in [
        fake::set("a", "1"),
        fake::set("a", "2"),
        fake::delete("gone"),
    ] {
        let reply = writes.clone().oneshot(request).await.unwrap();
        assert!(!reply.is_error(), "answered by the backup: {reply:?}");
    }
    assert_eq!(guarded.pending(), 2, "one write per key");
    // Owed writes: the server serves nothing, reads included.
    main.fail(false);
    let read = guarded.clone().oneshot(fake::get(&["a"])).await;
    assert!(read.unwrap_err().is::<CatchingUp>());

    caught_up(&guarded).await;
    assert_eq!(main.item("a").map(|i| i.0).as_deref(), Some("2"));
    assert_eq!(
        main.item("gone"),
        None,
        "the delete replayed: nothing comes back"
    );
    assert_eq!(guarded.replayed(), 2);
    let read = guarded.clone().oneshot(fake::get(&["a"])).await.unwrap();
    assert_eq!(fake::hits(&read), ["a=2"]);
    assert_eq!(other.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn writes_while_catching_up_queue_behind_the_owed_ones() {
    let log = Log::default();
    let main = Fake::new("main", &log);
    let guarded = Handoff::new(main.clone(), "main", MissedLimits::default());
    main.fail(true);
    assert!(guarded.clone().oneshot(fake::set("k", "1")).await.is_err());
    // Still down: the replay keeps trying; a newer write replaces the owed one.
    let later = guarded.clone().oneshot(fake::set("k", "2")).await;
    assert!(later.unwrap_err().is::<CatchingUp>());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(guarded.pending(), 1);
    main.fail(false);
    caught_up(&guarded).await;
    assert_eq!(main.item("k").map(|i| i.0).as_deref(), Some("2"));
    assert_eq!(
        log.take()
            .iter()
            .filter(|l| l.as_str() == "main: set k 1")
            .count(),
        1,
        "the first write was tried once, never replayed over the second"
    );
}

#[tokio::test(start_paused = true)]
async fn past_its_bound_the_queue_drops_and_counts() {
    let log = Log::default();
    let main = Fake::new("main", &log);
    let limits = MissedLimits {
        keys: 2,
        bytes: 1 << 20,
    };
    let guarded = Handoff::new(main.clone(), "main", limits);
    main.fail(true);
    for key in ["a", "b", "c", "d"] {
        let _ = guarded.clone().oneshot(fake::set(key, "v")).await;
    }
    assert_eq!(guarded.pending(), 2);
    assert_eq!(guarded.dropped(), 2);
    main.fail(false);
    caught_up(&guarded).await;
    assert_eq!(main.item("a").map(|i| i.0).as_deref(), Some("v"));
    assert_eq!(main.item("c"), None);
}
