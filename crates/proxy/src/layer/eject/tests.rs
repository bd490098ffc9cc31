use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{ready, Ready};
use memkeep_protocol::{Command, Form, Get, Request, Response, TextForm, TextVerb};
use tower::ServiceExt;
use tower_service::Service;

use super::*;
use crate::backend::{BackendError, ErrorKind};

/// A server that is healthy or not, and counts what reaches it.
#[derive(Clone, Default)]
struct Fake {
    down: Arc<AtomicBool>,
    gets: Arc<AtomicUsize>,
    probes: Arc<AtomicUsize>,
}

impl Service<Request> for Fake {
    type Response = Response;
    type Error = BoxError;
    type Future = Ready<Result<Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let response = match request.command {
            Command::Version => {
                self.probes.fetch_add(1, Ordering::SeqCst);
                Response::Version("1.6".into())
            }
            _ => {
                self.gets.fetch_add(1, Ordering::SeqCst);
                Response::Values(Vec::new())
            }
        };
        ready(if self.down.load(Ordering::SeqCst) {
            Err("connection refused".into())
        } else {
            Ok(response)
        })
    }
}

fn get() -> Request {
    Request {
        command: Command::Get(Get {
            keys: vec!["k".into()],
            ..Default::default()
        }),
        form: Form::Text(TextForm {
            verb: TextVerb::Get,
            noreply: false,
        }),
    }
}

const CONFIG: EjectConfig = EjectConfig {
    failure_limit: 3,
    retry_timeout: Duration::from_secs(10),
};

#[tokio::test(start_paused = true)]
async fn consecutive_failures_eject_then_a_probe_readmits() {
    let fake = Fake::default();
    let live = LiveSet::new(2);
    let mut watch = live.subscribe();
    let eject = Eject::new(fake.clone(), CONFIG, Some((live.clone(), 1)));

    fake.down.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let err = eject.clone().oneshot(get()).await.unwrap_err();
        assert!(!err.is::<Ejected>());
    }
    assert!(eject.is_ejected());
    assert_eq!(eject.ejections(), 1);
    assert_eq!(&*live.get(), &[true, false]);
    assert!(watch.has_changed().unwrap());
    watch.borrow_and_update();

    // Ejected: failing fast, nothing reaches the server.
    let err = eject.clone().oneshot(get()).await.unwrap_err();
    assert!(err.is::<Ejected>());
    assert_eq!(fake.gets.load(Ordering::SeqCst), 3);

    // Still down at the retry: the probe fails, ejected for another round.
    tokio::time::sleep(Duration::from_secs(10) + Duration::from_millis(1)).await;
    assert_eq!(fake.probes.load(Ordering::SeqCst), 1);
    assert!(eject.is_ejected());
    assert_eq!(
        eject.ejections(),
        1,
        "a failed probe extends the same ejection"
    );

    // Back: the next probe re-admits it.
    fake.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.probes.load(Ordering::SeqCst), 2);
    assert!(!eject.is_ejected());
    assert_eq!(&*live.get(), &[true, true]);
    assert!(watch.has_changed().unwrap());
    assert!(eject.clone().oneshot(get()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_count() {
    let fake = Fake::default();
    let eject = Eject::new(fake.clone(), CONFIG, None);
    for _ in 0..5 {
        fake.down.store(true, Ordering::SeqCst);
        let _ = eject.clone().oneshot(get()).await;
        let _ = eject.clone().oneshot(get()).await;
        fake.down.store(false, Ordering::SeqCst);
        assert!(eject.clone().oneshot(get()).await.is_ok());
    }
    assert!(!eject.is_ejected());
    assert_eq!(eject.ejections(), 0);
}

#[tokio::test(start_paused = true)]
async fn requests_refused_by_the_backend_queue_limits_do_not_eject() {
    let overloaded = tower::service_fn(|_: Request| async {
        Err::<Response, BoxError>(
            BackendError::new(ErrorKind::Overloaded, "127.0.0.1:1".into()).into(),
        )
    });
    let eject = Eject::new(overloaded, CONFIG, None);
    for _ in 0..10 {
        let err = eject.clone().oneshot(get()).await.unwrap_err();
        assert!(!err.is::<Ejected>());
    }
    assert!(!eject.is_ejected());
    assert_eq!(eject.ejections(), 0);
}
