//! The classic text protocol, case by case: what a client sends on a fresh
//! connection and the exact bytes memcached 1.6.18 answers (checked against it).
//! `{u64}` in `expect` stands for a CAS unique.

use super::Case;

/// A value one byte over memcached's default 1 MiB item limit, then `get k`.
static TOO_LARGE: [u8; 1048605] = with_ends(b"set k 0 0 1048577\r\n", b'x', b"\r\nget k\r\n");
/// The same with `noreply`.
static TOO_LARGE_NOREPLY: [u8; 1048613] =
    with_ends(b"set k 0 0 1048577 noreply\r\n", b'x', b"\r\nget k\r\n");

/// `head`, then `fill` up to the end, then `tail`: builds large requests at compile time.
const fn with_ends<const N: usize>(head: &[u8], fill: u8, tail: &[u8]) -> [u8; N] {
    let mut out = [fill; N];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    let mut j = 0;
    while j < tail.len() {
        out[N - tail.len() + j] = tail[j];
        j += 1;
    }
    out
}

/// Every case, each on a fresh connection after a `flush_all` on another one.
pub const CASES: &[Case] = &[
    Case {
        name: "get_miss",
        send: b"get k\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "set_then_get",
        send: b"set k 5 0 3\r\nabc\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 5 3\r\nabc\r\nEND\r\n",
    },
    Case {
        name: "lf_only_command_lines",
        send: b"set k 0 0 1\nx\r\nget k\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "gets_returns_cas",
        send: b"set k 0 0 1\r\nx\r\ngets k\r\n",
        expect: b"STORED\r\nVALUE k 0 1 {u64}\r\nx\r\nEND\r\n",
    },
    Case {
        name: "gets_many_keys",
        send: b"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\ngets a b\r\n",
        expect: b"STORED\r\nSTORED\r\nVALUE a 0 1 {u64}\r\n1\r\nVALUE b 0 1 {u64}\r\n2\r\nEND\r\n",
    },
    Case {
        name: "multiget_keeps_order_and_duplicates",
        send: b"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget b x a b\r\n",
        expect: b"STORED\r\nSTORED\r\nVALUE b 0 1\r\n2\r\nVALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n",
    },
    Case {
        name: "empty_value",
        send: b"set k 0 0 0\r\n\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 0\r\n\r\nEND\r\n",
    },
    Case {
        name: "value_holding_crlf",
        send: b"set k 0 0 4\r\na\r\nb\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 4\r\na\r\nb\r\nEND\r\n",
    },
    Case {
        name: "flags_max",
        send: b"set k 4294967295 0 1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 4294967295 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "flags_beyond_32_bits_wrap",
        send: b"set k 4294967296 0 1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "flags_negative_rejected",
        send: b"set k -1 0 1\r\nx\r\nget k\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\nEND\r\n",
    },
    Case {
        name: "flags_huge_negative_wraps_like_strtoul",
        send: b"set k -9223372036854775809 0 1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 4294967295 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "numbers_with_sign_and_tab",
        send: b"set k +5 0 \t1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 5 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "flags_not_a_number",
        send: b"set k 0x1 0 1\r\nx\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    },
    Case {
        name: "negative_exptime_expires_at_once",
        send: b"set k 0 -1 1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "exptime_wraps_to_never",
        send: b"set k 0 4294967296 1\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "exptime_out_of_range",
        send: b"set k 0 9223372036854775808 1\r\nx\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    },
    Case {
        name: "length_wraps_to_zero",
        send: b"set k 0 0 4294967296\r\n\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 0\r\n\r\nEND\r\n",
    },
    Case {
        name: "length_negative",
        send: b"set k 0 0 -1\r\nx\r\nget k\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\nEND\r\n",
    },
    Case {
        name: "add_only_when_absent",
        send: b"add k 0 0 1\r\na\r\nadd k 0 0 1\r\nb\r\nget k\r\n",
        expect: b"STORED\r\nNOT_STORED\r\nVALUE k 0 1\r\na\r\nEND\r\n",
    },
    Case {
        name: "replace_only_when_present",
        send: b"replace k 0 0 1\r\na\r\nset k 0 0 1\r\nb\r\nreplace k 0 0 1\r\nc\r\nget k\r\n",
        expect: b"NOT_STORED\r\nSTORED\r\nSTORED\r\nVALUE k 0 1\r\nc\r\nEND\r\n",
    },
    Case {
        name: "append_prepend_keep_flags",
        send: b"append k 0 0 1\r\nx\r\nset k 3 0 1\r\nb\r\nappend k 7 0 1\r\nc\r\nprepend k 9 0 1\r\na\r\nget k\r\n",
        expect: b"NOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE k 3 3\r\nabc\r\nEND\r\n",
    },
    Case {
        name: "prepend_missing",
        send: b"prepend k 0 0 1\r\nx\r\n",
        expect: b"NOT_STORED\r\n",
    },
    Case {
        name: "cas_missing_item",
        send: b"cas k 0 0 1 1\r\nx\r\n",
        expect: b"NOT_FOUND\r\n",
    },
    Case {
        name: "cas_wrong_unique",
        send: b"set k 0 0 1\r\nx\r\ncas k 0 0 1 0\r\ny\r\nget k\r\n",
        expect: b"STORED\r\nEXISTS\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "cas_noreply",
        send: b"set k 0 0 1\r\nx\r\ncas k 0 0 1 0 noreply\r\ny\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "cas_without_unique",
        send: b"cas k 0 0 1\r\nx\r\n",
        expect: b"ERROR\r\nERROR\r\n",
    },
    Case {
        name: "cas_bad_unique",
        send: b"cas k 0 0 1 abc\r\nx\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    },
    Case {
        name: "cas_noreply_in_unique_place",
        send: b"cas k 0 0 1 noreply\r\nx\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "delete_hit_then_miss",
        send: b"set k 0 0 1\r\nx\r\ndelete k\r\ndelete k\r\n",
        expect: b"STORED\r\nDELETED\r\nNOT_FOUND\r\n",
    },
    Case {
        name: "delete_legacy_zero",
        send: b"set k 0 0 1\r\nx\r\ndelete k 0\r\n",
        expect: b"STORED\r\nDELETED\r\n",
    },
    Case {
        name: "delete_with_time",
        send: b"delete k 10\r\n",
        expect: b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    },
    Case {
        name: "delete_zero_zero",
        send: b"delete k 0 0\r\n",
        expect: b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    },
    Case {
        name: "delete_noreply",
        send: b"set k 0 0 1\r\nx\r\ndelete k noreply\r\nget k\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "delete_zero_noreply",
        send: b"set k 0 0 1\r\nx\r\ndelete k 0 noreply\r\nget k\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "delete_bad_time_noreply_is_silent",
        send: b"delete k 1 noreply\r\nget k\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "delete_without_key",
        send: b"delete\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "incr_decr",
        send: b"set k 0 0 2\r\n10\r\nincr k 5\r\ndecr k 100\r\nincr k 18446744073709551615\r\n",
        expect: b"STORED\r\n15\r\n0\r\n18446744073709551615\r\n",
    },
    Case {
        name: "incr_wraps",
        send: b"set k 0 0 20\r\n18446744073709551615\r\nincr k 2\r\n",
        expect: b"STORED\r\n1\r\n",
    },
    Case {
        name: "decr_keeps_length",
        send: b"set k 0 0 3\r\n100\r\ndecr k 1\r\nget k\r\n",
        expect: b"STORED\r\n99\r\nVALUE k 0 3\r\n99 \r\nEND\r\n",
    },
    Case {
        name: "incr_grows_value",
        send: b"set k 0 0 2\r\n99\r\nincr k 1\r\nget k\r\n",
        expect: b"STORED\r\n100\r\nVALUE k 0 3\r\n100\r\nEND\r\n",
    },
    Case {
        name: "incr_miss",
        send: b"incr k 1\r\ndecr k 1\r\n",
        expect: b"NOT_FOUND\r\nNOT_FOUND\r\n",
    },
    Case {
        name: "incr_non_numeric",
        send: b"set k 0 0 1\r\nx\r\nincr k 1\r\n",
        expect: b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    },
    Case {
        name: "incr_invalid_delta",
        send: b"incr k abc\r\nincr k -1\r\nincr k 18446744073709551616\r\n",
        expect: b"CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\n",
    },
    Case {
        name: "incr_wrong_token_count",
        send: b"incr k\r\nincr k 1 2 3\r\n",
        expect: b"ERROR\r\nERROR\r\n",
    },
    Case {
        name: "incr_noreply",
        send: b"set k 0 0 1\r\n1\r\nincr k 1 noreply\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\n2\r\nEND\r\n",
    },
    Case {
        name: "errors_are_silent_with_noreply",
        send: b"incr k abc noreply\r\nset k 0 0 1\r\nx\r\nincr k 1 noreply\r\ntouch k abc noreply\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "touch_hit_and_miss",
        send: b"set k 0 0 1\r\nx\r\ntouch k 100\r\ntouch x 100\r\n",
        expect: b"STORED\r\nTOUCHED\r\nNOT_FOUND\r\n",
    },
    Case {
        name: "touch_negative_expires",
        send: b"set k 0 0 1\r\nx\r\ntouch k -1\r\nget k\r\n",
        expect: b"STORED\r\nTOUCHED\r\nEND\r\n",
    },
    Case {
        name: "touch_noreply",
        send: b"set k 0 0 1\r\nx\r\ntouch k -1 noreply\r\nget k\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "touch_invalid_exptime",
        send: b"touch k abc\r\ntouch k\r\n",
        expect: b"CLIENT_ERROR invalid exptime argument\r\nERROR\r\n",
    },
    Case {
        name: "gat_hits_and_misses",
        send: b"set k 3 0 1\r\nx\r\ngat 100 k x\r\n",
        expect: b"STORED\r\nVALUE k 3 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "gats_returns_cas",
        send: b"set k 3 0 1\r\nx\r\ngats 100 k\r\n",
        expect: b"STORED\r\nVALUE k 3 1 {u64}\r\nx\r\nEND\r\n",
    },
    Case {
        name: "gat_without_keys",
        send: b"gat 10\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "gat_invalid_exptime",
        send: b"gat abc k\r\n",
        expect: b"CLIENT_ERROR invalid exptime argument\r\n",
    },
    Case {
        name: "gat_negative_expires",
        send: b"set k 0 0 1\r\nx\r\ngat -1 k\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nEND\r\n",
    },
    Case {
        name: "bget_is_get",
        send: b"set k 0 0 1\r\nx\r\nbget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "flush_all_now",
        send: b"set k 0 0 1\r\nx\r\nflush_all\r\nget k\r\n",
        expect: b"STORED\r\nOK\r\nEND\r\n",
    },
    Case {
        name: "flush_all_zero_noreply",
        send: b"set k 0 0 1\r\nx\r\nflush_all 0 noreply\r\nget k\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "flush_all_negative_is_now",
        send: b"set k 0 0 1\r\nx\r\nflush_all -1\r\nget k\r\n",
        expect: b"STORED\r\nOK\r\nEND\r\n",
    },
    Case {
        name: "flush_all_invalid_delay",
        send: b"flush_all abc\r\nflush_all noreply 1\r\n",
        expect: b"CLIENT_ERROR invalid exptime argument\r\nCLIENT_ERROR invalid exptime argument\r\n",
    },
    Case {
        name: "flush_all_too_many_args",
        send: b"flush_all 0 1 2\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "verbosity",
        send: b"verbosity 1\r\nverbosity 1 noreply\r\nverbosity\r\nverbosity x\r\nverbosity 0 1\r\nverbosity noreply\r\n",
        expect: b"OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nOK\r\n",
    },
    Case {
        name: "unknown_command",
        send: b"bogus\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "empty_lines",
        send: b"\r\n\n   \r\n",
        expect: b"ERROR\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "commands_are_case_sensitive",
        send: b"GET k\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "http_request_closes_silently",
        send: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: b"",
    },
    Case {
        name: "quit_closes",
        send: b"set k 0 0 1\r\nx\r\nquit\r\nget k\r\n",
        expect: b"STORED\r\n",
    },
    Case {
        name: "key_of_250_bytes",
        send: b"set kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 0 0 1\r\nx\r\nget kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\n",
        expect: b"STORED\r\nVALUE kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "set_key_of_251_bytes",
        send: b"set kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 0 0 1\r\nx\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    },
    Case {
        name: "get_key_of_251_bytes",
        send: b"get a kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk b\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "other_keys_of_251_bytes",
        send: b"delete kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\nincr kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 1\r\ntouch kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk 1\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "get_without_key",
        send: b"get\r\nget \r\ngets\r\n",
        expect: b"ERROR\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "set_wrong_token_count",
        send: b"set k 0 0\r\nx\r\n",
        expect: b"ERROR\r\nERROR\r\n",
    },
    Case {
        name: "set_noreply_then_extra_token",
        send: b"set k 0 0 1 noreply extra\r\nx\r\n",
        expect: b"ERROR\r\nERROR\r\n",
    },
    Case {
        name: "set_extra_token_ignored",
        send: b"set k 0 0 1 extra\r\nx\r\nget k\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "set_noreply",
        send: b"set k 0 0 1 noreply\r\nx\r\nadd k 0 0 1 noreply\r\ny\r\nget k\r\n",
        expect: b"VALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "set_bad_format_noreply_is_silent",
        send: b"set k x 0 1 noreply\r\nget k\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "bad_data_chunk",
        send: b"set k 0 0 1\r\nab\r",
        expect: b"CLIENT_ERROR bad data chunk\r\n",
    },
    Case {
        name: "bad_data_chunk_lf_only",
        send: b"set k 0 0 1\r\nx\n\n",
        expect: b"CLIENT_ERROR bad data chunk\r\n",
    },
    Case {
        name: "bad_data_chunk_noreply",
        send: b"set k 0 0 1 noreply\r\nab\r",
        expect: b"",
    },
    Case {
        name: "too_large_is_swallowed",
        send: &TOO_LARGE,
        expect: b"SERVER_ERROR object too large for cache\r\nEND\r\n",
    },
    Case {
        name: "too_large_noreply",
        send: &TOO_LARGE_NOREPLY,
        expect: b"END\r\n",
    },
    Case {
        name: "tab_is_part_of_the_key",
        send: b"set a\tb 0 0 1\r\nx\r\nget a\tb\r\nget a\r\n",
        expect: b"STORED\r\nVALUE a\tb 0 1\r\nx\r\nEND\r\nEND\r\n",
    },
    Case {
        name: "nul_ends_the_command",
        send: b"set k 0 0 1\r\nx\r\nget k\0zzz\r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "one_cr_is_stripped",
        send: b"set k 0 0 1\r\nx\r\nget k\r\r\n",
        expect: b"STORED\r\nEND\r\n",
    },
    Case {
        name: "leading_and_repeated_spaces",
        send: b"set k 0 0 1\r\nx\r\n  get   k  \r\n",
        expect: b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    },
    Case {
        name: "stats_unknown_group",
        send: b"stats nosuchgroup\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "too_many_tokens",
        send: b"set a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "pipelined_mix",
        send: b"set a 0 0 1\r\n1\r\nget a\r\ndelete a\r\nget a\r\nincr a 1\r\nbogus\r\nadd a 0 0 1\r\n2\r\ngets a\r\n",
        expect: b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nDELETED\r\nEND\r\nNOT_FOUND\r\nERROR\r\nSTORED\r\nVALUE a 0 1 {u64}\r\n2\r\nEND\r\n",
    },
];
