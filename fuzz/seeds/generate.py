#!/usr/bin/env python3
"""Writes the fuzz seed corpus from the conformance tables (bins/tests/conformance/*.rs):
each case's `send` bytes seed the request targets, its `expect` bytes (behind the
8-byte form header that decode_response reads first) seed the reply target.

Run from anywhere: python3 fuzz/seeds/generate.py. It replaces fuzz/seeds/<target>/.
"""

import hashlib
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
TABLES = ROOT / "bins" / "tests" / "conformance"

CASE = re.compile(
    r'send:\s*b"((?:[^"\\]|\\.)*)",\s*expect:\s*b"((?:[^"\\]|\\.)*)"', re.S
)
ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}

# Order of TextVerb / MetaVerb as fuzz/src/responses.rs indexes them.
TEXT_VERBS = ["get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend",
              "cas", "delete", "incr", "decr", "touch", "flush_all", "stats", "version",
              "verbosity", "quit", "shutdown"]
META_VERBS = [b"mg", b"ms", b"md", b"ma", b"mn", b"me"]
RETURN_LETTERS = b"bcfhklOqstv"


def unescape(literal: str) -> bytes:
    """A Rust byte-string literal's contents as bytes (line continuations included)."""
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = literal[i + 1]
        if n == "x":
            out.append(int(literal[i + 2:i + 4], 16))
            i += 4
        elif n == "\n":  # `\` at a line end: skip the newline and leading spaces
            i += 2
            while i < len(literal) and literal[i] in " \t\n":
                i += 1
        else:
            out += ESCAPES[n]
            i += 2
    return bytes(out)


def cases(table: str):
    text = (TABLES / f"{table}.rs").read_text()
    for send, expect in CASE.findall(text):
        # `{u64}` stands for any CAS value in the tables.
        yield unescape(send), unescape(expect).replace(b"{u64}", b"1234")


def reply_header(dialect: str, send: bytes) -> bytes:
    """The 8 bytes that give decode_response the form of the first request sent."""
    if dialect == "binary":
        return bytes([2, send[1]]) + b"\0\0" + send[12:16]
    first = send.split(b"\n", 1)[0].rstrip(b"\r").split(b" ")
    if dialect == "meta":
        verb = META_VERBS.index(first[0]) if first[0] in META_VERBS else 0
        mask = 0
        for token in first[2:]:
            if token and token[0] in RETURN_LETTERS:
                mask |= 1 << RETURN_LETTERS.index(token[0])
        return bytes([1, verb]) + mask.to_bytes(2, "big") + b"\0\0\0\0"
    word = first[0].decode(errors="replace")
    verb = TEXT_VERBS.index(word) if word in TEXT_VERBS else 0
    return bytes([0, verb]) + b"\0" * 6


# A few dozen seeds per target: the fuzzer grows its own corpus from them.
PER_TABLE = 16


def spread(items, n):
    """Up to n items spread evenly over the list."""
    step = max(1, -(-len(items) // n))
    return items[::step]


def write(target: str, data: bytes):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main():
    for target in ["decode_text", "decode_meta", "decode_binary", "decode_any", "decode_response"]:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
    for dialect in ["text", "meta", "binary"]:
        all_cases = list(cases(dialect))
        for send, _ in spread(all_cases, 3 * PER_TABLE):
            write(f"decode_{dialect}", send)
        for send, expect in spread(all_cases, PER_TABLE):
            write("decode_response", reply_header(dialect, send) + expect)
        for send, _ in spread(all_cases[1:], PER_TABLE // 2):
            write("decode_any", send)
    text, meta, binary = (list(cases(d)) for d in ["text", "meta", "binary"])
    for i in range(0, min(len(text), len(meta), len(binary)), 8):
        write("decode_any", text[i][0] + binary[i][0] + meta[i][0])
    for target in sorted(p.name for p in SEEDS.iterdir() if p.is_dir()):
        print(f"{target}: {len(list((SEEDS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
