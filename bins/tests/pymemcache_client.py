"""Exercises every pymemcache client method against one server.

Usage: pymemcache_client.py [--proxy] HOST PORT [HOST2 PORT2]
Run by bins/tests/pymemcache.rs against stock memcached and against memkeepd, and by
bins/tests/proxy_clients.rs through memkeep-proxy (--proxy: `stats` is the proxy's
own, which counts commands but holds no items).
Prints "N passed, 0 failed" and exits 0 when every check holds.
"""
import sys

from pymemcache.client.base import Client, PooledClient
from pymemcache.client.hash import HashClient
from pymemcache import serde
from pymemcache.exceptions import (
    MemcacheClientError,
    MemcacheIllegalInputError,
    MemcacheServerError,
)

checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def exercise(c):
    c.flush_all()
    check(c.set("k1", b"v1") is True, "set")
    check(c.get("k1") == b"v1", "get after set")
    check(c.get("missing") is None, "get miss")
    check(c.get("missing", default=b"d") == b"d", "get default")
    check(c.add("k1", b"other", noreply=False) is False, "add existing")
    check(c.add("k2", b"v2", noreply=False) is True, "add new")
    check(c.replace("k2", b"v2b", noreply=False) is True, "replace existing")
    check(c.replace("nope", b"x", noreply=False) is False, "replace missing")
    check(c.append("k2", b"-tail", noreply=False) is True, "append")
    check(c.prepend("k2", b"head-", noreply=False) is True, "prepend")
    check(c.get("k2") == b"head-v2b-tail", "append/prepend result")
    check(c.append("nope", b"x", noreply=False) is False, "append missing")

    value, cas = c.gets("k1")
    check(value == b"v1" and cas is not None, "gets")
    check(c.cas("k1", b"v1-new", cas, noreply=False) is True, "cas ok")
    check(c.cas("k1", b"v1-again", cas, noreply=False) is False, "cas stale")
    check(c.cas("nope", b"x", cas, noreply=False) is None, "cas missing")
    check(c.get("k1") == b"v1-new", "cas result")

    many = {"m%d" % i: ("val%d" % i).encode() for i in range(50)}
    check(c.set_many(many, noreply=False) == [], "set_many")
    got = c.get_many(list(many) + ["absent"])
    check(got == many, "get_many")
    check(c.get_multi(["m1", "m2"]) == {"m1": b"val1", "m2": b"val2"}, "get_multi")
    gm = c.gets_many(["m1", "m2", "absent"])
    check(set(gm) == {"m1", "m2"} and gm["m1"][0] == b"val1", "gets_many")
    check(c.set_multi({"x1": b"1", "x2": b"2"}, noreply=False) == [], "set_multi")

    check(c.delete("m1", noreply=False) is True, "delete hit")
    check(c.delete("m1", noreply=False) is False, "delete miss")
    check(c.delete_many(["m2", "m3", "absent"], noreply=False) is True, "delete_many")
    check(c.delete_multi(["m4"], noreply=False) is True, "delete_multi")
    check(c.get_many(["m2", "m3", "m4"]) == {}, "deleted keys gone")

    c.set("n", b"10")
    check(c.incr("n", 5, noreply=False) == 15, "incr")
    check(c.decr("n", 20, noreply=False) == 0, "decr floors at 0")
    check(c.incr("absent", 1, noreply=False) is None, "incr missing")
    check(c.decr("absent", 1, noreply=False) is None, "decr missing")
    c.set("big", b"18446744073709551615")
    check(c.incr("big", 1, noreply=False) == 0, "incr wraps at 2^64")
    c.set("text", b"abc")
    try:
        c.incr("text", 1, noreply=False)
        check(False, "incr on non-numeric must fail")
    except MemcacheClientError:
        check(True, "incr non-numeric")

    check(c.touch("k1", 100, noreply=False) is True, "touch hit")
    check(c.touch("absent", 100, noreply=False) is False, "touch miss")

    c.set("flags", {"a": 1}, expire=0)
    check(c.get("flags") == {"a": 1}, "serde flags round trip")
    c.set("exp", b"gone", expire=-1)
    check(c.get("exp") is None, "negative expiry expires at once")

    big = b"x" * (1024 * 1024 - 512)
    check(c.set("large", big, noreply=False) is True, "near-limit value")
    check(c.get("large") == big, "near-limit value read back")
    try:
        c.set("toolarge", b"x" * (2 * 1024 * 1024), noreply=False)
        check(False, "too large must be refused")
    except MemcacheServerError as e:
        check(b"object too large for cache" in e.args[0], "too large refused")
    check(c.get("large") == big, "connection usable after a refused value")

    try:
        c.get("bad key")
        check(False, "key with space must be refused client side")
    except MemcacheIllegalInputError:
        check(True, "illegal key")

    stats = c.stats()
    if not PROXY:
        check(b"curr_items" in stats or "curr_items" in stats, "stats general")
    check(int(stats.get(b"cmd_get", stats.get("cmd_get", 0))) > 0, "stats counts gets")
    settings = c.stats("settings")
    check(len(settings) > 5, "stats settings")
    check(c.version().startswith(b"1.6"), "version")

    # noreply paths: fire and forget, then read back.
    c.set("nr", b"1", noreply=True)
    c.incr("nr", 1, noreply=True)
    check(c.get("nr") == b"2", "noreply pipeline")

    check(c.flush_all(noreply=False) is True, "flush_all")
    check(c.get("k1") is None, "flushed")
    c.quit()


PROXY = "--proxy" in sys.argv
if PROXY:
    sys.argv.remove("--proxy")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    exercise(Client((host, port), serde=serde.pickle_serde))
    exercise(PooledClient((host, port), serde=serde.pickle_serde, max_pool_size=4))

    servers = [(host, port)]
    if len(sys.argv) >= 5:
        servers.append((sys.argv[3], int(sys.argv[4])))
    h = HashClient(servers, serde=serde.pickle_serde)
    keys = {"h%d" % i: i for i in range(200)}
    h.set_many(keys)
    check(h.get_many(list(keys)) == keys, "hash client multi-get")
    check(h.get("h7") == 7, "hash client get")
    print("%d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
