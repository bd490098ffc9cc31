//! Prometheus' text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
//! family, then its samples, label values escaped.

use std::fmt::Write;

use crate::histogram::{Snapshot, BUCKETS};

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a metric family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets when the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted in buckets.
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Builds the text of one scrape. Write a family's header with [`Encoder::family`],
/// then its samples; families must not interleave.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
}

impl Encoder {
    /// An empty scrape.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Starts a family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", format_value(value));
        self
    }

    /// A histogram's `_bucket` (cumulative, with `le`), `_sum` and `_count` samples.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], snapshot: &Snapshot) {
        let mut cumulative = 0u64;
        for (i, count) in snapshot.counts.iter().enumerate() {
            cumulative += count;
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_sum");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", format_value(snapshot.sum_seconds()));
        let _ = write!(self.out, "{name}_count");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {cumulative}");
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
    for (i, (name, value)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// Whole numbers without a fraction (counters read better), others as Rust prints
/// them (shortest round trip).
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::histogram::Histogram;

    #[test]
    fn families_samples_and_escaped_labels() {
        let mut e = Encoder::new();
        e.family("memkeep_up", Kind::Gauge, "Whether the backend answers.")
            .sample("memkeep_up", &[("backend", "a\"b\\c\nd")], 1.0)
            .sample("memkeep_up", &[], 0.5);
        assert_eq!(
            e.finish(),
            "# HELP memkeep_up Whether the backend answers.\n\
             # TYPE memkeep_up gauge\n\
             memkeep_up{backend=\"a\\\"b\\\\c\\nd\"} 1\n\
             memkeep_up 0.5\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_secs(5));
        let mut e = Encoder::new();
        e.histogram("lat_seconds", &[("cmd", "get")], &h.snapshot());
        let text = e.finish();
        assert!(text.starts_with("lat_seconds_bucket{cmd=\"get\",le=\"0.00005\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{cmd=\"get\",le=\"2.5\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("lat_seconds_sum{cmd=\"get\"} 5.00001\n"));
        assert!(text.ends_with("lat_seconds_count{cmd=\"get\"} 2\n"));
    }
}
