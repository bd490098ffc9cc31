//! memkeepd's flags read as memcached reads them: atoi numbers, repeated flags, `-X`'s two
//! meanings, the checks between flags.

use super::*;

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("memkeepd").chain(args.iter().copied()))
}

#[test]
fn memcached_command_lines_parse() {
    let a = parse(&[
        "-p", "12345", "-m", "128", "-c", "10", "-t", "2", "-vv", "-I", "2m",
    ])
    .unwrap();
    assert_eq!(
        (a.port, a.memory_limit, a.conn_limit, a.threads, a.verbose),
        (12345, 128, 10, 2, 2)
    );
    assert_eq!(a.item_size_max(), 2 * 1024 * 1024);
    assert_eq!(a.listen(), "127.0.0.1");
    let a = parse(&[
        "-p11211",
        "-U",
        "0",
        "-o",
        "idle_timeout=5,modern,hashpower=20",
    ])
    .unwrap();
    let ext = a.validate().unwrap();
    assert_eq!(ext.idle_timeout, Some(std::time::Duration::from_secs(5)));
}

#[test]
fn the_last_of_a_repeated_flag_wins_and_listen_adds_up() {
    let a = parse(&["-m", "64", "-p", "1", "-m", "1024", "-p", "2"]).unwrap();
    assert_eq!((a.memory_limit, a.port), (1024, 2));
    let a = parse(&["-l", "127.0.0.1", "-l", "10.0.0.1,127.0.0.1", "-vv", "-v"]).unwrap();
    assert_eq!(a.listen(), "127.0.0.1,10.0.0.1");
    assert_eq!(a.verbose, 3);
    let a = parse(&["-o", "modern", "-o", "idle_timeout=3"]).unwrap();
    assert_eq!(a.extended.len(), 2);
}

#[test]
fn numbers_are_read_like_atoi() {
    let a = parse(&["-m", "64m", "-b", "abc", "-a", "18", "-I", "1.5m"]).unwrap();
    assert_eq!((a.memory_limit, a.backlog, a.unix_mask), (64, 0, 1));
    assert_eq!(a.max_item_size, 1024 * 1024);
    assert_eq!(parse(&["-b", "-1"]).unwrap().backlog, -1);
    assert!(parse(&["-p", "70000"])
        .unwrap_err()
        .to_string()
        .contains("Invalid port number 70000"));
    assert!(parse(&["-c", "abc"]).is_err());
    assert!(parse(&["-f", "1.0"]).is_err());
    assert!(parse(&["-B", "foo"]).is_err());
}

#[test]
fn dash_x_is_dumping_alone_and_replication_with_a_port() {
    let a = parse(&["-X"]).unwrap();
    assert!(a.dumping_disabled() && a.replication_port().is_none());
    let a = parse(&["-X", "11212", "-x", "peer"]).unwrap();
    assert!(!a.dumping_disabled());
    assert_eq!(a.replication_port(), Some(11212));
    assert!(parse(&["-X", "-p", "5"]).unwrap().dumping_disabled());
}

#[test]
fn cross_flag_checks() {
    let refused = |args: &[&str], message: &str| {
        let error = parse(args).unwrap().validate().unwrap_err();
        assert!(error.contains(message), "{args:?}: {error}");
    };
    refused(&["-I", "256m"], "1/2 of memory max");
    refused(&["-m", "-5"], "cannot be negative");
    refused(&["-U", "11211"], "UDP");
    refused(&["-S", "-B", "ascii"], "ASCII protocol while using SASL");
    refused(&["-Y", "f", "-B", "auto"], "BINARY protocol");
    refused(&["-N", "5"], "napi_ids(5)");
    refused(&["-Z", "-p", "0"], "SSL without a TCP port");
    refused(&["-o", "bogus=1"], "Illegal suboption");
    assert!(parse(&["-I", "256m", "-m", "1024"])
        .unwrap()
        .validate()
        .is_ok());
}
