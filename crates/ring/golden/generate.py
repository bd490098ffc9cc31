#!/usr/bin/env python3
"""Record key -> server tables from a running twemproxy (nutcracker).

For each pool configuration below: start memcached backends and nutcracker on
127.0.0.1 (ports picked at run time), set every key through nutcracker, then ask
each backend directly which keys it holds. The result is one table per
configuration in ../tests/golden/, which tests/golden.rs checks the ring against
without nutcracker running.

Usage: python3 crates/ring/golden/generate.py   (needs nutcracker and memcached
installed: Debian packages `nutcracker` and `memcached`).

Table format, line by line:
    # comment
    hash fnv1a_64
    distribution ketama
    hash_tag {}                    (only if the pool has one)
    server 127.0.0.1:PORT:WEIGHT [name]   (as written in nutcracker.yml, in order)
    <server index> <key>           (key verbatim if printable ASCII, else hex:...)
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "golden")

HASHES = ["one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64",
          "fnv1a_64", "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins"]
NAMES5 = ["alpha", "bravo", "charlie", "delta", "echo"]


def config(name, hash_, dist, servers, keys, hash_tag=None, use_default_port=False):
    """servers: list of (weight, name or None)."""
    return dict(name=name, hash=hash_, dist=dist, servers=servers, keys=keys,
                hash_tag=hash_tag, use_default_port=use_default_port)


def configs():
    unnamed = lambda n, w=1: [(w, None)] * n
    named = lambda names: [(1, n) for n in names]
    c = [
        config("ketama-fnv1a_64-3", "fnv1a_64", "ketama", unnamed(3), 2000),
        config("ketama-fnv1a_64-5-named", "fnv1a_64", "ketama", named(NAMES5), 2000),
        config("ketama-fnv1a_64-25-named", "fnv1a_64", "ketama",
               named([f"mc{i:02}" for i in range(1, 26)]), 3000),
        config("ketama-md5-25", "md5", "ketama", unnamed(25), 3000),
        config("ketama-fnv1a_64-weights-named", "fnv1a_64", "ketama",
               [(1, "w1"), (2, "w2"), (3, "w3"), (5, "w5")], 2000),
        config("ketama-murmur-weights", "murmur", "ketama",
               [(1, None), (1, None), (4, None)], 2000),
        config("ketama-fnv1a_64-hashtag", "fnv1a_64", "ketama", named(NAMES5), 2000,
               hash_tag="{}"),
        config("modula-fnv1a_64-hashtag", "fnv1a_64", "modula", unnamed(5), 1000,
               hash_tag="<>"),
        config("modula-md5-weights", "md5", "modula", [(1, None), (2, None), (3, None)], 1000),
        config("ketama-fnv1a_64-default-port", "fnv1a_64", "ketama", unnamed(3), 2000,
               use_default_port=True),
        config("ketama-fnv1a_64-1", "fnv1a_64", "ketama", unnamed(1), 100),
    ]
    for h in HASHES:
        if h != "fnv1a_64":
            c.append(config(f"ketama-{h}-5-named", h, "ketama", named(NAMES5), 600))
        c.append(config(f"modula-{h}-7", h, "modula", unnamed(7), 600))
    return c


def make_keys(n, seed, tags):
    """Deterministic keys: ASCII, non-ASCII bytes and UTF-8, short and long, and
    hash-tagged ones when the pool has a tag."""
    rng = random.Random(seed)
    printable = [b for b in range(0x21, 0x7f)]
    high = list(range(0x80, 0x100))
    keys, seen = [], set()
    while len(keys) < n:
        i = len(keys)
        kind = rng.randrange(16)
        if kind >= 8:
            kind = rng.choice([0, 1, 2, 3, 5, 6, 7])  # long keys (4) stay rarer
        if kind == 0:
            k = f"key:{i}".encode()
        elif kind == 1:
            k = bytes(rng.choice(printable) for _ in range(rng.randrange(1, 40)))
        elif kind == 2:
            k = bytes(rng.choice(printable + high) for _ in range(rng.randrange(1, 40)))
        elif kind == 3:
            k = rng.choice(["ключ", "键", "clé", "κλειδί", "مفتاح"]).encode() + f":{i}".encode()
        elif kind == 4:
            k = bytes(rng.choice(printable) for _ in range(rng.randrange(180, 251)))
        elif kind == 5 and tags:
            o, c = tags
            user = rng.randrange(50)
            k = f"user:{o}{user}{c}:field{i}".encode()
        elif kind == 6 and tags:
            o, c = tags
            # empty and unclosed tags: hashed whole
            k = rng.choice([f"a{o}{c}b{i}", f"open{o}only{i}", f"{c}x{o}y{c}{i}"]).encode()
        else:
            k = bytes(rng.choice(printable + high) for _ in range(rng.randrange(1, 13)))
        if k.startswith(b"hex:") or k in seen:
            continue
        seen.add(k)
        keys.append(k)
    return keys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{what} did not listen on {port}")


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def close(self):
        self.s.close()


def start_memcached(port):
    p = subprocess.Popen(["memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(port),
                          "-U", "0", "-m", "32"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_port(port, p, f"memcached :{port}")
    return p


def run(cfg, backends, tmp):
    """backends: list of ports, one per configured server."""
    for port in backends:
        c = Conn(port)
        c.send(b"flush_all\r\n")
        assert c.line() == b"OK"
        c.close()
    listen, stats = free_port(), free_port()
    lines = [
        "pool:",
        f"  listen: 127.0.0.1:{listen}",
        f"  hash: {cfg['hash']}",
        f"  distribution: {cfg['dist']}",
        "  auto_eject_hosts: false",
        "  timeout: 2000",
    ]
    if cfg["hash_tag"]:
        lines.append(f'  hash_tag: "{cfg["hash_tag"]}"')
    lines.append("  servers:")
    spec = []
    for port, (weight, name) in zip(backends, cfg["servers"]):
        entry = f"127.0.0.1:{port}:{weight}" + (f" {name}" if name else "")
        spec.append(entry)
        lines.append(f"   - {entry}")
    conf = os.path.join(tmp, cfg["name"] + ".yml")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    nc = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(stats), "-a", "127.0.0.1",
                           "-o", os.path.join(tmp, cfg["name"] + ".log")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(listen, nc, "nutcracker")
        keys = make_keys(cfg["keys"], cfg["name"], tuple(cfg["hash_tag"]) if cfg["hash_tag"] else None)
        c = Conn(listen)
        for start in range(0, len(keys), 200):
            batch = keys[start:start + 200]
            c.send(b"".join(b"set " + k + b" 0 0 1\r\nx\r\n" for k in batch))
            for k in batch:
                reply = c.line()
                if reply != b"STORED":
                    sys.exit(f"{cfg['name']}: set {k!r} -> {reply!r}")
        c.close()
    finally:
        nc.terminate()
        nc.wait()
    owner = {}
    for idx, port in enumerate(backends):
        c = Conn(port)
        for start in range(0, len(keys), 100):
            batch = keys[start:start + 100]
            c.send(b"get " + b" ".join(batch) + b"\r\n")
            while True:
                line = c.line()
                if line == b"END":
                    break
                parts = line.split(b" ")
                assert parts[0] == b"VALUE", line
                c.exact(int(parts[3]) + 2)
                if parts[1] in owner:
                    sys.exit(f"{cfg['name']}: {parts[1]!r} on two servers")
                owner[parts[1]] = idx
        c.close()
    missing = [k for k in keys if k not in owner]
    if missing:
        sys.exit(f"{cfg['name']}: {len(missing)} keys on no server, e.g. {missing[0]!r}")
    return spec, [(owner[k], k) for k in keys]


def render_key(k):
    if all(0x21 <= b < 0x7f for b in k):
        return k.decode()
    return "hex:" + k.hex()


def write_table(cfg, spec, rows, version):
    path = os.path.join(OUT, cfg["name"] + ".txt")
    with open(path, "w") as f:
        f.write(f"# Key -> server table recorded from {version} by golden/generate.py.\n")
        f.write("# Do not edit: regenerate instead.\n")
        f.write(f"hash {cfg['hash']}\n")
        f.write(f"distribution {cfg['dist']}\n")
        if cfg["hash_tag"]:
            f.write(f"hash_tag {cfg['hash_tag']}\n")
        for entry in spec:
            f.write(f"server {entry}\n")
        for idx, k in rows:
            f.write(f"{idx} {render_key(k)}\n")
    counts = [0] * len(spec)
    for idx, _ in rows:
        counts[idx] += 1
    print(f"{cfg['name']}: {len(rows)} keys, per server {counts}")


def main():
    for tool in ("nutcracker", "memcached"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    version = subprocess.run(["nutcracker", "--version"], capture_output=True,
                             text=True).stdout.strip() or subprocess.run(
        ["nutcracker", "--version"], capture_output=True, text=True).stderr.strip()
    version = version.splitlines()[0].replace("This is ", "")
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    procs = {}
    ports = []
    tmp = tempfile.mkdtemp(prefix="ring-golden-")
    try:
        for _ in range(25):
            port = free_port()
            procs[port] = start_memcached(port)
            ports.append(port)
        for cfg in configs():
            if only and cfg["name"] not in only:
                continue
            backends = ports[:len(cfg["servers"])]
            if cfg["use_default_port"]:
                if port_in_use(11211):
                    print(f"{cfg['name']}: skipped, 127.0.0.1:11211 is in use")
                    continue
                procs[11211] = procs.get(11211) or start_memcached(11211)
                backends = [11211] + backends[1:]
            spec, rows = run(cfg, backends, tmp)
            write_table(cfg, spec, rows, version)
    finally:
        for p in procs.values():
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
