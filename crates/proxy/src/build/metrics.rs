//! What each server's `Measure` layer records: its requests in flight, by command,
//! latency and failures named by cause, for `stats`, the stats port and whoever
//! exports them (memkeep-proxy's admin listener).

use memkeep_admin::RequestMetrics;

use crate::error_kind::Failure;

/// The metrics a server's `Measure` layer fills: failures named by cause
/// ([`Failure::metric_cause`]: timeouts, ejections, servers down, requests refused
/// by the backend's queue limits, or other).
pub fn server_metrics() -> RequestMetrics {
    RequestMetrics::new(&Failure::METRIC_CAUSES, Some(Failure::metric_cause))
}
