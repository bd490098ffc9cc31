//! Where memkeepd deliberately answers differently from memcached: it never reads the
//! bytes of a data block as commands. memcached does after some refused `ms` lines,
//! which lets a client smuggle commands past a proxy that frames the stream by the
//! declared length. So an `ms` refused once its data length is known has its block
//! discarded (memcached discards it only after a bad flag, and reads it as commands
//! after a key too long or too many flags), and one whose length is not a number, or
//! whose block does not end where declared, closes the connection (memcached goes on
//! reading: a block of unknown length may follow). Run against memkeepd only; the
//! comment on each case gives memcached 1.6.18's reply.

use super::Case;

pub const CASES: &[Case] = &[
    // memcached: "CLIENT_ERROR options flags too long\r\nERROR\r\nMN\r\n".
    Case {
        name: "ms with too many flags discards its block",
        send: b"ms foo 2 a b c d e f g h i j k l m n o p q r s t u\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR options flags too long\r\nMN\r\n",
    },
    // memcached: "CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n".
    Case {
        name: "ms with a key too long discards its block",
        send: b"ms kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 2\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    },
    // memcached: "CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n".
    Case {
        name: "ms with a length that is not a number closes",
        send: b"ms foo x\r\nhi\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    // memcached: "CLIENT_ERROR bad data chunk\r\nERROR\r\nMN\r\n".
    Case {
        name: "ms whose block does not end where declared closes",
        send: b"ms foo 2\r\nhix\r\nmn\r\n",
        expect: b"CLIENT_ERROR bad data chunk\r\n",
    },
];
