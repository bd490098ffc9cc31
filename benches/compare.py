#!/usr/bin/python3
"""memkeepd side by side with stock memcached, on this machine, in one run.

Starts memkeepd, memcached and the floor server (benches/floor: a do-nothing server
that answers with canned replies, the least work a server can do) with the same
memory (-m) and threads (-t), on loopback ports picked at run time, and drives the
same workloads against each in alternation (A B C A B C ..., --rounds times, each run
bounded by --duration) with `memkeep bench`. Per workload it prints the median
throughput, p99 latency, server CPU-seconds per million requests (utime + stime of the
server's pid from /proc, before and after each run, and the two apart), each server's
fraction of the floor (its req/s over the floor's in the same round, its CPU per
request over the floor's) and the ratio memkeep / memcached; then the RSS per item of
1M items. The proxies likewise: memkeep-proxy, nutcracker and the floor proxy in front
of one memcached, next to that memcached directly.

Results go to benches/results/<date>.json and benches/results/latest.png (the plot
BENCHMARKS.md shows). Run from anywhere:

    benches/compare.py                      # full comparison, about 7 minutes
    benches/compare.py --quick              # 1 s runs, 100k items: a smoke test
    benches/compare.py --syscalls           # also system calls per request (perf)
    benches/compare.py --threads-sweep 1 2  # each server and proxy at -t 1, then -t 2
    benches/compare.py --uring              # also the floor on io_uring next to the
                                            # epoll floor (floor-uring, floor-proxy-uring)

Python 3 standard library only; the plot needs matplotlib (Debian python3-matplotlib)
and is skipped without it; --syscalls needs perf (Debian linux-perf).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from compare_procs import Proc, Server, SyscallCount, free_port
from compare_report import plot, print_tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
RESULTS = os.path.join(ROOT, "benches", "results")

# name, what it shows, memkeep bench flags (all on top of: text protocol, one client
# thread, 100 B values, 100k keys preloaded, uniform keys).
WORKLOADS = [
    ("get90", "90/10 get/set, 8 connections", ["--ratio", "9:1", "-c", "8"]),
    ("get50", "50/50 get/set, 8 connections", ["--ratio", "1:1", "-c", "8"]),
    ("pipeline16", "90/10, pipeline depth 16", ["--ratio", "9:1", "-c", "8", "--pipeline", "16"]),
    ("multiget16", "16-key multi-gets", ["--ratio", "1:0", "-c", "8", "--multiget", "16"]),
    ("conns500", "90/10, 500 connections", ["--ratio", "9:1", "-c", "500"]),
    ("value16k", "90/10, 16 KiB values, 10k keys", ["--ratio", "9:1", "-c", "8"]),
]
# Workloads whose key count and value size differ from the defaults.
SIZES = {"value16k": (10_000, 16384)}

SERVERS = ("memkeepd", "memcached", "floor")
PROXIES = ("direct", "nutcracker", "memkeep-proxy", "floor-proxy")


def size_flags(name, args):
    """memkeep bench's key count and value size for a workload."""
    keys, value = SIZES.get(name, (args.keys, 100))
    return ["-k", str(keys), "--value-size", str(value)]


def selected(args):
    return [w for w in WORKLOADS if not args.only or w[0] in args.only]


def start_servers(memory_mb, threads):
    memkeepd = Server("memkeepd", [os.path.join(RELEASE, "memkeepd"),
                                   "-m", str(memory_mb), "-t", str(threads)])
    user = ["-u", "root"] if os.geteuid() == 0 else []
    memcached = Server("memcached", ["memcached", *user, "-U", "0",
                                     "-m", str(memory_mb), "-t", str(threads)])
    return memkeepd, memcached


def start_floor(threads):
    return Server("floor", [os.path.join(RELEASE, "floor-server"), "-t", str(threads)])


def start_floor_uring(threads):
    """The floor server on io_uring (`--uring`): the same replies and batching."""
    return Server("floor-uring", [os.path.join(RELEASE, "floor-server-uring"),
                                  "-t", str(threads)])


def bench(target, flags):
    argv = [os.path.join(RELEASE, "memkeep"), "bench", "--json", "--no-progress",
            "-s", target.addr, *flags]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def measured_run(target, flags, prefix, syscalls=False):
    """One `memkeep bench` run with the target's CPU (all, user, system, per thread)
    per million requests under `<prefix>cpu_s_per_million` and the like, and with
    `syscalls`, its system calls per request."""
    user0, system0 = target.cpu_times()
    threads0 = target.thread_cpu()
    if syscalls:
        with SyscallCount(target.pid) as counted:
            report = bench(target, flags)
    else:
        report = bench(target, flags)
    user1, system1 = target.cpu_times()
    threads1 = target.thread_cpu()
    per_million = 1e6 / max(report["requests"], 1)
    report[f"{prefix}cpu_s_per_million"] = (user1 - user0 + system1 - system0) * per_million
    report[f"{prefix}user_s_per_million"] = (user1 - user0) * per_million
    report[f"{prefix}system_s_per_million"] = (system1 - system0) * per_million
    report["thread_cpu_s_per_million"] = sorted(
        ([name, (cpu - threads0.get(tid, (name, 0.0))[1]) * per_million]
         for tid, (name, cpu) in threads1.items()
         if cpu - threads0.get(tid, (name, 0.0))[1] > 0), key=lambda t: -t[1])
    if syscalls:
        if counted.counts is None:
            report["syscalls_error"] = counted.error
        else:
            report["syscalls_per_request"] = {
                name: n / max(report["requests"], 1)
                for name, n in sorted(counted.counts.items(), key=lambda kv: -kv[1]) if n}
    return report


def median(reports, key):
    return statistics.median(key(r) for r in reports)


def summarize(reports, prefix):
    """The median of a target's rounds, and its rounds."""
    out = {
        "requests_per_s": median(reports, lambda r: r["requests_per_s"]),
        "keys_per_s": median(reports, lambda r: r["keys_per_s"]),
        "p99_us": median(reports, lambda r: r["latency_us"]["p99"]),
        "client_cpu_us_per_request": median(reports, lambda r: r["client_cpu_us_per_request"]),
        "hit_ratio": median(reports, lambda r: r["hit_ratio"] or 0.0),
        "errors": sum(r["errors"] for r in reports),
        "busiest_thread_cpu_s_per_million": median(
            reports, lambda r: max([t[1] for t in r["thread_cpu_s_per_million"]], default=0.0)),
        "runs": reports,
    }
    for what in ("cpu", "user", "system"):
        key = f"{prefix}{what}_s_per_million"
        out[key] = median(reports, lambda r: r[key])
    return out


def of_floor(runs, label, floor, prefix):
    """A target's req/s and CPU per request over the floor's, round by round (the
    rounds alternate, so each pair shares the machine's load), then the median."""
    def ratio(key):
        # A run too short for a clock tick of the floor's CPU has no ratio.
        ratios = [t[key] / f[key] for t, f in zip(runs[label], runs[floor]) if f[key]]
        return statistics.median(ratios) if ratios else None
    return {"requests_per_s": ratio("requests_per_s"), "cpu": ratio(f"{prefix}cpu_s_per_million")}


def syscall_runs(targets, flags, prefix, duration):
    """One more run per target with its system calls counted (kept apart from the
    timed rounds: counting costs a little per call)."""
    out = {}
    for target in targets:
        report = measured_run(target, [*flags, "-d", f"{duration}s"], prefix, syscalls=True)
        out[target.name] = report.get("syscalls_per_request") or {
            "error": report.get("syscalls_error")}
        print(f"  syscalls {target.name}: "
              f"{out[target.name].get('all', 0):.2f} per request", file=sys.stderr)
    return out


def compare_workloads(servers, args):
    results = {}
    prefix = "server_"
    for name, what, flags in selected(args):
        base = size_flags(name, args)
        for server in servers:
            server.flush()
            bench(server, [*base, "--preload-only", "-c", "4", "--pipeline", "32"])
        runs = {s.name: [] for s in servers}
        for rnd in range(args.rounds):
            for server in servers:  # A B C A B C ...
                report = measured_run(server, [*flags, *base, "-d", f"{args.duration}s"], prefix)
                if report["errors"]:
                    print(f"  warning: {server.name} {name}: {report['errors']} errors "
                          f"({report.get('first_error')})", file=sys.stderr)
                runs[server.name].append(report)
                print(f"  {name} round {rnd + 1} {server.name}: "
                      f"{report['requests_per_s']:,.0f} req/s, "
                      f"p99 {report['latency_us']['p99']:.0f} us, "
                      f"server {report['server_cpu_s_per_million']:.2f} CPU-s/M",
                      file=sys.stderr)
        summary = {label: summarize(reports, prefix) for label, reports in runs.items()}
        for label in ("memkeepd", "memcached", "floor-uring"):
            if label in runs:  # floor-uring: its rounds over the epoll floor's
                summary[label]["of_floor"] = of_floor(runs, label, "floor", prefix)
        if args.syscalls:
            counted = syscall_runs(servers, [*flags, *base], prefix, args.syscall_seconds)
            for label, calls in counted.items():
                summary[label]["syscalls_per_request"] = calls
        a, b = summary["memkeepd"], summary["memcached"]
        summary["ratio"] = {
            k: (a[k] / b[k] if b[k] else None)
            for k in ("requests_per_s", "p99_us", "server_cpu_s_per_million")
        }
        summary["what"] = what
        summary["flags"] = [*flags, *base]
        results[name] = summary
    return results


def rss_per_item(args):
    """RSS growth per item for N items (keys 10-30 B, values 100 B), each server
    fresh, loaded by memkeep bench --preload-only."""
    out = {}
    memkeepd, memcached = start_servers(args.rss_memory, args.threads)
    try:
        for server in (memkeepd, memcached):
            server.command(b"version\r\n", until=b"\r\n")
            time.sleep(0.2)
            empty = server.rss_bytes()
            bench(server, ["--preload-only", "-k", str(args.rss_items), "--key-size", "10-30",
                           "--value-size", "100", "-c", "4", "--pipeline", "32"])
            time.sleep(0.2)
            loaded = server.rss_bytes()
            items = server.stat("curr_items")
            out[server.name] = {
                "items_loaded": args.rss_items,
                "curr_items": items,
                "rss_empty_bytes": empty,
                "rss_loaded_bytes": loaded,
                "bytes_per_item": (loaded - empty) / args.rss_items,
            }
    finally:
        memkeepd.stop()
        memcached.stop()
    a, b = out["memkeepd"]["bytes_per_item"], out["memcached"]["bytes_per_item"]
    out["ratio"] = a / b if b else None
    return out


def proxy_comparison(args, threads, with_nutcracker=True):
    """memkeep-proxy (--threads N) vs nutcracker, each with the same nutcracker.yml
    in front of the same memcached, the floor proxy (N threads) in front of it too,
    plus that memcached directly: proxy CPU per request, proxy/direct and
    proxy/floor throughput, A B C D rounds. nutcracker has one thread whatever N:
    `with_nutcracker` False leaves it out (a thread sweep runs it once)."""
    proxy_bin = args.proxy_bin or os.path.join(RELEASE, "memkeep-proxy")
    if not os.path.exists(proxy_bin):
        return {"skipped": "no memkeep-proxy binary (target/release/memkeep-proxy)"}
    if with_nutcracker and not shutil.which("nutcracker"):
        return {"skipped": "nutcracker is not installed (apt-get install nutcracker)"}
    user = ["-u", "root"] if os.geteuid() == 0 else []
    backend = Server("memcached", ["memcached", *user, "-U", "0", "-m", str(args.memory),
                                   "-t", str(args.threads)])
    procs = [backend]
    workdir = tempfile.mkdtemp(prefix="memkeep-compare-")
    try:
        def config(name, port):
            path = os.path.join(workdir, f"{name}.yml")
            with open(path, "w") as f:
                f.write("bench:\n"
                        f"  listen: 127.0.0.1:{port}\n"
                        "  hash: fnv1a_64\n  distribution: ketama\n  timeout: 2000\n"
                        "  auto_eject_hosts: false\n  server_connections: 1\n"
                        f"  servers:\n   - {backend.addr}:1\n")
            return path
        targets = [("direct", backend)]
        if with_nutcracker:
            port = free_port()
            nutcracker = Proc("nutcracker", ["nutcracker", "-c", config("nutcracker", port),
                                             "-s", str(free_port()),
                                             "-o", os.path.join(workdir, "nutcracker.log")], port)
            procs.append(nutcracker)
            targets.append(("nutcracker", nutcracker))
        port = free_port()
        proxy = Proc("memkeep-proxy", [proxy_bin, "-c", config("memkeep-proxy", port),
                                       "-s", str(free_port()), "--threads", str(threads)], port)
        procs.append(proxy)
        targets.append(("memkeep-proxy", proxy))
        floors = ["floor-proxy", *(["floor-proxy-uring"] if args.uring else [])]
        for label in floors:
            port = free_port()
            floor = Proc(label, [os.path.join(RELEASE, label), "-l", "127.0.0.1",
                                 "-p", str(port), "-b", backend.addr,
                                 "--threads", str(threads)], port)
            procs.append(floor)
            targets.append((label, floor))
        prefix = ""
        results = {}
        for name, what, flags in selected(args):
            base = size_flags(name, args)
            backend.flush()
            bench(backend, [*base, "--preload-only", "-c", "4", "--pipeline", "32"])
            runs = {label: [] for label, _ in targets}
            for rnd in range(args.rounds):
                for label, target in targets:  # A B C D A B C D ...
                    report = measured_run(target, [*flags, *base, "-d", f"{args.duration}s"],
                                          prefix)
                    runs[label].append(report)
                    print(f"  proxy {name} round {rnd + 1} {label}: "
                          f"{report['requests_per_s']:,.0f} req/s, errors {report['errors']}, "
                          f"{label} {report['cpu_s_per_million']:.2f} CPU-s/M", file=sys.stderr)
            summary = {label: summarize(reports, prefix) for label, reports in runs.items()}
            direct = summary["direct"]["requests_per_s"]
            for label, _ in targets[1:]:
                summary[label]["over_direct"] = summary[label]["requests_per_s"] / direct
                if label != "floor-proxy":
                    summary[label]["of_floor"] = of_floor(runs, label, "floor-proxy", prefix)
            if args.syscalls:
                counted = syscall_runs([t for _, t in targets[1:]], [*flags, *base], prefix,
                                       args.syscall_seconds)
                for label, calls in counted.items():
                    summary[label]["syscalls_per_request"] = calls
            if with_nutcracker:
                n, m = summary["nutcracker"], summary["memkeep-proxy"]
                summary["cpu_ratio"] = (m["cpu_s_per_million"] / n["cpu_s_per_million"]
                                        if n["cpu_s_per_million"] else None)
            summary["what"] = what
            results[name] = summary
        return results
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def server_comparison(args, threads):
    servers = [*start_servers(args.memory, threads), start_floor(threads)]
    if args.uring:
        servers.append(start_floor_uring(threads))
    try:
        return compare_workloads(servers, args)
    finally:
        for s in servers:
            s.stop()


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return None
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "memcached": version(["memcached", "-V"]),
        "commit": version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "load_average_at_start": os.getloadavg(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    p.add_argument("--threads", type=int, default=2, help="server threads (-t)")
    p.add_argument("--proxy-threads", type=int, default=1,
                   help="memkeep-proxy's and the floor proxy's threads (default 1, as "
                        "nutcracker has)")
    p.add_argument("--threads-sweep", type=int, nargs="+", metavar="N",
                   help="run every server at -t N and every proxy at --threads N, for "
                        "each N in turn (nutcracker, single-threaded, runs once)")
    p.add_argument("--memory", type=int, default=1024, help="server memory, MB (-m)")
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--rss-items", type=int, default=1_000_000)
    p.add_argument("--rss-memory", type=int, default=1024)
    p.add_argument("--skip-rss", action="store_true")
    p.add_argument("--syscalls", action="store_true",
                   help="one more run per workload and target, counting its system calls "
                        "(perf stat on syscall tracepoints)")
    p.add_argument("--syscall-seconds", type=float, default=2.0,
                   help="length of each --syscalls run")
    p.add_argument("--only", nargs="*", help="run only these workloads")
    p.add_argument("--uring", action="store_true",
                   help="also the floor server and floor proxy on io_uring, interleaved "
                        "with the rest, with their ratio to the epoll floor")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--quick", action="store_true", help="1 s runs, 100k RSS items")
    p.add_argument("--proxy-bin", help="the memkeep-proxy binary to measure "
                   "(default: target/release/memkeep-proxy)")
    p.add_argument("--proxy-only", action="store_true",
                   help="only the memkeep-proxy / nutcracker comparison (no RSS, no memkeepd)")
    p.add_argument("--plot", metavar="RESULTS_JSON",
                   help="only redraw benches/results/latest.png from a saved record")
    args = p.parse_args()
    if args.plot:
        with open(args.plot) as f:
            record = json.load(f)
        latest = os.path.join(RESULTS, "latest.png")
        ok = plot(record["workloads"], record.get("rss"), record.get("proxy"), latest,
                  record.get("sweep"))
        sys.exit(0 if ok else 1)
    if args.quick:
        args.duration, args.rss_items = 1.0, 100_000
        args.syscall_seconds = min(args.syscall_seconds, 1.0)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "memkeep-bins", "-p", "memkeep-floor",
                        "--bin", "memkeepd", "--bin", "memkeep", "--bin", "memkeep-proxy",
                        "--bin", "floor-server", "--bin", "floor-proxy",
                        *(["--bin", "floor-server-uring", "--bin", "floor-proxy-uring"]
                          if args.uring else [])],
                       cwd=ROOT, check=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine()
    sweep = {}
    for i, threads in enumerate(args.threads_sweep or [args.threads]):
        print(f"threads {threads}", file=sys.stderr)
        results = {} if args.proxy_only else server_comparison(args, threads)
        proxy_threads = threads if args.threads_sweep else args.proxy_threads
        proxy = proxy_comparison(args, proxy_threads, with_nutcracker=i == 0)
        sweep[threads] = {"workloads": results, "proxy": proxy}
    # The main record and plot: the servers at --threads if the sweep has it, else at
    # its first N; the proxies at the first N, the one with nutcracker.
    main_threads = args.threads if args.threads in sweep else next(iter(sweep))
    results, proxy = sweep[main_threads]["workloads"], next(iter(sweep.values()))["proxy"]
    rss = None if args.skip_rss or args.proxy_only else rss_per_item(args)
    print_tables(sweep, rss)
    os.makedirs(RESULTS, exist_ok=True)
    record = {
        "date": started.isoformat(timespec="seconds"),
        "machine": info,
        "settings": {k: v for k, v in vars(args).items()},
        "threads": main_threads,
        "workloads": results,
        "rss": rss,
        "proxy": proxy,
    }
    if len(sweep) > 1:
        record["sweep"] = {str(n): s for n, s in sweep.items()}
    # A proxy-only run does not replace the day's full record.
    suffix = "-proxy" if args.proxy_only else ""
    path = os.path.join(RESULTS, started.strftime("%Y-%m-%d") + suffix + ".json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"results: {os.path.relpath(path, ROOT)}")
    latest = os.path.join(RESULTS, "latest.png")
    if results and plot(results, rss, proxy, latest, record.get("sweep")):
        print(f"plot: {os.path.relpath(latest, ROOT)}")


if __name__ == "__main__":
    main()
