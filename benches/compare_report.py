"""compare.py's output: the tables it prints and the plot it draws
(benches/results/latest.png)."""

import sys

SERVERS = ("memkeepd", "memcached", "floor")
PROXIES = ("direct", "nutcracker", "memkeep-proxy", "floor-proxy")
# The floor on io_uring, in the tables only when compare.py ran it (--uring).
URING = {"floor": "floor-uring", "floor-proxy": "floor-proxy-uring"}


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def syscalls_cell(r):
    calls = r.get("syscalls_per_request")
    if not calls or "all" not in calls:
        return ""
    return f"{calls['all']:.2f}"


def syscalls_detail(r):
    """The biggest per-request system calls, e.g. `read 1.00 write 1.00 epoll_wait 0.4`."""
    calls = r.get("syscalls_per_request") or {}
    parts = [f"{n} {v:.2f}" for n, v in calls.items() if n not in ("all", "error") and v >= 0.01]
    return " ".join(parts[:5])


def label_width(table, labels, least):
    """The label column's width: `least`, or wider for a longer label present."""
    return max([least] + [len(label) for s in table.values() for label in labels if label in s])


def print_server_table(results):
    labels = (*SERVERS, URING["floor"])
    w = label_width(results, labels, 10)
    print(f"{'workload':<12} {'server':<{w}} {'req/s':>10} {'p99 us':>8} {'CPU-s/M':>8} "
          f"{'user':>6} {'sys':>6} {'top thr':>7} {'rps/floor':>9} {'CPU/floor':>9} "
          f"{'client us':>9} {'hit':>5} {'calls/req':>9}")
    details = []
    for name, s in results.items():
        for server in labels:
            if server not in s:
                continue
            r = s[server]
            floor = r.get("of_floor", {})
            print(f"{name:<12} {server:<{w}} {r['requests_per_s']:>10,.0f} {r['p99_us']:>8.0f} "
                  f"{r['server_cpu_s_per_million']:>8.2f} "
                  f"{r['server_user_s_per_million']:>6.2f} "
                  f"{r['server_system_s_per_million']:>6.2f} "
                  f"{r['busiest_thread_cpu_s_per_million']:>7.2f} "
                  f"{fmt(floor.get('requests_per_s')):>9} {fmt(floor.get('cpu')):>9} "
                  f"{r['client_cpu_us_per_request']:>9.2f} {r['hit_ratio']:>5.2f} "
                  f"{syscalls_cell(r):>9}")
            if syscalls_detail(r):
                details.append(f"  {name} {server}: {syscalls_detail(r)}")
        ratio = s["ratio"]
        print(f"{'':<12} {'mk/mc':<{w}} {fmt(ratio['requests_per_s']):>10} "
              f"{fmt(ratio['p99_us']):>8} {fmt(ratio['server_cpu_s_per_million']):>8}")
        print_uring_ratio(s, "floor", "server_", w)
    if details:
        print("system calls per request:")
        print("\n".join(details))


def print_proxy_table(proxy):
    if "skipped" in proxy:
        print(f"proxy comparison: skipped: {proxy['skipped']}")
        return
    labels = (*PROXIES, URING["floor-proxy"])
    w = label_width(proxy, labels, 14)
    print(f"{'proxy':<12} {'target':<{w}} {'req/s':>10} {'p99 us':>8} {'CPU-s/M':>8} "
          f"{'user':>6} {'sys':>6} {'top thr':>7} {'/direct':>7} {'rps/floor':>9} "
          f"{'CPU/floor':>9} {'calls/req':>9}")
    details = []
    for name, s in proxy.items():
        for label in labels:
            if label not in s:
                continue
            r = s[label]
            floor = r.get("of_floor", {})
            print(f"{name:<12} {label:<{w}} {r['requests_per_s']:>10,.0f} {r['p99_us']:>8.0f} "
                  f"{r['cpu_s_per_million']:>8.2f} {r['user_s_per_million']:>6.2f} "
                  f"{r['system_s_per_million']:>6.2f} "
                  f"{r['busiest_thread_cpu_s_per_million']:>7.2f} "
                  f"{fmt(r.get('over_direct')) if 'over_direct' in r else '':>7} "
                  f"{fmt(floor.get('requests_per_s')) if floor else '':>9} "
                  f"{fmt(floor.get('cpu')) if floor else '':>9} {syscalls_cell(r):>9}")
            if syscalls_detail(r):
                details.append(f"  {name} {label}: {syscalls_detail(r)}")
        if s.get("cpu_ratio") is not None:
            print(f"{'':<12} {'CPU mk/nc':<{w}} {'':>10} {'':>8} {fmt(s['cpu_ratio']):>8}")
        print_uring_ratio(s, "floor-proxy", "", w)
    if details:
        print("system calls per request:")
        print("\n".join(details))


def print_uring_ratio(s, floor, prefix, width):
    """With --uring: the io_uring floor over the epoll floor, req/s and CPU per
    request (medians of the rounds' ratios), user and system CPU and system calls
    per request (ratios of the medians)."""
    uring = URING[floor]
    if uring not in s:
        return
    e, u = s[floor], s[uring]
    def over(key):
        return u[key] / e[key] if e[key] else None
    calls = [(r.get("syscalls_per_request") or {}).get("all") for r in (u, e)]
    calls = f" calls {fmt(calls[0] / calls[1])}" if all(calls) else ""
    print(f"{'':<12} {'uring/epoll':<{width}} req/s {fmt(u['of_floor']['requests_per_s'])} "
          f"CPU {fmt(u['of_floor']['cpu'])} user {fmt(over(prefix + 'user_s_per_million'))} "
          f"sys {fmt(over(prefix + 'system_s_per_million'))}{calls}")


def print_sweep(sweep):
    """Per workload and target: req/s, CPU-s per million requests and the busiest
    thread's share of it, at each thread count."""
    counts = list(sweep)
    head = " ".join(f"{f'N={n} req/s':>12} {'CPU-s/M':>8} {'top thr':>7}" for n in counts)
    print(f"{'workload':<12} {'target':<14} {head}")
    rows = {}
    for n in counts:
        for table, cpu in ((sweep[n]["workloads"], "server_cpu_s_per_million"),
                           (sweep[n]["proxy"], "cpu_s_per_million")):
            if "skipped" in table:
                continue
            for name, s in table.items():
                for label in (*SERVERS, *PROXIES):
                    if label in s:
                        r = s[label]
                        rows.setdefault((name, label), {})[n] = (
                            r["requests_per_s"], r[cpu], r["busiest_thread_cpu_s_per_million"])
    for (name, label), by_n in rows.items():
        cells = " ".join(
            f"{by_n[n][0]:>12,.0f} {by_n[n][1]:>8.2f} {by_n[n][2]:>7.2f}" if n in by_n
            else f"{'':>12} {'':>8} {'':>7}" for n in counts)
        print(f"{name:<12} {label:<14} {cells}")


def print_tables(sweep, rss):
    for threads, entry in sweep.items():
        print()
        print(f"== threads {threads}: servers -t {threads}")
        if entry["workloads"]:
            print_server_table(entry["workloads"])
        if rss and threads == next(iter(sweep)):
            print()
            for server in ("memkeepd", "memcached"):
                r = rss[server]
                print(f"RSS {server:<10} {r['bytes_per_item']:.1f} B/item "
                      f"({r['curr_items']} items, {r['rss_loaded_bytes'] / 2**20:.0f} MiB loaded, "
                      f"{r['rss_empty_bytes'] / 2**20:.1f} MiB empty)")
            print(f"RSS ratio memkeepd / memcached: {rss['ratio']:.2f}")
        print()
        print_proxy_table(entry["proxy"])
    if len(sweep) > 1:
        print()
        print("== scaling with threads (CPU-s/M: all threads; top thr: the busiest thread)")
        print_sweep(sweep)


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


COLORS = {"memkeepd": "#2a7ab9", "memkeep-proxy": "#2a7ab9", "memcached": "#999999",
          "nutcracker": "#d98c3a", "floor": "#4c9a4c", "floor-proxy": "#4c9a4c"}


def plot(results, rss, proxy, path, sweep=None):
    """memkeepd, memcached and the floor server on the top row; memkeep-proxy,
    nutcracker and the floor proxy below; with a thread sweep, req/s by threads."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: no matplotlib (apt-get install python3-matplotlib; "
              "run the script with Debian's /usr/bin/python3)", file=sys.stderr)
        return False
    proxied = {n: r for n, r in (proxy or {}).items() if isinstance(r, dict) and "direct" in r}
    rows = 1 + bool(proxied) + bool(sweep)
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.2 * rows), squeeze=False)
    names = list(results)
    # Older records have no floor: draw what there is.
    servers = [s for s in SERVERS if all(s in results[n] for n in names)]
    for ax, title, key in (
            (axes[0][0], "servers: throughput (req/s)", "requests_per_s"),
            (axes[0][1], "server CPU-seconds per million requests", "server_cpu_s_per_million")):
        bars(ax, names, [(s, COLORS[s], [results[n][s][key] for n in names]) for s in servers],
             title)
    # pipeline16 is several times the others: a log scale keeps them all readable.
    axes[0][0].set_yscale("log")
    if rss:
        ax = axes[0][2]
        vals = [rss["memkeepd"]["bytes_per_item"], rss["memcached"]["bytes_per_item"]]
        ax.bar(["memkeepd", "memcached"], vals, color=[COLORS["memkeepd"], COLORS["memcached"]])
        ax.set_title(f"RSS bytes per item ({rss['memkeepd']['items_loaded']:,} items)",
                     fontsize=10)
    else:
        axes[0][2].axis("off")
    row = 1
    if proxied:
        names = list(proxied)
        labels = [p for p in PROXIES[1:] if all(p in proxied[n] for n in names)]
        for ax, title, key in (
                (axes[row][0], "proxy throughput over direct memcached", "over_direct"),
                (axes[row][1], "proxy CPU-seconds per million requests", "cpu_s_per_million")):
            bars(ax, names, [(p, COLORS[p], [proxied[n][p][key] for n in names])
                             for p in labels], title)
        axes[row][2].axis("off")
        row += 1
    if sweep:
        plot_sweep(axes[row], sweep)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def plot_sweep(axes, sweep):
    """The first workload's req/s and CPU per request at each thread count."""
    counts = sorted(sweep, key=int)
    first = next(iter(sweep.values()))
    workload = next(iter(first["workloads"] or first["proxy"]), None)
    if workload is None:
        for ax in axes:
            ax.axis("off")
        return
    for ax, title, keys in (
            (axes[0], f"{workload}: req/s by threads", ("requests_per_s", "requests_per_s")),
            (axes[1], f"{workload}: CPU-s per million requests by threads",
             ("server_cpu_s_per_million", "cpu_s_per_million"))):
        for table, labels, key in (("workloads", SERVERS, keys[0]),
                                   ("proxy", PROXIES[2:], keys[1])):
            for label in labels:
                points = [(int(n), sweep[n][table][workload][label][key]) for n in counts
                          if workload in sweep[n][table]
                          and label in sweep[n][table][workload]]
                if points:
                    style = "--" if table == "proxy" else "-"
                    ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o",
                            color=COLORS[label], label=label)
        ax.set_xticks([int(n) for n in counts])
        ax.set_xlabel("threads")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    axes[2].axis("off")
