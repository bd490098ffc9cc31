#!/usr/bin/python3
"""The hit ratio while a pool grows from 3 servers to 4 and shrinks back.

Starts four stock memcached servers and memkeep-proxy (its TOML route tree: one
ketama pool over the first three), stores --keys keys through the proxy, then holds a
steady read load (multi-gets of 100 random keys, one connection) while the pool is
reloaded (SIGHUP) to 4 servers and, later, back to 3. It prints the share of keys
found per --interval, once with the pool's warm-up window (`warm_up_after_change =
"10m"`) and once without (`"0"`). Without it, the keys that moved to the new server
(about 1/4) miss until written again; with it, they are read from their previous
server and copied. Between the two changes every key is written again, so the shrink
back shows whether old copies come back (stale values are counted apart).

Each phase lasts --phase seconds; the whole run is bounded. Run from anywhere:

    benches/resize.py                        # 100,000 keys, 0.1 s intervals
    benches/resize.py --keys 20000 --phase 2 # a quick look

Python 3 standard library only; builds nothing (`cargo build --release -p
memkeep-bins` first, or pass --proxy target/debug/memkeep-proxy: the hit ratio does
not depend on the build). Results go to benches/results/resize-<date>.json.
"""

import argparse
import datetime
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benches", "results")
VALUE = b"v" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, limit=10.0):
    deadline = time.monotonic() + limit
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port}")
            time.sleep(0.02)


class Reader:
    """A buffered reply reader over one connection."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def until(self, marker):
        while marker not in self.buf:
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                raise SystemExit("the proxy closed the connection")
            self.buf += chunk
        end = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out


def store(conn, reader, keys, value):
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        conn.sendall(b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(value), value) for k in chunk))
        for _ in chunk:
            line = reader.until(b"\r\n")
            if line != b"STORED\r\n":
                raise SystemExit(f"set: {line!r}")


def multi_get(conn, reader, keys):
    """The values found, by key."""
    conn.sendall(b"get " + b" ".join(keys) + b"\r\n")
    found = {}
    while True:
        line = reader.until(b"\r\n")
        if line == b"END\r\n":
            return found
        if not line.startswith(b"VALUE "):
            raise SystemExit(f"get: {line!r}")
        _, key, _, size = line.split()[:4]
        found[key] = reader.until(b"\r\n")[: int(size)]


def config(port, servers, warm_up):
    listed = ", ".join(f'"127.0.0.1:{p}"' for p in servers)
    return (f'[pools.cache]\nservers = [{listed}]\nhash = "md5"\ndistribution = "ketama"\n'
            f'warm_up_after_change = "{warm_up}"\n\n'
            f'[[listeners]]\nlisten = "127.0.0.1:{port}"\nroute = "cache"\n')


def run(args, warm_up):
    """One run: returns the intervals as (seconds, servers, hit ratio, stale ratio)."""
    ports = [free_port() for _ in range(4)]
    user = ["-u", "root"] if os.geteuid() == 0 else []
    procs = [subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(p), "-U", "0",
                               "-m", "256", *user]) for p in ports]
    for p in ports:
        connect(p).close()
    workdir = tempfile.mkdtemp(prefix="resize-bench-")
    path = os.path.join(workdir, "route.toml")
    listen = free_port()
    with open(path, "w") as f:
        f.write(config(listen, ports[:3], warm_up))
    log = open(os.path.join(workdir, "proxy.log"), "w")
    proxy = subprocess.Popen([args.proxy, "--config", path, "-v", "6"], stderr=log)
    print(f"proxy log: {log.name}", file=sys.stderr)
    try:
        conn = connect(listen)
        reader = Reader(conn)
        keys = [b"key:%d" % i for i in range(args.keys)]
        store(conn, reader, keys, VALUE)

        def reload(servers):
            with open(path, "w") as f:
                f.write(config(listen, servers, warm_up))
            proxy.send_signal(signal.SIGHUP)

        rng = random.Random(1)
        phases = [(3, None), (4, lambda: reload(ports)), (3, lambda: reload(ports[:3]))]
        intervals = []
        start = time.monotonic()
        current = VALUE
        for number, (servers, change) in enumerate(phases):
            if change:
                change()
            phase_end = time.monotonic() + args.phase
            while True:
                now = time.monotonic()
                if now >= phase_end:
                    break
                slice_end = min(now + args.interval, phase_end)
                asked = hits = stale = 0
                while time.monotonic() < slice_end:
                    batch = rng.sample(keys, 100)
                    found = multi_get(conn, reader, batch)
                    asked += len(batch)
                    hits += len(found)
                    stale += sum(1 for v in found.values() if v != current)
                intervals.append((round(now - start, 2), servers, hits / asked, stale / asked))
            if number == 1:
                # Every key written again while the pool has 4 servers: a shrink back
                # must not serve the older copies.
                current = b"w" * 32
                t = time.monotonic()
                store(conn, reader, keys, current)
                intervals.append((round(t - start, 2), servers, None, None))
        conn.close()
        return intervals
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
        for p in procs:
            p.terminate()
            p.wait(timeout=30)


def summary(intervals, servers_phase):
    """The mean hit ratio over the first second of a phase, and over all of it."""
    rows = [r for r in intervals if r[2] is not None]
    by_phase = []
    phase, last = 0, None
    for row in rows:
        if last is not None and row[1] != last:
            phase += 1
        last = row[1]
        by_phase.append((phase, row))
    out = []
    for number in range(3):
        ratios = [r[2] for p, r in by_phase if p == number]
        stale = [r[3] for p, r in by_phase if p == number]
        out.append({"phase": ["3 servers", "grown to 4", "shrunk to 3"][number],
                    "hit_ratio_min": round(min(ratios), 4) if ratios else None,
                    "hit_ratio_mean": round(sum(ratios) / len(ratios), 4) if ratios else None,
                    "stale_ratio_max": round(max(stale), 4) if stale else None})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--phase", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds per line")
    parser.add_argument("--proxy", default=os.path.join(ROOT, "target", "release", "memkeep-proxy"))
    args = parser.parse_args()
    if not os.path.exists(args.proxy):
        raise SystemExit(f"{args.proxy}: build it first (or pass --proxy)")
    results = {"keys": args.keys, "phase_seconds": args.phase, "interval": args.interval,
               "runs": {}}
    for label, warm_up in [("warm_up", "10m"), ("no_warm_up", "0")]:
        intervals = run(args, warm_up)
        print(f"\n== {label} (warm_up_after_change = {warm_up!r})")
        print("   t(s)  servers  hit ratio  stale")
        for t, servers, ratio, stale in intervals:
            if ratio is None:
                print(f"  {t:5.2f}  (every key written again)")
            else:
                print(f"  {t:5.2f}  {servers:7d}  {ratio:9.4f}  {stale:5.4f}")
        results["runs"][label] = {"intervals": intervals, "summary": summary(intervals, None)}
        for row in results["runs"][label]["summary"]:
            print(f"  {row['phase']:12s} mean {row['hit_ratio_mean']}  min {row['hit_ratio_min']}"
                  f"  stale max {row['stale_ratio_max']}")
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"resize-{datetime.date.today().isoformat()}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    sys.exit(main())
