//! memkeep's admin listener, shared by `memkeepd` and `memkeep-proxy`: Prometheus
//! `/metrics`, `/status` (JSON), `/healthz` (200 while serving, 503 while a node is
//! still copying from its peer) and `/`, a small HTML status page that refreshes
//! itself. A binary says what to show by implementing [`Report`]; the [`Measure`]
//! layer counts and times the requests of any memcached service.
//!
//! ```
//! use std::time::Duration;
//! use memkeep_admin::{Encoder, Histogram, Kind};
//!
//! let latency = Histogram::default();
//! latency.observe(Duration::from_micros(300));
//! let mut scrape = Encoder::new();
//! scrape
//!     .family("memkeep_up", Kind::Gauge, "1 while serving.")
//!     .sample("memkeep_up", &[], 1.0);
//! scrape.family("memkeep_latency_seconds", Kind::Histogram, "Request latency.");
//! scrape.histogram("memkeep_latency_seconds", &[("command", "get")], &latency.snapshot());
//! let text = scrape.finish();
//! assert!(text.contains("memkeep_latency_seconds_bucket{command=\"get\",le=\"0.0005\"} 1\n"));
//! assert!(text.contains("memkeep_latency_seconds_count{command=\"get\"} 1\n"));
//! ```

mod histogram;
mod http;
mod measure;
mod page;
mod prometheus;
mod status;

pub use histogram::{Histogram, Snapshot, BUCKETS};
pub use http::{serve, AdminConfig};
pub use measure::{
    command_of, Classifier, Measure, RequestMetrics, RequestSnapshot, COMMANDS, RESULTS,
};
pub use page::{render as render_page, REFRESH_SECONDS};
pub use prometheus::{Encoder, Kind, CONTENT_TYPE};
pub use status::{Lately, NodeStatus, Recent, Report, Status};
