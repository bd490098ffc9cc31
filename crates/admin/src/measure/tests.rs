use std::fmt;

use bytes::Bytes;
use memkeep_protocol::{Form, Get, TextForm, TextVerb, Value};
use tower::ServiceExt;

use super::*;

fn get(keys: &[&'static str]) -> Request {
    Request {
        command: Command::Get(Get {
            keys: keys
                .iter()
                .map(|k| Bytes::from_static(k.as_bytes()))
                .collect(),
            ..Get::default()
        }),
        form: Form::Text(TextForm {
            verb: TextVerb::Get,
            noreply: false,
        }),
    }
}

#[derive(Debug)]
struct Slow;
impl fmt::Display for Slow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("slow")
    }
}
impl std::error::Error for Slow {}

fn classify(e: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<&'static str> {
    e.is::<Slow>().then_some("timeout")
}

#[test]
fn the_index_constants_name_their_labels() {
    let commands = [
        (GET, "get"),
        (TOUCH, "touch"),
        (SET, "set"),
        (ADD, "add"),
        (REPLACE, "replace"),
        (APPEND, "append"),
        (PREPEND, "prepend"),
        (CAS, "cas"),
        (DELETE, "delete"),
        (INCR, "incr"),
        (DECR, "decr"),
        (FLUSH_ALL, "flush_all"),
        (OTHER, "other"),
    ];
    for (i, name) in commands {
        assert_eq!(COMMANDS[i], name);
    }
    let results = [
        (HIT, "hit"),
        (MISS, "miss"),
        (STORED, "stored"),
        (NOT_STORED, "not_stored"),
        (EXISTS, "exists"),
        (NOT_FOUND, "not_found"),
        (DELETED, "deleted"),
        (OK, "ok"),
        (ERROR, "error"),
        (FAILED, "failed"),
    ];
    for (i, name) in results {
        assert_eq!(RESULTS[i], name);
    }
}

#[tokio::test]
async fn gets_count_hits_misses_and_failures_by_cause() {
    let metrics = Arc::new(RequestMetrics::new(&["timeout"], Some(classify)));
    let one_hit = tower::service_fn(|_req: Request| async {
        Ok::<_, Slow>(Response::Values(vec![Value::default()]))
    });
    let service = Measure::new(one_hit, metrics.clone());
    service
        .clone()
        .oneshot(get(&["a", "b", "c"]))
        .await
        .unwrap();
    let failing = tower::service_fn(|_req: Request| async { Err::<Response, _>(Slow) });
    let err = Measure::new(failing, metrics.clone())
        .oneshot(get(&["a"]))
        .await
        .unwrap_err();
    assert!(err.is::<Slow>());
    let counted = metrics.snapshot();
    assert_eq!(counted.requests(GET, HIT), 1, "one get hit");
    assert_eq!(counted.requests(GET, FAILED), 1, "one get failed");
    assert_eq!(counted.keys(), (1, 2));
    assert_eq!(counted.total(), 2);
    assert_eq!(counted.failed(), 1);
    let causes: Vec<_> = counted.failures().collect();
    assert_eq!(causes, vec![("timeout", 1), ("other", 0)]);
    assert_eq!(counted.latency(GET).count(), 2);
    assert_eq!(counted.latency_all().count(), 2);

    // Two workers' counters add up.
    let mut sum = RequestSnapshot::default();
    sum.add(&counted);
    sum.add(&counted);
    assert_eq!(sum.total(), 4);
    assert_eq!(sum.keys(), (2, 4));
    assert_eq!(sum.failures().next(), Some(("timeout", 2)));
    assert_eq!(sum.latency_all().count(), 4);
}

#[tokio::test]
async fn requests_are_counted_when_sent_and_when_done() {
    let metrics = Arc::new(RequestMetrics::new(&["timeout"], Some(classify)));
    let never = tower::service_fn(|_req: Request| std::future::pending::<Result<Response, Slow>>());
    let mut waiting = Measure::new(never, metrics.clone());
    let reply = waiting.call(get(&["a"]));
    let counted = metrics.snapshot();
    assert_eq!(
        (counted.sent(), counted.total(), counted.in_flight()),
        (1, 0, 1)
    );
    drop(reply);

    let failing = tower::service_fn(|_req: Request| async { Err::<Response, _>(Slow) });
    let failed = Measure::new(failing, metrics.clone())
        .oneshot(get(&["a"]))
        .await;
    assert!(failed.is_err());
    let counted = metrics.snapshot();
    // The dropped request was sent and never done.
    assert_eq!(
        (counted.sent(), counted.total(), counted.in_flight()),
        (2, 1, 1)
    );
    assert_eq!(counted.failures_of("timeout"), 1);
    assert_eq!(counted.failures_of("down"), 0);
}
