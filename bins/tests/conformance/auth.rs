//! memcached's ASCII authentication (`-Y`), byte for byte: what every command gets
//! before logging in, and the login exchange itself. Run against `memcached -Y` and
//! `memkeepd -Y` with the users alice:secret and bob:hunter2. Each case is one
//! exchange on a fresh connection (memcached 1.6.18 loses a reply when a failed login
//! is pipelined with more commands; memkeepd answers each).

use crate::Case;

const UNAUTH: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "get before login",
        send: b"get foo\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "gets before login",
        send: b"gets foo bar\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "delete before login",
        send: b"delete foo\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "incr before login",
        send: b"incr foo 1\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "touch before login",
        send: b"touch foo 0\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "version before login",
        send: b"version\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "stats before login",
        send: b"stats\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "flush_all before login",
        send: b"flush_all\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "verbosity before login",
        send: b"verbosity 1\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "shutdown before login",
        send: b"shutdown\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "quit before login",
        send: b"quit\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "unknown command before login",
        send: b"bogus\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "mg before login",
        send: b"mg foo v\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "md before login",
        send: b"md foo\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "ma before login",
        send: b"ma foo\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "mn before login",
        send: b"mn\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "me before login",
        send: b"me foo\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "set with too few tokens",
        send: b"set a\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "set with a bad length",
        send: b"set x 0 0 abc\r\n",
        expect: UNAUTH,
    },
    Case {
        name: "wrong password",
        send: b"set x 0 0 9\r\nbad creds\r\n",
        expect: b"CLIENT_ERROR authentication failure\r\n",
    },
    Case {
        name: "password one byte short",
        send: b"set x 0 0 11\r\nalice secre\r\n",
        expect: b"CLIENT_ERROR authentication failure\r\n",
    },
    Case {
        name: "password one byte long",
        send: b"set x 0 0 13\r\nalice secretX\r\n",
        expect: b"CLIENT_ERROR authentication failure\r\n",
    },
    Case {
        name: "one user's password for another",
        send: b"set x 0 0 11\r\nbob secret!\r\n",
        expect: b"CLIENT_ERROR authentication failure\r\n",
    },
    Case {
        name: "no space between user and password",
        send: b"set x 0 0 11\r\nalicesecret\r\n",
        expect: b"CLIENT_ERROR bad authentication token format\r\n",
    },
    Case {
        name: "user alone",
        send: b"set x 0 0 6\r\nalice \r\n",
        expect: b"CLIENT_ERROR bad authentication token format\r\n",
    },
    Case {
        name: "a tab is not a separator",
        send: b"set x 0 0 12\r\nalice\tsecret\r\n",
        expect: b"CLIENT_ERROR bad authentication token format\r\n",
    },
    Case {
        name: "login then get",
        send: b"set x 0 0 12\r\nalice secret\r\nget x\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "second user",
        send: b"set x 0 0 11\r\nbob hunter2\r\nmn\r\n",
        expect: b"STORED\r\nMN\r\n",
    },
    Case {
        name: "login answers despite noreply",
        send: b"set x 0 0 12 noreply\r\nalice secret\r\nmn\r\n",
        expect: b"STORED\r\nMN\r\n",
    },
    Case {
        name: "extra spaces around the tokens",
        send: b"set x 0 0 15\r\n alice  secret \r\n",
        expect: b"STORED\r\n",
    },
    Case {
        name: "tokens after the password are ignored",
        send: b"set x 0 0 18\r\nalice secret extra\r\n",
        expect: b"STORED\r\n",
    },
    Case {
        name: "after login, set is a set",
        send:
            b"set x 0 0 12\r\nalice secret\r\nset k 0 0 12\r\nalice secret\r\nget k\r\ndelete k\r\n",
        expect: b"STORED\r\nSTORED\r\nVALUE k 0 12\r\nalice secret\r\nEND\r\nDELETED\r\n",
    },
];
