//! Frames round trip, split anywhere; garbage and other versions are told apart.

use super::*;

fn frames() -> Vec<Frame> {
    vec![
        Frame::Hello {
            version: LINK_VERSION,
            run: 7,
            role: Role::Replica,
            addr: "127.0.0.1:11212".into(),
        },
        Frame::Want {
            stream: true,
            resume: Some(42),
        },
        Frame::Want {
            stream: false,
            resume: None,
        },
        Frame::Resume(3),
        Frame::CopyBegin,
        Frame::CopyEnd(9),
        Frame::Record {
            seq: 5,
            route: Route {
                origin: 99,
                hops: 2,
            },
            record: Record::Item {
                key: Bytes::from_static(b"key"),
                data: Bytes::from_static(b"value"),
                flags: 3,
                expires: 1_900_000_000,
                cas: 77,
            },
        },
        Frame::Record {
            seq: 6,
            route: Route::default(),
            record: Record::Delete {
                key: Bytes::from_static(b"gone"),
                cas: 78,
            },
        },
        Frame::Record {
            seq: 7,
            route: Route::default(),
            record: Record::Flush { at: 0, cas: 79 },
        },
        Frame::Record {
            seq: 10,
            route: Route::default(),
            record: Record::Touch {
                key: Bytes::from_static(b"t"),
                cas: 5,
                expires: 1_800_000_000,
                stamp: 6,
            },
        },
        Frame::Ping,
        Frame::Position(12),
    ]
}

#[test]
fn frames_round_trip_and_split_anywhere() {
    let mut all = BytesMut::new();
    for f in frames() {
        f.encode(&mut all);
    }
    for cut in 0..all.len() {
        let mut buf = BytesMut::from(&all[..cut]);
        let mut got = Vec::new();
        while let Some(f) = Frame::decode(&mut buf).unwrap() {
            got.push(f);
        }
        buf.extend_from_slice(&all[cut..]);
        while let Some(f) = Frame::decode(&mut buf).unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames(), "cut at {cut}");
    }
}

#[test]
fn garbage_is_refused() {
    let mut buf = BytesMut::from(&b"get foo\r\n"[..]);
    assert!(Frame::decode(&mut buf).is_err());
    let mut buf = BytesMut::from(&[0, 0, 0, 1, 200][..]);
    assert_eq!(Frame::decode(&mut buf), Err(BadFrame("tag")));
}

#[test]
fn an_older_hello_is_read_with_its_version() {
    // Version 2's hello: magic "mkr" 2, run id, role, nothing after.
    let mut buf = BytesMut::new();
    buf.put_u32(14);
    buf.put_u8(HELLO);
    buf.put_u32(0x6d6b_7202);
    buf.put_u64(5);
    buf.put_u8(0);
    assert_eq!(
        Frame::decode(&mut buf),
        Ok(Some(Frame::Hello {
            version: 2,
            run: 5,
            role: Role::Pair,
            addr: String::new(),
        }))
    );
}
