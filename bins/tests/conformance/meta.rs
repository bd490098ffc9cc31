//! memcached 1.6.18's meta protocol, byte for byte: what a client sends on a fresh
//! connection and exactly what memcached replies. `{u64}` stands for a CAS value.
//! Values too long to write out (the 2 MB value) are left out; see the protocol
//! crate's unit tests for them.

use super::Case;

pub const CASES: &[Case] = &[
    Case {
        name: "meta: mn",
        send: b"mn\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "meta: mn ignores arguments",
        send: b"mn foo bar\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "meta: mg miss",
        send: b"mg foo v\r\n",
        expect: b"EN\r\n",
    },
    Case {
        name: "meta: mg miss quiet is silent",
        send: b"mg foo v q\r\nmn\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "meta: mg miss echoes opaque and key",
        send: b"mg foo k O123 v\r\n",
        expect: b"EN kfoo O123\r\n",
    },
    Case {
        name: "meta: mg miss echoes base64 key",
        send: b"mg Zm9v b k O1 v\r\n",
        expect: b"EN kZm9v b O1\r\n",
    },
    Case {
        name: "meta: ms then mg value",
        send: b"ms foo 2\r\nhi\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\n",
    },
    Case {
        name: "meta: mg hit without v is HD",
        send: b"ms foo 2\r\nhi\r\nmg foo s\r\n",
        expect: b"HD\r\nHD s2\r\n",
    },
    Case {
        name: "meta: mg return flags in request order",
        send: b"ms foo 2 F5\r\nhi\r\nmg foo s v f k O9 c\r\n",
        expect: b"HD\r\nVA 2 s2 f5 kfoo O9 c{u64}\r\nhi\r\n",
    },
    Case {
        name: "meta: mg t without expiry is -1",
        send: b"ms foo 2\r\nhi\r\nmg foo t v\r\n",
        expect: b"HD\r\nVA 2 t-1\r\nhi\r\n",
    },
    Case {
        name: "meta: mg h reports earlier fetch",
        send: b"ms foo 2\r\nhi\r\nmg foo h\r\nmg foo h\r\n",
        expect: b"HD\r\nHD h0\r\nHD h1\r\n",
    },
    Case {
        name: "meta: mg quiet hit is written",
        send: b"ms foo 2\r\nhi\r\nmg foo v q\r\nmn\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\nMN\r\n",
    },
    Case {
        name: "meta: mg u and T accepted",
        send: b"ms foo 2\r\nhi\r\nmg foo u T0 v\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\n",
    },
    Case {
        name: "meta: mg N vivifies and wins once",
        send: b"mg foo N30 v\r\nmg foo v\r\n",
        expect: b"VA 0 W\r\n\r\nVA 0 Z\r\n\r\n",
    },
    Case {
        name: "meta: mg N quiet still answers the win",
        send: b"mg foo N30 v q\r\nmn\r\n",
        expect: b"VA 0 W\r\n\r\nMN\r\n",
    },
    Case {
        name: "meta: mg R wins recache below ttl",
        send: b"ms foo 2 T10\r\nhi\r\nmg foo R30 v\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 2 W\r\nhi\r\nVA 2 Z\r\nhi\r\n",
    },
    Case {
        name: "meta: mg R ignored for no-expiry item",
        send: b"ms foo 2\r\nhi\r\nmg foo R30 v\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\n",
    },
    Case {
        name: "meta: md I marks stale then one win",
        send: b"ms foo 2\r\nhi\r\nmd foo I q\r\nmg foo v\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 2 X W\r\nhi\r\nVA 2 Z X\r\nhi\r\n",
    },
    Case {
        name: "meta: base64 key round trip",
        send: b"ms Zm9v 2 b\r\nhi\r\nmg foo v\r\nmg Zm9v b k v\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\nVA 2 kZm9v b\r\nhi\r\n",
    },
    Case {
        name: "meta: base64 key lenient decode",
        send: b"ms Zm9v!! 2 b k\r\nhi\r\nmg foo v\r\n",
        expect: b"HD kZm9v b\r\nVA 2\r\nhi\r\n",
    },
    Case {
        name: "meta: ms returns cas key opaque",
        send: b"ms foo 2 c k O5\r\nhi\r\n",
        expect: b"HD c{u64} kfoo O5\r\n",
    },
    Case {
        name: "meta: ms base64 k then b",
        send: b"ms Zm9v 2 k c O5 b\r\nhi\r\n",
        expect: b"HD kZm9v b c{u64} O5\r\n",
    },
    Case {
        name: "meta: ms quiet success is silent",
        send: b"ms foo 2 q\r\nhi\r\nmn\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "meta: ms add twice",
        send: b"ms foo 2 ME c k O5\r\nhi\r\nms foo 2 ME c k O6\r\nhi\r\n",
        expect: b"HD c{u64} kfoo O5\r\nNS c0 kfoo O6\r\n",
    },
    Case {
        name: "meta: ms replace missing",
        send: b"ms foo 2 MR c k O5\r\nhi\r\n",
        expect: b"NS c0 kfoo O5\r\n",
    },
    Case {
        name: "meta: ms append missing",
        send: b"ms foo 2 MA\r\nhi\r\n",
        expect: b"NS\r\n",
    },
    Case {
        name: "meta: ms append and prepend",
        send: b"ms foo 2\r\nhi\r\nms foo 1 MA\r\n!\r\nms foo 1 MP\r\n>\r\nmg foo v\r\n",
        expect: b"HD\r\nHD\r\nHD\r\nVA 4\r\n>hi!\r\n",
    },
    Case {
        name: "meta: ms explicit set mode",
        send: b"ms foo 2 MS\r\nhi\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 2\r\nhi\r\n",
    },
    Case {
        name: "meta: ms cas on missing is NF",
        send: b"ms foo 2 C99 c k O5\r\nhi\r\n",
        expect: b"NF c0 kfoo O5\r\n",
    },
    Case {
        name: "meta: ms cas mismatch quiet still EX",
        send: b"ms foo 2\r\nhi\r\nms foo 2 C1 c k O7 q\r\nhi\r\nmn\r\n",
        expect: b"HD\r\nEX c0 kfoo O7\r\nMN\r\n",
    },
    Case {
        name: "meta: ms flags truncate to 32 bits",
        send: b"ms foo 2 F4294967297\r\nhi\r\nmg foo f v\r\n",
        expect: b"HD\r\nVA 2 f1\r\nhi\r\n",
    },
    Case {
        name: "meta: ms signed tokens",
        send: b"ms foo +2 F+7\r\nhi\r\nmg foo f v\r\n",
        expect: b"HD\r\nVA 2 f7\r\nhi\r\n",
    },
    Case {
        name: "meta: ms empty value",
        send: b"ms foo 0\r\n\r\nmg foo v s\r\n",
        expect: b"HD\r\nVA 0 s0\r\n\r\n",
    },
    Case {
        name: "meta: ms value with CRLF inside",
        send: b"ms foo 4\r\na\r\nb\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 4\r\na\r\nb\r\n",
    },
    Case {
        name: "meta: bare LF line endings",
        send: b"mg foo v\nmn\n",
        expect: b"EN\r\nMN\r\n",
    },
    Case {
        name: "meta: line ends at NUL",
        send: b"mg foo\0 zz v\r\nmn\r\n",
        expect: b"EN\r\nMN\r\n",
    },
    Case {
        name: "meta: extra spaces and tab in flag",
        send: b"mg  foo   v\t  \r\nmn\r\n",
        expect: b"EN\r\nMN\r\n",
    },
    Case {
        name: "meta: md hit",
        send: b"ms foo 2\r\nhi\r\nmd foo\r\nmg foo v\r\n",
        expect: b"HD\r\nHD\r\nEN\r\n",
    },
    Case {
        name: "meta: md miss",
        send: b"md foo\r\n",
        expect: b"NF\r\n",
    },
    Case {
        name: "meta: md quiet hides HD not NF",
        send: b"ms foo 2 q\r\nhi\r\nmd foo q\r\nmd foo q\r\nmn\r\n",
        expect: b"NF\r\nMN\r\n",
    },
    Case {
        name: "meta: md echoes opaque and key in order",
        send: b"md foo q O1 k\r\nmn\r\n",
        expect: b"NF O1 kfoo\r\nMN\r\n",
    },
    Case {
        name: "meta: md cas mismatch",
        send: b"ms foo 2\r\nhi\r\nmd foo C1\r\n",
        expect: b"HD\r\nEX\r\n",
    },
    Case {
        name: "meta: md ignores flags of other verbs",
        send: b"md foo c f h k l s t v O1 u P L T1 N1 R1 C1\r\n",
        expect: b"NF kfoo O1\r\n",
    },
    Case {
        name: "meta: ma miss",
        send: b"ma foo\r\n",
        expect: b"NF\r\n",
    },
    Case {
        name: "meta: ma quiet miss still NF",
        send: b"ma foo q O1 k\r\nmn\r\n",
        expect: b"NF O1 kfoo\r\nMN\r\n",
    },
    Case {
        name: "meta: ma autovivify",
        send: b"ma foo N0 J10 v t k O1\r\n",
        expect: b"VA 2 t-1 kfoo O1\r\n10\r\n",
    },
    Case {
        name: "meta: ma incr decr",
        send: b"ms foo 2\r\n10\r\nma foo v\r\nma foo MD D3 v\r\nma foo M- D30 v\r\nma foo M+ D5 O2\r\nma foo MI v\r\n",
        expect: b"HD\r\nVA 2\r\n11\r\nVA 1\r\n8\r\nVA 1\r\n0\r\nHD O2\r\nVA 1\r\n6\r\n",
    },
    Case {
        name: "meta: ma returns cas",
        send: b"ms foo 1\r\n1\r\nma foo c\r\n",
        expect: b"HD\r\nHD c{u64}\r\n",
    },
    Case {
        name: "meta: ma quiet success is silent",
        send: b"ms foo 1\r\n1\r\nma foo q v\r\nmg foo v\r\n",
        expect: b"HD\r\nVA 1\r\n2\r\n",
    },
    Case {
        name: "meta: ma wraps at 2^64",
        send: b"ms foo 2\r\n10\r\nma foo v D18446744073709551610\r\n",
        expect: b"HD\r\nVA 1\r\n4\r\n",
    },
    Case {
        name: "meta: ma non-numeric",
        send: b"ms foo 2\r\nhi\r\nma foo v\r\n",
        expect: b"HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    },
    Case {
        name: "meta: ma cas mismatch",
        send: b"ms foo 1\r\n1\r\nma foo C1 v\r\n",
        expect: b"HD\r\nEX\r\n",
    },
    Case {
        name: "meta: me miss",
        send: b"me foo\r\n",
        expect: b"EN\r\n",
    },
    Case {
        name: "meta: me base64 miss",
        send: b"me Zm9v b\r\n",
        expect: b"EN\r\n",
    },
    Case {
        name: "meta: pipelined quiet gets",
        send: b"ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nmg a v k q\r\nmg b v k q\r\nmg c v k q\r\nmn\r\n",
        expect: b"VA 1 ka\r\n1\r\nVA 1 kb\r\n2\r\nMN\r\n",
    },
    Case {
        name: "meta: pipelined opaque tokens",
        send: b"mg a O1 q\r\nms a 1 O2\r\nx\r\nmg a O3 v\r\nmd a O4\r\nmg a O5\r\n",
        expect: b"HD O2\r\nVA 1 O3\r\nx\r\nHD O4\r\nEN O5\r\n",
    },
    Case {
        name: "meta: mg bare verb",
        send: b"mg\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "meta: md bare verb",
        send: b"md\r\nmn\r\n",
        expect: b"ERROR\r\nMN\r\n",
    },
    Case {
        name: "meta: ma bare verb",
        send: b"ma\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "meta: me without key",
        send: b"me\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: me bad base64",
        send: b"me foo b\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: mg invalid flag",
        send: b"mg foo z\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid flag\r\nMN\r\n",
    },
    Case {
        name: "meta: mg E not in 1.6.18",
        send: b"mg foo E5\r\n",
        expect: b"CLIENT_ERROR invalid flag\r\n",
    },
    Case {
        name: "meta: mg duplicate flag",
        send: b"mg foo v v\r\n",
        expect: b"CLIENT_ERROR duplicate flag\r\n",
    },
    Case {
        name: "meta: mg high byte flag reads as duplicate",
        send: b"mg foo \xffa\r\n",
        expect: b"CLIENT_ERROR duplicate flag\r\n",
    },
    Case {
        name: "meta: mg bad token",
        send: b"mg foo Tx\r\n",
        expect: b"CLIENT_ERROR bad token in command line format\r\n",
    },
    Case {
        name: "meta: mg bad F has no own text",
        send: b"mg foo Fx\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: mg last token error wins",
        send: b"mg foo Fx Tx\r\n",
        expect: b"CLIENT_ERROR bad token in command line format\r\n",
    },
    Case {
        name: "meta: mg bad base64 key",
        send: b"mg foo b\r\n",
        expect: b"CLIENT_ERROR error decoding key\r\n",
    },
    Case {
        name: "meta: mg bad M length",
        send: b"mg foo MEE\r\n",
        expect: b"CLIENT_ERROR incorrect length for M token\r\n",
    },
    Case {
        name: "meta: mg bad J",
        send: b"mg foo Jx\r\n",
        expect: b"CLIENT_ERROR invalid numeric initial value\r\n",
    },
    Case {
        name: "meta: mg bad D",
        send: b"mg foo D-1\r\n",
        expect: b"CLIENT_ERROR invalid numeric delta value\r\n",
    },
    Case {
        name: "meta: mg opaque too long",
        send: b"mg foo v q k O123456789012345678901234567890123\r\nmn\r\n",
        expect: b"CLIENT_ERROR opaque token too long\r\nMN\r\n",
    },
    Case {
        name: "meta: mg 17 flags accepted",
        // `t` last: memcached applies T and N in request order between the return
        // flags, so a `t` before them would show the TTL before they apply.
        send: b"mg foo c f h k l s v O1 q u P L T1 N1 R1 C1 t\r\n",
        expect: b"VA 0 c{u64} f0 h0 kfoo l0 s0 O1 t1 W\r\n\r\n",
    },
    Case {
        name: "meta: mg too many flags",
        send: b"mg foo c f h k l s t v O1 q u P L T1 N1 R1 C1 F1\r\n",
        expect: b"CLIENT_ERROR options flags are too long\r\n",
    },
    Case {
        name: "meta: md too many flags",
        send: b"md foo c f h k l s t v O1 q u P L T1 N1 R1 C1 F1\r\n",
        expect: b"CLIENT_ERROR options flags too long\r\n",
    },
    Case {
        name: "meta: md flag error",
        send: b"md foo Cx\r\n",
        expect: b"CLIENT_ERROR invalid or duplicate flag\r\n",
    },
    Case {
        name: "meta: md x not in 1.6.18",
        send: b"md foo x\r\n",
        expect: b"CLIENT_ERROR invalid or duplicate flag\r\n",
    },
    Case {
        name: "meta: md opaque too long",
        send: b"md foo O123456789012345678901234567890123\r\nmn\r\n",
        expect: b"CLIENT_ERROR opaque token too long\r\nMN\r\n",
    },
    Case {
        name: "meta: ma flag error",
        send: b"ma foo Jx\r\n",
        expect: b"CLIENT_ERROR invalid or duplicate flag\r\n",
    },
    Case {
        name: "meta: ma invalid mode",
        send: b"ma foo Mi\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid mode for ma M token\r\nMN\r\n",
    },
    Case {
        name: "meta: ms invalid flag swallows value",
        send: b"ms foo 2 zz\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid flag\r\nMN\r\n",
    },
    Case {
        name: "meta: ms quiet error is written",
        send: b"ms foo 2 q b\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR error decoding key\r\nMN\r\n",
    },
    Case {
        name: "meta: ms invalid mode swallows value",
        send: b"ms foo 2 Ms\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n",
    },
    Case {
        name: "meta: ms bad M length swallows value",
        send: b"ms foo 2 MEE\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR incorrect length for M token\r\nMN\r\n",
    },
    Case {
        name: "meta: ms mode error beats opaque error",
        send: b"ms foo 2 O123456789012345678901234567890123 MX\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n",
    },
    Case {
        name: "meta: ms opaque too long swallows value",
        send: b"ms foo 2 O123456789012345678901234567890123\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR opaque token too long\r\nMN\r\n",
    },
    Case {
        name: "meta: ms negative flags",
        send: b"ms foo 2 F-1\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    Case {
        name: "meta: ms without length",
        send: b"ms foo\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: ms old S flag syntax",
        send: b"ms foo S2\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: ms negative length",
        send: b"ms foo -1\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: ms bad data chunk",
        send: b"ms foo 2\r\nhixx",
        expect: b"CLIENT_ERROR bad data chunk\r\n",
    },
    Case {
        name: "meta: ms key too long",
        send: b"ms aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 2\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "meta: mg key of 250 bytes",
        send: b"mg aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa v\r\n",
        expect: b"EN\r\n",
    },
    Case {
        name: "meta: mg key too long",
        send: b"mg aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa v\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    Case {
        name: "meta: md key too long",
        send: b"md aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa q\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    Case {
        name: "meta: ma key too long",
        send: b"ma aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    Case {
        name: "meta: me key too long",
        send: b"me aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    Case {
        name: "meta: ms without a length keeps the connection",
        send: b"ms quiet\r\nms foo\r\nms\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n",
    },
    Case {
        name: "meta: mg flag errors keep the connection",
        send: b"mg foo Z\r\nmg foo v v\r\nmg foo Tx\r\nmg foo a b c d e f g h i j k l m n o p q r s t u\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR options flags are too long\r\nMN\r\n",
    },
    Case {
        name: "meta: md and ma errors keep the connection",
        send: b"md foo Z\r\nmd foo a b c d e f g h i j k l m n o p q r s t u\r\nma foo Z\r\nma foo MX\r\nma foo a b c d e f g h i j k l m n o p q r s t u\r\nmn\r\n",
        expect: b"CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR options flags too long\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR options flags too long\r\nMN\r\n",
    },
    Case {
        name: "meta: me and mn oddities keep the connection",
        send: b"me\r\nme foo b\r\nme foo x y\r\nmn extra\r\nmx foo\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nEN\r\nMN\r\nERROR\r\nMN\r\n",
    },
];
