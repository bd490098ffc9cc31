//! Malformed requests: the error, whether the connection closes, what is swallowed.

use super::*;

/// (input, error, close, swallow, bytes consumed)
const ERRORS: &[(&[u8], ProtocolError, bool, usize, usize)] = &[
    (b"mg\r\n", ProtocolError::UnknownCommand, false, 0, 4),
    (b"mg\r\r\n", ProtocolError::UnknownCommand, false, 0, 5),
    (b"md\r\n", ProtocolError::UnknownCommand, false, 0, 4),
    (b"ma \r\n", ProtocolError::UnknownCommand, false, 0, 5),
    (b"mg foo z\r\n", ProtocolError::InvalidFlag, false, 0, 10),
    (b"mg foo E5\r\n", ProtocolError::InvalidFlag, false, 0, 11),
    (
        b"mg foo v v\r\n",
        ProtocolError::DuplicateFlag,
        false,
        0,
        12,
    ),
    (b"mg foo Tx\r\n", ProtocolError::BadToken, false, 0, 11),
    (b"mg foo Cx\r\n", ProtocolError::BadToken, false, 0, 11),
    (
        b"mg foo Fx\r\n",
        ProtocolError::BadCommandLine,
        false,
        0,
        11,
    ),
    (b"mg foo b\r\n", ProtocolError::BadBase64Key, false, 0, 10),
    (b"mg foo MXY\r\n", ProtocolError::BadModeToken, false, 0, 12),
    (
        b"mg foo Jx\r\n",
        ProtocolError::InvalidInitial,
        false,
        0,
        11,
    ),
    (
        b"mg foo Dx\r\n",
        ProtocolError::InvalidDeltaToken,
        false,
        0,
        11,
    ),
    (
        b"mg foo O123456789012345678901234567890123\r\n",
        ProtocolError::OpaqueTooLong,
        false,
        0,
        43,
    ),
    (
        b"mg foo c f h k l s t v O1 q u P L T1 N1 R1 C1 F1\r\n",
        ProtocolError::TooManyFlags,
        false,
        0,
        50,
    ),
    (
        b"md foo Cx\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        11,
    ),
    (
        b"md foo x\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        10,
    ),
    (
        b"ma foo Jx\r\n",
        ProtocolError::InvalidOrDuplicateFlag,
        false,
        0,
        11,
    ),
    (
        b"ma foo MX\r\n",
        ProtocolError::InvalidArithMode,
        false,
        0,
        11,
    ),
    (
        b"ma foo Mi\r\n",
        ProtocolError::InvalidArithMode,
        false,
        0,
        11,
    ),
    (
        b"md foo O123456789012345678901234567890123\r\n",
        ProtocolError::OpaqueTooLong,
        false,
        0,
        43,
    ),
    (b"me\r\n", ProtocolError::BadCommandLine, false, 0, 4),
    (b"me foo b\r\n", ProtocolError::BadCommandLine, false, 0, 10),
    // No data length: no block declared, nothing to discard.
    (b"ms\r\n", ProtocolError::UnknownCommand, false, 0, 4),
    (b"ms foo\r\n", ProtocolError::BadCommandLine, false, 0, 8),
    // A data length that is not a number: a block of unknown length may follow.
    (b"ms foo q\r\n", ProtocolError::BadCommandLine, true, 0, 10),
    (
        b"ms foo S2\r\nhi\r\n",
        ProtocolError::BadCommandLine,
        true,
        0,
        11,
    ),
    (
        b"ms foo -1\r\nhi\r\n",
        ProtocolError::BadCommandLine,
        true,
        0,
        11,
    ),
    (
        b"ms foo 2 zz\r\nhi\r\n",
        ProtocolError::InvalidFlag,
        false,
        4,
        13,
    ),
    (
        b"ms foo 2 T1 T2\r\nhi\r\n",
        ProtocolError::DuplicateFlag,
        false,
        4,
        16,
    ),
    (
        b"ms foo 2 Ms\r\nhi\r\n",
        ProtocolError::InvalidMode,
        false,
        4,
        13,
    ),
    (
        b"ms foo 2 MEE\r\nhi\r\n",
        ProtocolError::BadModeToken,
        false,
        4,
        14,
    ),
    (
        b"ms foo 2 b\r\nhi\r\n",
        ProtocolError::BadBase64Key,
        false,
        4,
        12,
    ),
    (
        b"ms foo 2 O123456789012345678901234567890123 MX\r\n",
        ProtocolError::InvalidMode,
        false,
        4,
        48,
    ),
    // Too many flags: memcached reads the block as commands; it is discarded here.
    (
        b"ms foo 2 a b c d e f g h i j k l m n o p q r s t u\r\nhi\r\n",
        ProtocolError::FlagsTooLong,
        false,
        4,
        52,
    ),
    (
        b"ms foo 2\r\nhixx",
        ProtocolError::BadDataChunk,
        true,
        0,
        14,
    ),
    (
        b"ms foo 2\nhi\nmn\r\n",
        ProtocolError::BadDataChunk,
        true,
        0,
        13,
    ),
];

#[test]
fn rejects_like_memcached() {
    for &(input, error, close, swallow, consumed) in ERRORS {
        let mut buf = BytesMut::from(input);
        let mut swallowed = 0;
        let err =
            crate::meta::decode_request(&mut buf, &Limits::default(), &mut swallowed).unwrap_err();
        assert_eq!(
            (err.error, err.close, swallowed),
            (error, close, swallow),
            "{input:?}"
        );
        assert_eq!(input.len() - buf.len(), consumed, "{input:?}");
    }
}

#[test]
fn rejects_long_keys_before_anything_else() {
    for verb in ["mg", "md", "ma"] {
        let line = format!("{verb} {} zz\r\n", "a".repeat(251));
        let mut buf = BytesMut::from(line.as_bytes());
        let err = Decoder::default().decode(&mut buf).unwrap_err();
        assert_eq!((err.error, err.close), (ProtocolError::KeyTooLong, false));
        assert_eq!(err.to_string(), "CLIENT_ERROR bad command line format");
    }
    // The block after a long key is discarded (memcached reads it as commands).
    let mut buf = BytesMut::from(format!("ms {} 2\r\nhi\r\nmn\r\n", "a".repeat(251)).as_bytes());
    let mut decoder = Decoder::default();
    let err = decoder.decode(&mut buf).unwrap_err();
    assert_eq!((err.error, err.close), (ProtocolError::KeyTooLong, false));
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap().command,
        Command::Noop
    );
    // Without a data length there is no block to discard.
    let mut buf = BytesMut::from(format!("ms {}\r\nmn\r\n", "a".repeat(251)).as_bytes());
    let err = decoder.decode(&mut buf).unwrap_err();
    assert_eq!((err.error, err.close), (ProtocolError::KeyTooLong, false));
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap().command,
        Command::Noop
    );
    assert_eq!(
        decode(format!("mg {}\r\n", "a".repeat(250)).as_bytes())
            .command
            .key()
            .unwrap()
            .len(),
        250
    );
}

#[test]
fn waits_for_a_line_but_not_forever() {
    let mut buf = BytesMut::from(&b"mg foo v"[..]);
    assert_eq!(Decoder::default().decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 8);
    let mut buf = BytesMut::from(
        vec![b'm', b'g', b' ']
            .into_iter()
            .chain([b'a'; 3000])
            .collect::<Vec<_>>()
            .as_slice(),
    );
    let err = Decoder::default().decode(&mut buf).unwrap_err();
    assert_eq!((err.error, err.close), (ProtocolError::LineTooLong, true));
}

#[test]
fn a_value_too_large_is_a_request_whose_block_is_discarded() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"ms foo 2000000 MA O1 q\r\nabc"[..]);
    let request = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        request.command,
        Command::TooLarge(crate::TooLarge {
            mode: crate::StoreMode::Append,
            key: Bytes::from_static(b"foo"),
            cas: None,
        })
    );
    buf.extend_from_slice(&vec![b'x'; 1_999_997]);
    buf.extend_from_slice(b"\r\nmn\r\n");
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap().command,
        Command::Noop
    );
    assert!(buf.is_empty());
}

#[test]
fn swallows_a_rejected_value_then_goes_on() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"ms foo 2 zz\r\nhi\r\nmn\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap_err().error,
        ProtocolError::InvalidFlag
    );
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap().command,
        Command::Noop
    );
    assert!(buf.is_empty());
}
