#!/usr/bin/python3
"""How fast a replica's full copy runs, and what it costs the node being copied.

Loads a memkeepd node with --items items (100 B values, keys 10-30 B), puts it under
a steady write load (--rate sets/s, `memkeep bench --rate`, open loop), and starts an
empty replica (`--replica-of`). It reports:

- the copy's duration and items/s (from the replica's start until it says
  `repl_state synced`);
- the writing clients' latency on the primary during the copy, next to the same load
  with no copy running (the baseline), measured in the same run.

Three phases, each bounded in time: a trial copy to learn its duration T, a baseline
load of length T, and the measured copy with a load of length T started together
with the replica. Results go to benches/results/copy-<date>.json. Run from anywhere:

    benches/full_copy.py                  # 1,000,000 items at 10,000 writes/s
    benches/full_copy.py --items 100000   # a quick look

Python 3 standard library only; builds nothing (run `cargo build --release` first).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import RELEASE, RESULTS, Server, free_port, machine  # noqa: E402

MEMKEEPD = os.path.join(RELEASE, "memkeepd")
MEMKEEP = os.path.join(RELEASE, "memkeep")


def bench_argv(server, items, flags):
    return [MEMKEEP, "bench", "--json", "--no-progress", "-s", server.addr,
            "-k", str(items), "--key-size", "10-30", "--value-size", "100", *flags]


def preload(server, items):
    subprocess.run(bench_argv(server, items, ["--preload-only", "-c", "8", "--pipeline", "32"]),
                   check=True, capture_output=True)


def start_writer(server, items, rate, seconds):
    """A background set-only load at `rate` ops/s for `seconds`. Each connection has
    one request in flight, so there are enough of them that a few slow replies do not
    make the load fall behind its schedule (which would measure the client's queue)."""
    flags = ["--ratio", "0:1", "-c", "32", "--rate", str(rate), "-d", f"{seconds:.3f}s"]
    return subprocess.Popen(bench_argv(server, items, flags),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_writer(proc):
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"memkeep bench failed: {err}")
    return json.loads(out)


def copy_once(primary, memory_mb, timeout_s):
    """Starts an empty replica of `primary`; returns (seconds until synced, replica)."""
    started = time.time()
    replica = Server("replica", [MEMKEEPD, "-m", str(memory_mb), "-t", "2",
                                 "--replica-of", f"127.0.0.1:{primary.repl_port}"])
    deadline = started + timeout_s
    while time.time() < deadline:
        state = replica_state(replica)
        if state == "synced":
            return time.time() - started, replica
        time.sleep(0.01)
    replica.stop()
    raise SystemExit(f"the replica did not sync within {timeout_s} s")


def replica_state(server):
    for line in server.command(b"stats\r\n").decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "repl_state":
            return parts[2]
    return None


def latency(report):
    keep = ("p50", "p99", "p99_9", "max")
    return {k: report["latency_us"][k] for k in keep} | {
        "requests_per_s": report["requests_per_s"], "errors": report["errors"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=10_000, help="sets/s on the primary")
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=300, help="most seconds for one copy")
    parser.add_argument("--copy-mbps", type=int, default=0,
                        help="the primary's --replication-copy-mbps (0: uncapped)")
    args = parser.parse_args()

    repl_port = free_port()
    primary = Server("primary", [MEMKEEPD, "-m", str(args.memory_mb), "-t", "2",
                                 "-X", str(repl_port),
                                 "--replication-copy-mbps", str(args.copy_mbps)])
    primary.repl_port = repl_port
    try:
        preload(primary, args.items)
        items = primary.stat("curr_items")
        print(f"primary holds {items} items", file=sys.stderr)

        # Trial: how long a copy takes under the load (the writer outlives it).
        writer = start_writer(primary, args.items, args.rate, args.timeout)
        trial_s, replica = copy_once(primary, args.memory_mb, args.timeout)
        replica.stop()
        writer.kill()
        writer.communicate()
        window = max(trial_s, 1.0)
        print(f"trial copy: {trial_s:.2f} s", file=sys.stderr)

        baseline = finish_writer(start_writer(primary, args.items, args.rate, window))

        writer = start_writer(primary, args.items, args.rate, window)
        copy_s, replica = copy_once(primary, args.memory_mb, args.timeout)
        during = finish_writer(writer)
        replica_items = replica.stat("curr_items")
        replica.stop()
    finally:
        primary.stop()

    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "items": items,
        "replica_items": replica_items,
        "write_rate": args.rate,
        "copy_mbps_cap": args.copy_mbps,
        "copy_s": copy_s,
        "items_per_s": items / copy_s,
        "baseline": latency(baseline),
        "during_copy": latency(during),
    }
    os.makedirs(RESULTS, exist_ok=True)
    suffix = f"-capped{args.copy_mbps}" if args.copy_mbps else ""
    path = os.path.join(RESULTS, f"copy-{datetime.date.today()}{suffix}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"full copy of {items} items: {copy_s:.2f} s, {items / copy_s:,.0f} items/s "
          f"(replica holds {replica_items})")
    print(f"{'writes at ' + str(args.rate) + '/s':<22} {'p50 us':>9} {'p99 us':>9} "
          f"{'p99.9 us':>9} {'max us':>9} {'ops/s':>9}")
    for name, row in (("no copy", result["baseline"]), ("during the copy", result["during_copy"])):
        print(f"{name:<22} {row['p50']:>9.0f} {row['p99']:>9.0f} {row['p99_9']:>9.0f} "
              f"{row['max']:>9.0f} {row['requests_per_s']:>9.0f}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
