//! Certificate problems told in words naming the fix, by every subcommand: an
//! unknown CA, no client certificate, plain text to a TLS server and the reverse, a
//! certificate for another name, an expired one, a self-signed CA certificate as a
//! server's own; and the fixes the words give, working.

use crate::certs::{openssl_self_signed, Authority, Leaf};
use crate::pki::TempDir;
use crate::support::Server;
use crate::{locked_down, memkeep, setup, strs, with};

/// memkeepd with TLS only, its certificate `<stem>.crt` and `<stem>.key`.
fn tls_only(dir: &TempDir, stem: &str) -> Server {
    let flags = [
        "-Z".to_owned(),
        "-o".to_owned(),
        format!(
            "ssl_chain_cert={},ssl_key={}",
            dir.arg(&format!("{stem}.crt")),
            dir.arg(&format!("{stem}.key"))
        ),
    ];
    Server::memkeepd(&strs(&flags))
}

/// One way to get a connection wrong.
struct Case<'a> {
    what: &'a str,
    server: &'a Server,
    flags: Vec<&'a str>,
    /// What memkeep must say.
    words: &'a str,
    /// The rustls name that must not show.
    variant: &'a str,
}

#[test]
fn certificate_problems_are_told_in_words() {
    let (dir, ca) = setup();
    let other = Authority::new("another CA", &dir.file("other-ca.crt"));
    let for_localhost = || Leaf {
        names: &["127.0.0.1"],
        expires: None,
    };
    other.issue(&dir.0, "other-client", for_localhost());
    let wrong_name = Leaf {
        names: &["cache.example"],
        expires: None,
    };
    ca.issue(&dir.0, "wrong-name", wrong_name);
    let expired = Leaf {
        expires: Some((2021, 1, 1)),
        ..for_localhost()
    };
    ca.issue(&dir.0, "expired", expired);
    openssl_self_signed(&dir.0, "self-ca", false);
    openssl_self_signed(&dir.0, "self-leaf", true);

    let locked = |cert: &str| Server::memkeepd(&strs(&locked_down(&dir, cert)));
    let (good, wrong_name, expired) = (locked("server"), locked("wrong-name"), locked("expired"));
    let self_signed_ca = tls_only(&dir, "self-ca");
    let files = [
        "ca.crt",
        "other-ca.crt",
        "client.crt",
        "client.key",
        "ops.auth",
    ];
    let [ca_file, other_ca, client, key, auth] = files.map(|f| dir.arg(f));
    let self_ca_file = dir.arg("self-ca.crt");
    let login = ["--auth-file", auth.as_str()];
    let client_cert = ["--tls-cert", client.as_str(), "--tls-key", key.as_str()];
    let full = with(&with(&["--tls-ca", &ca_file], &client_cert), &login);

    let cases = [
        Case {
            what: "a CA we do not trust",
            server: &good,
            flags: with(&with(&["--tls-ca", &other_ca], &client_cert), &login),
            words: "not signed by a CA we trust",
            variant: "UnknownIssuer",
        },
        Case {
            what: "no client certificate",
            server: &good,
            flags: with(&["--tls-ca", &ca_file], &login),
            // The alert says so; should the connection be reset before it is read,
            // the words still name the flags.
            words: "client certificate: pass --tls-cert FILE and --tls-key FILE",
            variant: "CertificateRequired",
        },
        Case {
            what: "plain text to a TLS server",
            server: &good,
            flags: login.to_vec(),
            words: "pass --tls",
            variant: "\\x15",
        },
        Case {
            what: "a certificate for another name",
            server: &wrong_name,
            flags: full.clone(),
            words: "not made out for 127.0.0.1: it lists cache.example",
            variant: "NotValidForName",
        },
        Case {
            what: "an expired certificate",
            server: &expired,
            flags: full.clone(),
            words: "the server's certificate expired",
            variant: "Expired",
        },
        Case {
            what: "a self-signed CA certificate as the server's",
            server: &self_signed_ca,
            flags: vec!["--tls-ca", &self_ca_file],
            words: "is a CA certificate",
            variant: "CaUsedAsEndEntity",
        },
    ];
    for Case {
        what,
        server,
        flags,
        words,
        variant,
    } in &cases
    {
        let addr = server.addr();
        let run = memkeep(&with(&["stats", &addr], flags), &[]);
        assert_ne!(run.code, 0, "{what}");
        assert!(run.stdout.contains(words), "{what}: {}", run.text());
        assert!(!run.text().contains(variant), "{what}: {}", run.text());
        let run = memkeep(&with(&["check", &addr], flags), &[]);
        assert_eq!(run.code, 2, "{what}: {}", run.text());
        assert!(
            run.stdout.starts_with("MEMKEEP CRITICAL") && run.stdout.contains(words),
            "{what}: {}",
            run.text()
        );
        let bench = ["bench", "--no-progress", "-s", &addr, "-n", "10"];
        let run = memkeep(&with(&bench, flags), &[]);
        assert_ne!(run.code, 0, "{what}");
        assert!(run.stderr.contains(words), "{what}: {}", run.text());
        let run = memkeep(&with(&["dump", &addr], flags), &[]);
        assert_ne!(run.code, 0, "{what}");
        assert!(run.stderr.contains(words), "{what}: {}", run.text());
    }

    // The fixes the words give work: the right CA; a self-signed certificate
    // without CA:TRUE, passed as its own CA.
    let run = memkeep(&with(&["stats", &good.addr()], &full), &[]);
    assert!(run.stdout.contains(" up "), "{}", run.text());
    let self_signed = tls_only(&dir, "self-leaf");
    let leaf_file = dir.arg("self-leaf.crt");
    let run = memkeep(&["stats", &self_signed.addr(), "--tls-ca", &leaf_file], &[]);
    assert!(run.stdout.contains(" up "), "{}", run.text());

    // TLS to a plain server.
    let plain = Server::memkeepd(&[]);
    let run = memkeep(&["stats", &plain.addr(), "--tls-ca", &ca_file], &[]);
    assert!(run.stdout.contains("drop --tls"), "{}", run.text());
    // A client certificate from a CA the server does not trust.
    let [other_cert, other_key] = ["other-client.crt", "other-client.key"].map(|f| dir.arg(f));
    let flags = [
        "--tls-ca",
        &ca_file,
        "--tls-cert",
        &other_cert,
        "--tls-key",
        &other_key,
    ];
    let run = memkeep(&with(&["stats", &good.addr()], &flags), &[]);
    // The alert says it was refused; should the connection be reset before it is
    // read, the words still point at the client certificate.
    assert!(
        run.stdout.contains("refused our client certificate"),
        "{}",
        run.text()
    );
}
