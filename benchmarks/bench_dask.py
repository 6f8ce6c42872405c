"""Dask benchmark: ``rb.simulate(..., client=)`` from 100 to 2,000 scenarios x 10^6 years on a LocalCluster.

The scenarios are those of ``benchmarks/bench_engine.py`` (threat event frequency PERT(0.5, 2, 8) scaled by
0.5..2.0, capability vs resistance, PERT primary and secondary losses), repeated to the size asked. Each size
runs in a fresh LocalCluster (``--workers`` worker processes, one thread each) and reports:

* ``simulate``: wall time until the portfolio total is back on the client (every block simulated);
* ``summary`` and ``contributions``: wall time of ``result.summary()`` and ``result.contributions()``
  (computed on the workers);
* ``client peak``: the largest Python allocation on the client during those calls (tracemalloc), and the client
  process's peak RSS (which, with a LocalCluster, also holds the scheduler);
* ``per worker``: the RSS of each worker process after the run (the blocks stay there);
* ``local``: the same run without Dask (``--local``; only where the years x scenarios matrix fits here), and the
  ratio local / Dask.

The results must fit in the workers' memory: 8 bytes per year and scenario (``keep_counts=False`` here), i.e.
8 GB per 1,000 scenarios at 10^6 years. Sizes that do not fit in ``--memory`` are skipped with a note.

    python benchmarks/bench_dask.py --quick              # 20 and 50 scenarios x 10^5 years (about a minute)
    python benchmarks/bench_dask.py                      # 100, 500, 1000, 2000 scenarios x 10^6 years
    python benchmarks/bench_dask.py --scenarios 100 --years 1000000 --local
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc

import numpy as np

# The standard scenario of benchmarks/bench_engine.py.
TEF = (0.5, 2.0, 8.0)
TCAP = (0.2, 0.5, 0.9)
RS = (0.3, 0.6, 0.85)
PL = (50_000.0, 200_000.0, 2_000_000.0)
SLP = (0.1, 0.3, 0.5)
SL = (10_000.0, 100_000.0, 1_000_000.0)


def _scale(t: tuple[float, float, float], c: float) -> tuple[float, float, float]:
    return (t[0] * c, t[1] * c, t[2] * c)


def scenarios(n: int) -> list:
    import riskbudget as rb

    f = np.linspace(0.5, 2.0, 20)
    c = np.linspace(2.0, 0.5, 20)
    return [
        rb.Scenario(
            f"S{i:04d}",
            threat_event_frequency=rb.PERT(*_scale(TEF, float(f[i % 20]))),
            threat_capability=rb.PERT(*TCAP),
            resistance_strength=rb.PERT(*RS),
            primary_loss=rb.PERT(*_scale(PL, float(c[i % 20]))),
            secondary_loss_probability=rb.PERT(*SLP),
            secondary_loss=rb.PERT(*_scale(SL, float(c[i % 20]))),
        )
        for i in range(n)
    ]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run(n: int, years: int, workers: int, memory: float, local: bool) -> dict:
    from dask.distributed import Client, LocalCluster

    import riskbudget as rb

    reg = scenarios(n)
    out: dict = {"scenarios": n, "years": years}
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        memory_limit=f"{memory / workers:.0f}GB",
    ) as cluster, Client(cluster) as client:
        # Workers up, riskbudget imported and its tables built there before the clock starts.
        rb.simulate(reg[:1], years=1_000, seed=1, keep_counts=False, client=client)
        tracemalloc.start()
        t = time.perf_counter()
        result = rb.simulate(reg, years=years, seed=2024, keep_counts=False, client=client)
        out["simulate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        table = result.summary()
        out["summary_s"] = time.perf_counter() - t
        t = time.perf_counter()
        result.contributions()
        out["contributions_s"] = time.perf_counter() - t
        out["client_traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["client_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["worker_rss_mb"] = sorted(client.run(_rss_mb).values())
        out["blocks"] = len(result.blocks)
        out["ale"] = float(table.loc["Total", "ale"])
        del result
    if local:
        t = time.perf_counter()
        res = rb.simulate(reg, years=years, seed=2024, keep_counts=False, progress=False)
        out["local_s"] = time.perf_counter() - t
        assert float(res.summary().loc["Total", "ale"]) == out["ale"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 and 50 scenarios x 10^5 years")
    p.add_argument("--scenarios", type=int, nargs="*", default=None)
    p.add_argument("--years", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory", type=float, default=16.0, help="GB the workers may use together (default 16)")
    p.add_argument("--local", action="store_true", help="also time a local run (needs the matrix in memory here)")
    args = p.parse_args(argv)
    sizes = args.scenarios or ([20, 50] if args.quick else [100, 500, 1000, 2000])
    years = args.years or (100_000 if args.quick else 1_000_000)
    os.environ.setdefault("RISKBUDGET_PROGRESS", "0")
    print(f"bench_dask: {args.workers} worker process(es) x 1 thread, {os.cpu_count()} CPU(s), years={years:,}")
    header = (
        f"{'scenarios':>9} {'blocks':>6} {'simulate':>9} {'summary':>8} {'contrib':>8} {'client py peak':>14} "
        f"{'client RSS':>10} {'per worker RSS':>18} {'s per 1k sc':>11} {'local':>7} {'local/dask':>10}"
    )
    print(header)
    for n in sizes:
        need_gb = n * years * 8 / 1e9
        if need_gb > 0.6 * args.memory:
            print(f"{n:>9} skipped: the results need {need_gb:.1f} GB on the workers, more than 60% of --memory "
                  f"({args.memory:g} GB)")
            continue
        r = run(n, years, args.workers, args.memory, args.local or (args.quick and n == sizes[0]))
        local = r.get("local_s")
        workers = "/".join(f"{m:.0f}" for m in r["worker_rss_mb"])
        print(
            f"{n:>9} {r['blocks']:>6} {r['simulate_s']:>8.1f}s {r['summary_s']:>7.1f}s {r['contributions_s']:>7.1f}s "
            f"{r['client_traced_peak_mb']:>11.1f} MB {r['client_peak_rss_mb']:>7.0f} MB {workers:>15} MB "
            f"{r['simulate_s'] / n * 1000:>10.1f}s "
            + (f"{local:>6.1f}s {local / r['simulate_s']:>10.2f}" if local else f"{'-':>7} {'-':>10}"),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
