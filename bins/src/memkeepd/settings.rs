//! `stats settings`: memcached's names for the settings that apply to memkeepd.

use super::args::{Args, Binding};
use super::extended::Extended;

/// The `stats settings` lines for this command line.
pub fn lines(args: &Args, extended: &Extended) -> Vec<(String, String)> {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let socket = args
        .unix_socket
        .as_ref()
        .map_or("NULL".to_owned(), |p| p.display().to_string());
    let mut lines = vec![
        ("maxbytes".into(), args.memory_bytes().to_string()),
        ("maxconns".into(), args.conn_limit.to_string()),
        ("tcpport".into(), args.port.to_string()),
        ("udpport".into(), args.udp_port.to_string()),
        ("inter".into(), args.listen()),
        ("verbosity".into(), args.verbose.to_string()),
        (
            "evictions".into(),
            if args.disable_evictions { "off" } else { "on" }.into(),
        ),
        ("domain_socket".into(), socket),
        ("umask".into(), format!("{:o}", args.unix_mask)),
        ("shutdown_command".into(), yes_no(args.enable_shutdown)),
        ("num_threads".into(), args.threads.to_string()),
        ("cas_enabled".into(), yes_no(!args.disable_cas)),
        ("tcp_backlog".into(), args.backlog.to_string()),
        (
            "binding_protocol".into(),
            match args.binding() {
                Binding::Auto => "auto-negotiate",
                Binding::Ascii => "ascii",
                Binding::Binary => "binary",
            }
            .into(),
        ),
        ("auth_enabled_sasl".into(), yes_no(args.enable_sasl)),
        (
            "auth_enabled_ascii".into(),
            args.auth_file
                .as_ref()
                .map_or("no".to_owned(), |p| p.display().to_string()),
        ),
        ("item_size_max".into(), args.max_item_size.to_string()),
        ("maxconns_fast".into(), "yes".into()),
        ("flush_enabled".into(), yes_no(!args.disable_flush_all)),
        ("dump_enabled".into(), yes_no(!args.dumping_disabled())),
        (
            "idle_timeout".into(),
            extended.idle_timeout.map_or(0, |d| d.as_secs()).to_string(),
        ),
        (
            "request_timeout".into(),
            extended
                .request_timeout
                .map_or(0, |d| d.as_secs())
                .to_string(),
        ),
        ("ssl_enabled".into(), yes_no(args.enable_ssl)),
    ];
    lines.extend(extended.ssl.settings());
    // -e: where the cache is saved on an orderly stop; last, as in memcached.
    lines.push((
        "memory_file".into(),
        args.memory_file
            .as_ref()
            .map_or("(null)".to_owned(), |p| p.display().to_string()),
    ));
    lines
}
