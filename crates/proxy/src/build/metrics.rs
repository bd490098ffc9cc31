//! What each server's `Measure` layer records: its requests by command, latency and
//! failures named by cause, for whoever exports them (memkeep-proxy's admin
//! listener).

use memkeep_admin::RequestMetrics;

use crate::backend::{BackendError, ErrorKind};
use crate::layer::eject::Ejected;
use crate::layer::timeout::Elapsed;

/// The metrics a server's `Measure` layer fills: failures named by cause.
pub fn server_metrics() -> RequestMetrics {
    RequestMetrics::new(
        &["timeout", "ejected", "down", "overloaded"],
        Some(classify),
    )
}

/// Names the failures a server's stack returns: timeouts (the timeout layer's or
/// the backend's own), ejections (refused at the gate), servers down, requests
/// refused by the backend's queue limits (overloaded), or other.
fn classify(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<&'static str> {
    if error.is::<Elapsed>() {
        return Some("timeout");
    }
    if error.is::<Ejected>() {
        return Some("ejected");
    }
    match error.downcast_ref::<BackendError>().map(BackendError::kind) {
        Some(ErrorKind::Timeout) => Some("timeout"),
        Some(ErrorKind::Down) => Some("down"),
        Some(ErrorKind::Overloaded) => Some("overloaded"),
        _ => None,
    }
}
