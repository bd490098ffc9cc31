//! The status page: one HTML document, no script. It refreshes itself with a
//! `<meta http-equiv="refresh">`, so it works in any browser and in a terminal one.

use std::fmt::Write;

use crate::status::{NodeStatus, Status};

/// Seconds between the page's refreshes.
pub const REFRESH_SECONDS: u32 = 5;

/// Renders the page.
pub fn render(status: &Status) -> String {
    let mut out = String::with_capacity(4096);
    let title = format!("{} status", escape(&status.server));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n\
         <h1>{title}</h1>\n<p class=\"summary\">version {} &middot; up {} &middot; \
         <span class=\"{}\">{}</span></p>\n",
        escape(&status.version),
        uptime(status.uptime_seconds),
        if status.healthy { "up" } else { "down" },
        escape(&status.health),
    );
    out.push_str(
        "<table>\n<thead><tr><th>group</th><th>node</th><th>address</th><th>state</th>\
         <th>hit rate</th><th>memory used / limit</th><th>p50</th><th>p99</th>\
         <th>ops/s</th><th>replication</th></tr></thead>\n<tbody>\n",
    );
    for node in &status.nodes {
        row(&mut out, node);
    }
    let _ = write!(
        out,
        "</tbody></table>\n<p class=\"foot\">Refreshes every {REFRESH_SECONDS} s. \
         Also: <a href=\"/metrics\">/metrics</a> &middot; <a href=\"/status\">/status</a> \
         &middot; <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n"
    );
    out
}

fn row(out: &mut String, node: &NodeStatus) {
    let memory = match (node.memory_used_bytes, node.memory_limit_bytes) {
        (Some(used), Some(limit)) if limit > 0 => format!(
            "{} / {} ({:.1}%)",
            mib(used),
            mib(limit),
            used as f64 * 100.0 / limit as f64
        ),
        (Some(used), _) => mib(used),
        _ => "-".into(),
    };
    let cells = [
        escape(&node.group),
        escape(&node.name),
        escape(&node.address),
        format!(
            "<span class=\"{}\">{}</span>",
            state_class(&node.state),
            escape(&node.state)
        ),
        optional(node.hit_rate.map(|h| format!("{:.1}%", h * 100.0))),
        memory,
        optional(node.latency_p50_ms.map(milliseconds)),
        optional(node.latency_p99_ms.map(milliseconds)),
        optional(node.ops_per_second.map(|r| format!("{r:.1}"))),
        optional(node.replication.as_deref().map(escape)),
    ];
    out.push_str("<tr>");
    for cell in cells {
        let _ = write!(out, "<td>{cell}</td>");
    }
    out.push_str("</tr>\n");
}

fn state_class(state: &str) -> &'static str {
    match state {
        "up" | "synced" => "up",
        "ejected" | "warming" => "warn",
        _ => "down",
    }
}

fn optional(cell: Option<String>) -> String {
    cell.unwrap_or_else(|| "-".into())
}

fn milliseconds(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else {
        format!("{ms:.2} ms")
    }
}

fn mib(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn uptime(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else {
        format!("{h}h {m}m {s}s")
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin-bottom:.2em}.summary{color:#555}\
table{border-collapse:collapse;margin-top:1em}\
th,td{padding:.35em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\
th:nth-child(-n+4),td:nth-child(-n+4),td:last-child,th:last-child{text-align:left}\
td:last-child{white-space:normal;max-width:20em}\
thead th{background:#f3f3f3}\
.up{color:#fff;background:#2a7;padding:.1em .5em;border-radius:.3em}\
.warn{color:#000;background:#fc3;padding:.1em .5em;border-radius:.3em}\
.down{color:#fff;background:#c33;padding:.1em .5em;border-radius:.3em}\
.foot{color:#777;font-size:.9em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_row_per_node_escaped_and_refreshes() {
        let status = Status {
            server: "memkeep-proxy".into(),
            version: "0.1.0".into(),
            uptime_seconds: 3725,
            healthy: true,
            health: "serving".into(),
            nodes: vec![
                NodeStatus {
                    group: "alpha".into(),
                    name: "<cache-a>".into(),
                    address: "127.0.0.1:11211".into(),
                    state: "up".into(),
                    hit_rate: Some(0.5),
                    memory_used_bytes: Some(1 << 20),
                    memory_limit_bytes: Some(64 << 20),
                    latency_p50_ms: Some(0.2),
                    latency_p99_ms: Some(1.5),
                    ops_per_second: Some(1000.0),
                    replication: None,
                },
                NodeStatus {
                    state: "ejected".into(),
                    ..NodeStatus::default()
                },
            ],
        };
        let page = render(&status);
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(!page.contains("<script"));
        assert_eq!(page.matches("<tr><td>").count(), 2);
        assert!(page.contains("&lt;cache-a&gt;"));
        assert!(page.contains("<td>50.0%</td>"));
        assert!(page.contains("1.0 MiB / 64.0 MiB (1.6%)"));
        assert_eq!(mib(1536), "1.5 KiB");
        assert!(page.contains("200 µs") && page.contains("1.50 ms"));
        assert!(page.contains("<span class=\"warn\">ejected</span>"));
        assert!(page.contains("up 1h 2m 5s"));
    }
}
