#!/usr/bin/python3
"""dask_bench.py - Dask distributed (LocalCluster, processes) for bench/peers.

  dask_bench.py rtt N       1-worker cluster, N timed submit(...).result()
  dask_bench.py tput W N    LocalCluster(n_workers=W) (start-up timed until
                            all W workers are connected), then N trivial
                            tasks with client.map + client.gather

Prints key=value lines on stdout; times in seconds or microseconds.
"""
import logging
import sys
import time
import warnings


def ident(x):
    return x


def cluster(w):
    from dask.distributed import Client, LocalCluster
    c = LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                     dashboard_address=None, memory_limit=0)
    cl = Client(c)
    cl.wait_for_workers(w)
    return c, cl


def pct(xs, p):
    xs = sorted(xs)
    k = max(1, -(-len(xs) * p // 1))
    return xs[int(k) - 1]


def main():
    warnings.simplefilter("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    mode = sys.argv[1]
    if mode == "rtt":
        n = int(sys.argv[2])
        c, cl = cluster(1)
        for i in range(50):
            cl.submit(ident, i, pure=False).result()
        us = []
        for i in range(n):
            t = time.perf_counter()
            cl.submit(ident, i, pure=False).result()
            us.append((time.perf_counter() - t) * 1e6)
        print("rtt n=%d p50_us=%.0f p99_us=%.0f mean_us=%.1f"
              % (n, pct(us, 0.5), pct(us, 0.99), sum(us) / n))
    elif mode == "tput":
        w, n = int(sys.argv[2]), int(sys.argv[3])
        t = time.perf_counter()
        c, cl = cluster(w)
        print("startup workers=%d s=%.3f" % (w, time.perf_counter() - t),
              flush=True)
        t = time.perf_counter()
        r = cl.gather(cl.map(ident, range(n), pure=False))
        s = time.perf_counter() - t
        assert len(r) == n
        print("map n=%d s=%.3f rate=%.0f" % (n, s, n / s))
    else:
        sys.stderr.write(__doc__)
        return 2
    cl.close()
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
