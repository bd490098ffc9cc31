//! What memcached's command switches do to replies, as memcached 1.6.18 answers:
//! `-C` (no CAS), `-F` (no flush_all), `-X` (no dumping), `-W` (no watch), `-D`
//! (prefix delimiter), `-B ascii` (text only).
//! Binary packets are spelled out byte for byte (CAS fields included: under -C they
//! are 0).

use crate::case::Case;

/// Under `-C`.
pub const NO_CAS: &[Case] = &[
    Case {
        name: "gets and mg c show CAS 0",
        send: b"set c1 0 0 1\r\nx\r\ngets c1\r\nmg c1 c v\r\ngats 0 c1\r\n",
        expect: b"STORED\r\nVALUE c1 0 1 0\r\nx\r\nEND\r\nVA 1 c0\r\nx\r\nVALUE c1 0 1 0\r\nx\r\nEND\r\n",
    },
    Case {
        name: "cas fails on a present item whatever the unique, NOT_FOUND on a missing one",
        send: b"set c2 0 0 1\r\nx\r\ncas c2 0 0 1 0\r\ny\r\ncas c2 0 0 1 5\r\nz\r\ncas c2x 0 0 1 0\r\ny\r\nget c2\r\n",
        expect: b"STORED\r\nEXISTS\r\nEXISTS\r\nNOT_FOUND\r\nVALUE c2 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "ms compares in set and replace modes only",
        send: b"set c3 0 0 1\r\nx\r\nms c3 1 C0\r\nq\r\nms c3 1 C1\r\nq\r\nms c3 1 MA C5\r\ny\r\nms c3 1 MR C5\r\nw\r\nms c3b 1 ME C5\r\nw\r\nms c3 1 c I C0\r\nq\r\nmg c3 v\r\nmg c3b v\r\n",
        expect: b"STORED\r\nEX\r\nEX\r\nHD\r\nEX\r\nHD\r\nEX c0\r\nVA 2\r\nxy\r\nVA 1\r\nw\r\n",
    },
    Case {
        name: "md and ma compare against 0",
        send: b"set c4 0 0 1\r\n5\r\nma c4 C3\r\nma c4 C0 v\r\nmd c4 C7\r\nmd c4 C0\r\nmd c4 C7\r\nmg c4 v\r\n",
        expect: b"STORED\r\nEX\r\nVA 1\r\n6\r\nEX\r\nHD\r\nNF\r\nEN\r\n",
    },
    Case {
        name: "stores, incr and me show CAS 0",
        send: b"set c5 0 0 1\r\n5\r\nincr c5 1\r\nma c5 c v\r\nms c5 1 c\r\nq\r\nmg c5 s v c t f k O123 q\r\nmn\r\nme c5\r\n",
        expect: b"STORED\r\n6\r\nVA 1 c0\r\n7\r\nHD c0\r\nVA 1 s1 c0 t-1 f0 kc5 O123\r\nq\r\nMN\r\nME c5 exp=-1 la=0 cas=0 fetch=yes cls=1 size={u64}\r\n",
    },
    Case {
        name: "binary: a SET with a CAS stores, DELETE with one fails, CAS 0 in every header",
        send: b"\x80\x01\x00\x02\x08\x00\x00\x00\x00\x00\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
                \x00\x00\x00\x00\x00\x00\x00\x00c6v\
                \x80\x01\x00\x02\x08\x00\x00\x00\x00\x00\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\
                \x00\x00\x00\x00\x00\x00\x00\x00c6w\
                \x80\x04\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03c6\
                \x80\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00c6",
        expect: b"\x81\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
                  \x81\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
                  \x81\x04\x00\x00\x00\x00\x00\x02\x00\x00\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00Data exists for key.\
                  \x81\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00w",
    },
];

/// Under `-F`.
pub const NO_FLUSH: &[Case] = &[
    Case {
        name: "flush_all is refused, silently with noreply",
        send: b"flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 0 noreply\r\nflush_all -1\r\nmn\r\n",
        expect: b"CLIENT_ERROR flush_all not allowed\r\nCLIENT_ERROR flush_all not allowed\r\nCLIENT_ERROR flush_all not allowed\r\nMN\r\n",
    },
    Case {
        name: "binary FLUSH and FLUSHQ read Auth failure",
        send: b"\x80\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
                \x80\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
                \x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        expect: b"\x81\x08\x00\x00\x00\x00\x00\x20\x00\x00\x00\x0d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00Auth failure.\
                  \x81\x18\x00\x00\x00\x00\x00\x20\x00\x00\x00\x0d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00Auth failure.\
                  \x81\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    },
];

/// Under `-X` alone.
pub const NO_DUMPING: &[Case] = &[
    Case {
        name: "stats cachedump is refused",
        send: b"stats cachedump 1 1\r\n",
        expect: b"CLIENT_ERROR stats cachedump not allowed\r\n",
    },
    Case {
        name: "lru_crawler metadump is refused",
        send: b"lru_crawler metadump all\r\n",
        expect: b"ERROR metadump not allowed\r\n",
    },
];

/// Under `-W`.
pub const NO_WATCH: &[Case] = &[Case {
    name: "watch is refused",
    send: b"watch\r\nwatch fetchers\r\nmn\r\n",
    expect: b"CLIENT_ERROR watch commands not allowed\r\nCLIENT_ERROR watch commands not allowed\r\nMN\r\n",
}];

/// Under `-D /`: prefixes end at `/`; a key without one has no prefix.
pub const SLASH_DELIMITER: &[Case] = &[Case {
    name: "stats detail counts the part before /",
    send: b"stats detail on\r\nset a/b 0 0 1\r\nx\r\nget a/b a:c\r\nstats detail dump\r\nmn\r\n",
    expect: b"OK\r\nSTORED\r\nVALUE a/b 0 1\r\nx\r\nEND\r\nPREFIX a get 1 hit 1 set 1 del 0\r\nEND\r\nMN\r\n",
}];

/// Under `-B ascii`: binary bytes are read as a text line.
pub const ASCII_ONLY: &[Case] = &[
    Case {
        name: "text and meta are served",
        send: b"set a1 0 0 1\r\nx\r\nget a1\r\nmn\r\n",
        expect: b"STORED\r\nVALUE a1 0 1\r\nx\r\nEND\r\nMN\r\n",
    },
    Case {
        name: "a binary NOOP is read as text: two unknown lines (its opcode is a newline)",
        send: b"\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\r\nmn\r\n",
        expect: b"ERROR\r\nERROR\r\nMN\r\n",
    },
];

/// Under `-B binary`: binary is served.
pub const BINARY_ONLY: &[Case] = &[Case {
    name: "binary NOOP is answered",
    send: b"\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    expect: b"\x81\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
}];
