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
* ``local``: the same run without Dask in its own process (``--local``, and always with ``--quick``; only where
  the years x scenarios matrix fits here), its peak RSS, and the ratio of the wall times local / Dask (above 1:
  Dask is faster). Its ALE is checked to be the Dask run's, bit for bit.

Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers, so riskbudget leaves glibc's allocator alone
there and the workers simulate about 1.5x slower; the benchmark unsets it (``--dask-trim`` keeps it), as
docs/scale.md recommends.

The results must fit in the workers' memory: 8 bytes per year and scenario (``keep_counts=False`` here), i.e.
8 GB per 1,000 scenarios at 10^6 years. Sizes that do not fit in ``--memory`` are skipped with a note.

    python benchmarks/bench_dask.py --quick              # 20 and 50 scenarios x 10^5 years (about a minute)
    python benchmarks/bench_dask.py                      # 100, 500, 1000, 2000 scenarios x 10^6 years
    python benchmarks/bench_dask.py --scenarios 100 500 --local  # with the local run and the ratio
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

from bench_engine import standard_scenario, variants  # the standard scenario (this folder is on the path)


def scenarios(n: int) -> list:
    """``n`` scenarios: bench_engine's 20 scaled variants of the standard scenario, repeated."""
    twenty = variants(20)
    return [standard_scenario(f"S{i:04d}", *twenty[i % 20]) for i in range(n)]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_dask(n: int, years: int, workers: int, memory: float, trim: bool) -> dict:
    import dask
    from dask.distributed import Client, LocalCluster

    import riskbudget as rb

    if not trim:
        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes riskbudget leave glibc's
        # allocator alone (docs/scale.md); without it the workers simulate as fast as a local run.
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
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
    return out


def run_local(n: int, years: int) -> dict:
    import riskbudget as rb

    reg = scenarios(n)
    rb.simulate(reg[:1], years=1_000, seed=1, keep_counts=False, progress=False)  # tables built, as for Dask
    t = time.perf_counter()
    res = rb.simulate(reg, years=years, seed=2024, keep_counts=False, progress=False)
    out = {"local_s": time.perf_counter() - t}
    out["ale"] = float(res.annual_loss.mean())
    out["local_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _in_subprocess(args: list[str]) -> dict:
    """One case in its own process, so that its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True,
        env={**os.environ, "RISKBUDGET_PROGRESS": "0"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 and 50 scenarios x 10^5 years")
    p.add_argument("--scenarios", type=int, nargs="*", default=None)
    p.add_argument("--years", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory", type=float, default=16.0, help="GB the workers may use together (default 16)")
    p.add_argument("--local", action="store_true", help="also time a local run (needs the matrix in memory here)")
    p.add_argument("--dask-trim", action="store_true", help="keep Dask's MALLOC_TRIM_THRESHOLD_ in the workers")
    p.add_argument("--case", choices=["dask", "local"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = args.scenarios or ([20, 50] if args.quick else [100, 500, 1000, 2000])
    years = args.years or (100_000 if args.quick else 1_000_000)
    if args.case == "dask":
        print(json.dumps(run_dask(sizes[0], years, args.workers, args.memory, args.dask_trim)))
        return 0
    if args.case == "local":
        print(json.dumps(run_local(sizes[0], years)))
        return 0
    print(
        f"bench_dask: LocalCluster of {args.workers} worker process(es) x 1 thread on {os.cpu_count()} CPU(s), "
        f"years={years:,}, keep_counts=False" + (", Dask's malloc trim kept" if args.dask_trim else ""),
        flush=True,
    )
    print(
        f"{'scenarios':>9} {'blocks':>6} {'simulate':>9} {'summary':>8} {'contrib':>8} {'client py peak':>14} "
        f"{'client RSS':>10} {'per worker RSS':>18} {'local':>7} {'local RSS':>9} {'local/dask':>10}",
        flush=True,
    )
    common = ["--years", str(years), "--workers", str(args.workers), "--memory", str(args.memory)]
    for n in sizes:
        need_gb = n * years * 8 / 1e9
        if need_gb > 0.6 * args.memory:
            print(f"{n:>9} skipped: the results need {need_gb:.1f} GB on the workers, more than 60% of --memory "
                  f"({args.memory:g} GB)", flush=True)
            continue
        r = _in_subprocess(["--case", "dask", "--scenarios", str(n), *common] + (["--dask-trim"] if args.dask_trim else []))
        loc = _in_subprocess(["--case", "local", "--scenarios", str(n), *common]) if args.local or args.quick else None
        if loc is not None:
            assert loc["ale"] == r["ale"], (loc["ale"], r["ale"])  # the same run, bit for bit
        workers = "/".join(f"{m:.0f}" for m in r["worker_rss_mb"])
        print(
            f"{n:>9} {r['blocks']:>6} {r['simulate_s']:>8.1f}s {r['summary_s']:>7.1f}s {r['contributions_s']:>7.1f}s "
            f"{r['client_traced_peak_mb']:>11.1f} MB {r['client_peak_rss_mb']:>7.0f} MB {workers:>15} MB "
            + (
                f"{loc['local_s']:>6.1f}s {loc['local_peak_rss_mb']:>6.0f} MB {loc['local_s'] / r['simulate_s']:>10.2f}"
                if loc
                else f"{'-':>7} {'-':>9} {'-':>10}"
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
