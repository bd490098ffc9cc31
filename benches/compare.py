#!/usr/bin/python3
"""memkeepd side by side with stock memcached, on this machine, in one run.

Starts both servers with the same memory (-m) and threads (-t), on loopback ports
picked at run time, and drives the same workloads against each in alternation
(A B A B ..., --rounds times, each run bounded by --duration) with `memkeep bench`.
Per workload it prints the median throughput, p99 latency, server CPU-seconds per
million requests (utime + stime of the server's pid from /proc, before and after each
run) and the ratio memkeep / memcached; then the RSS per item of 1M items.

Results go to benches/results/<date>.json and benches/results/latest.png (the plot
BENCHMARKS.md shows). Run from anywhere:

    benches/compare.py                 # full comparison, about 5 minutes
    benches/compare.py --quick         # 1 s runs, 100k items: a smoke test

Python 3 standard library only; the plot needs matplotlib (Debian python3-matplotlib)
and is skipped without it.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
RESULTS = os.path.join(ROOT, "benches", "results")
CLK_TCK = os.sysconf("SC_CLK_TCK")

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


def size_flags(name, args):
    """memkeep bench's key count and value size for a workload."""
    keys, value = SIZES.get(name, (args.keys, 100))
    return ["-k", str(keys), "--value-size", str(value)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a loopback port, killed on stop()."""

    def __init__(self, name, argv):
        self.name = name
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                argv + ["-l", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            if self._wait_accepting():
                return
            self.stop()
        raise SystemExit(f"{name} did not start: {' '.join(argv)}")

    def _wait_accepting(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads), in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def command(self, line, until=b"END\r\n"):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(line)
            got = b""
            while not got.endswith(until):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def flush(self):
        assert self.command(b"flush_all\r\n", until=b"OK\r\n") == b"OK\r\n"

    def stat(self, name):
        for line in self.command(b"stats\r\n").decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == name:
                return int(parts[2])
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_servers(memory_mb, threads):
    memkeepd = Server("memkeepd", [os.path.join(RELEASE, "memkeepd"),
                                   "-m", str(memory_mb), "-t", str(threads)])
    user = ["-u", "root"] if os.geteuid() == 0 else []
    memcached = Server("memcached", ["memcached", *user, "-U", "0",
                                     "-m", str(memory_mb), "-t", str(threads)])
    return memkeepd, memcached


def bench(server, flags):
    argv = [os.path.join(RELEASE, "memkeep"), "bench", "--json", "--no-progress",
            "-s", server.addr, *flags]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def measured_run(server, flags):
    before = server.cpu_seconds()
    report = bench(server, flags)
    cpu = server.cpu_seconds() - before
    report["server_cpu_s"] = cpu
    report["server_cpu_s_per_million"] = cpu / max(report["requests"], 1) * 1e6
    return report


def median(reports, key):
    return statistics.median(key(r) for r in reports)


def compare_workloads(servers, args):
    results = {}
    for name, what, flags in WORKLOADS:
        if args.only and name not in args.only:
            continue
        base = size_flags(name, args)
        for server in servers:
            server.flush()
            bench(server, [*base, "--preload-only", "-c", "4", "--pipeline", "32"])
        runs = {s.name: [] for s in servers}
        for rnd in range(args.rounds):
            for server in servers:  # A B A B ...
                report = measured_run(server, [*flags, *base, "-d", f"{args.duration}s"])
                if report["errors"]:
                    print(f"  warning: {server.name} {name}: {report['errors']} errors "
                          f"({report.get('first_error')})", file=sys.stderr)
                runs[server.name].append(report)
                print(f"  {name} round {rnd + 1} {server.name}: "
                      f"{report['requests_per_s']:,.0f} req/s, "
                      f"p99 {report['latency_us']['p99']:.0f} us, "
                      f"server {report['server_cpu_s_per_million']:.2f} CPU-s/M",
                      file=sys.stderr)
        summary = {}
        for server_name, reports in runs.items():
            summary[server_name] = {
                "requests_per_s": median(reports, lambda r: r["requests_per_s"]),
                "keys_per_s": median(reports, lambda r: r["keys_per_s"]),
                "p99_us": median(reports, lambda r: r["latency_us"]["p99"]),
                "server_cpu_s_per_million": median(
                    reports, lambda r: r["server_cpu_s_per_million"]),
                "client_cpu_us_per_request": median(
                    reports, lambda r: r["client_cpu_us_per_request"]),
                "hit_ratio": median(reports, lambda r: r["hit_ratio"] or 0.0),
                "errors": sum(r["errors"] for r in reports),
                "runs": reports,
            }
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


class Proc:
    """A process measured like a Server, started from a full argv on a known port."""

    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not Server._wait_accepting(self):
            self.stop()
            raise SystemExit(f"{name} did not start: {' '.join(argv)}")

    addr = Server.addr
    cpu_seconds = Server.cpu_seconds
    command = Server.command
    flush = Server.flush
    stop = Server.stop


# Workloads run through the proxies: the plain, pipelined and multi-get shapes.
# The proxies run every workload too: the same key space, value size and load.
PROXY_WORKLOADS = tuple(name for name, _, _ in WORKLOADS)


def proxy_comparison(args):
    """memkeep-proxy vs nutcracker, each with the same nutcracker.yml in front of the
    same memcached, plus that memcached directly: proxy CPU per request and
    proxy/direct throughput, A B C A B C rounds."""
    proxy_bin = args.proxy_bin or os.path.join(RELEASE, "memkeep-proxy")
    if not os.path.exists(proxy_bin):
        return {"skipped": "no memkeep-proxy binary (target/release/memkeep-proxy)"}
    if not shutil.which("nutcracker"):
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
        port = free_port()
        nutcracker = Proc("nutcracker", ["nutcracker", "-c", config("nutcracker", port),
                                         "-s", str(free_port()),
                                         "-o", os.path.join(workdir, "nutcracker.log")], port)
        procs.append(nutcracker)
        port = free_port()
        proxy = Proc("memkeep-proxy", [proxy_bin, "-c", config("memkeep-proxy", port),
                                       "-s", str(free_port())], port)
        procs.append(proxy)
        results = {}
        for name, what, flags in WORKLOADS:
            if name not in PROXY_WORKLOADS or (args.only and name not in args.only):
                continue
            base = size_flags(name, args)
            backend.flush()
            bench(backend, [*base, "--preload-only", "-c", "4", "--pipeline", "32"])
            runs = {"direct": [], "nutcracker": [], "memkeep-proxy": []}
            for rnd in range(args.rounds):
                for label, target in (("direct", backend), ("nutcracker", nutcracker),
                                      ("memkeep-proxy", proxy)):
                    before = target.cpu_seconds()
                    report = bench(target, [*flags, *base, "-d", f"{args.duration}s"])
                    cpu = target.cpu_seconds() - before
                    report["cpu_s_per_million"] = cpu / max(report["requests"], 1) * 1e6
                    runs[label].append(report)
                    print(f"  proxy {name} round {rnd + 1} {label}: "
                          f"{report['requests_per_s']:,.0f} req/s, errors {report['errors']}, "
                          f"{label} {report['cpu_s_per_million']:.2f} CPU-s/M", file=sys.stderr)
            summary = {label: {
                "requests_per_s": median(reports, lambda r: r["requests_per_s"]),
                "p99_us": median(reports, lambda r: r["latency_us"]["p99"]),
                "cpu_s_per_million": median(reports, lambda r: r["cpu_s_per_million"]),
                "errors": sum(r["errors"] for r in reports),
                "runs": reports,
            } for label, reports in runs.items()}
            direct = summary["direct"]["requests_per_s"]
            for label in ("nutcracker", "memkeep-proxy"):
                summary[label]["over_direct"] = summary[label]["requests_per_s"] / direct
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


def print_table(results, rss, proxy):
    print()
    print(f"{'workload':<12} {'server':<10} {'req/s':>10} {'p99 us':>9} "
          f"{'CPU-s/M':>8} {'client us/req':>13} {'hit':>5}")
    for name, s in results.items():
        for server in ("memkeepd", "memcached"):
            r = s[server]
            print(f"{name:<12} {server:<10} {r['requests_per_s']:>10,.0f} {r['p99_us']:>9.0f} "
                  f"{r['server_cpu_s_per_million']:>8.2f} "
                  f"{r['client_cpu_us_per_request']:>13.2f} {r['hit_ratio']:>5.2f}")
        ratio = s["ratio"]
        fmt = lambda x: f"{x:.2f}" if x is not None else "-"
        print(f"{'':<12} {'ratio':<10} {fmt(ratio['requests_per_s']):>10} "
              f"{fmt(ratio['p99_us']):>9} {fmt(ratio['server_cpu_s_per_million']):>8}")
    if rss:
        print()
        for server in ("memkeepd", "memcached"):
            r = rss[server]
            print(f"RSS {server:<10} {r['bytes_per_item']:.1f} B/item "
                  f"({r['curr_items']} items, {r['rss_loaded_bytes'] / 2**20:.0f} MiB loaded, "
                  f"{r['rss_empty_bytes'] / 2**20:.1f} MiB empty)")
        print(f"RSS ratio memkeepd / memcached: {rss['ratio']:.2f}")
    print()
    if "skipped" in proxy:
        print(f"proxy comparison: skipped: {proxy['skipped']}")
        return
    print(f"{'proxy':<12} {'target':<14} {'req/s':>10} {'p99 us':>9} {'CPU-s/M':>8} "
          f"{'over direct':>11}")
    for name, s in proxy.items():
        for label in ("direct", "nutcracker", "memkeep-proxy"):
            r = s[label]
            over = f"{r['over_direct']:.2f}" if "over_direct" in r else ""
            print(f"{name:<12} {label:<14} {r['requests_per_s']:>10,.0f} {r['p99_us']:>9.0f} "
                  f"{r['cpu_s_per_million']:>8.2f} {over:>11}")
        ratio = s["cpu_ratio"]
        print(f"{'':<12} {'CPU mk/nc':<14} {'':>10} {'':>9} "
              f"{(f'{ratio:.2f}' if ratio is not None else '-'):>8}")


def bars(ax, names, series, title):
    """Grouped bars: one group per workload, one bar per (label, color, values)."""
    w = 0.8 / len(series)
    for i, (label, color, values) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * w
        ax.bar([x + offset for x in range(len(names))], values, w, label=label, color=color)
    ax.set_xticks(list(range(len(names))))
    ax.set_xticklabels(names, rotation=20)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)


def plot(results, rss, proxy, path):
    """memkeepd vs memcached on the top row, memkeep-proxy vs nutcracker below."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: no matplotlib (apt-get install python3-matplotlib; "
              "run the script with Debian's /usr/bin/python3)", file=sys.stderr)
        return False
    proxied = {n: r for n, r in (proxy or {}).items() if isinstance(r, dict) and "direct" in r}
    rows = 2 if proxied else 1
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.2 * rows), squeeze=False)
    mk, mc, nc = "#2a7ab9", "#999999", "#d98c3a"
    names = list(results)
    for ax, title, key in (
            (axes[0][0], "memkeepd vs memcached: throughput (req/s)", "requests_per_s"),
            (axes[0][1], "server CPU-seconds per million requests", "server_cpu_s_per_million")):
        bars(ax, names, [("memkeepd", mk, [results[n]["memkeepd"][key] for n in names]),
                         ("memcached", mc, [results[n]["memcached"][key] for n in names])],
             title)
    # pipeline16 is several times the others: a log scale keeps them all readable.
    axes[0][0].set_yscale("log")
    if rss:
        ax = axes[0][2]
        vals = [rss["memkeepd"]["bytes_per_item"], rss["memcached"]["bytes_per_item"]]
        ax.bar(["memkeepd", "memcached"], vals, color=[mk, mc])
        ax.set_title(f"RSS bytes per item ({rss['memkeepd']['items_loaded']:,} items)",
                     fontsize=10)
    else:
        axes[0][2].axis("off")
    if proxied:
        names = list(proxied)
        for ax, title, key in (
                (axes[1][0], "proxy throughput over direct memcached", "over_direct"),
                (axes[1][1], "proxy CPU-seconds per million requests", "cpu_s_per_million")):
            bars(ax, names,
                 [("memkeep-proxy", mk, [proxied[n]["memkeep-proxy"][key] for n in names]),
                  ("nutcracker", nc, [proxied[n]["nutcracker"][key] for n in names])],
                 title)
        axes[1][2].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    p.add_argument("--threads", type=int, default=2, help="server threads (-t)")
    p.add_argument("--memory", type=int, default=1024, help="server memory, MB (-m)")
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--rss-items", type=int, default=1_000_000)
    p.add_argument("--rss-memory", type=int, default=1024)
    p.add_argument("--skip-rss", action="store_true")
    p.add_argument("--only", nargs="*", help="run only these workloads")
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
        ok = plot(record["workloads"], record.get("rss"), record.get("proxy"), latest)
        sys.exit(0 if ok else 1)
    if args.quick:
        args.duration, args.rss_items = 1.0, 100_000
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "memkeepd", "--bin", "memkeep",
                        "--bin", "memkeep-proxy"],
                       cwd=ROOT, check=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine()
    results = {}
    if not args.proxy_only:
        servers = start_servers(args.memory, args.threads)
        try:
            results = compare_workloads(servers, args)
        finally:
            for s in servers:
                s.stop()
    rss = None if args.skip_rss or args.proxy_only else rss_per_item(args)
    proxy = proxy_comparison(args)
    print_table(results, rss, proxy)
    os.makedirs(RESULTS, exist_ok=True)
    record = {
        "date": started.isoformat(timespec="seconds"),
        "machine": info,
        "settings": {k: v for k, v in vars(args).items()},
        "workloads": results,
        "rss": rss,
        "proxy": proxy,
    }
    # A proxy-only run does not replace the day's full record.
    suffix = "-proxy" if args.proxy_only else ""
    path = os.path.join(RESULTS, started.strftime("%Y-%m-%d") + suffix + ".json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"results: {os.path.relpath(path, ROOT)}")
    if results and plot(results, rss, proxy, os.path.join(RESULTS, "latest.png")):
        print(f"plot: {os.path.relpath(os.path.join(RESULTS, 'latest.png'), ROOT)}")


if __name__ == "__main__":
    main()
