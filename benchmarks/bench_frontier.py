"""The 21-point efficient frontier on the bundled example: one sequence, threads, and a Dask cluster.

The frontier of issue #15's target (under 15 s; 45 s before): budget $6M, TVaR95 <= $18M, 20,000 years,
seed 7, 21 shares. The problem is precomputed once (not timed). Every share is solved on its own, with its
own cuts, so every case gives the same plans (checked, and printed). Cases:

* ``1 sequence``: every share in turn (``n_jobs=1``);
* ``threads``: the default, shares dealt to 2 threads as they come free (``n_jobs=None``);
* ``dask``: one task per share on a ``LocalCluster`` of 2 worker processes (one thread each), started
  before timing.

Also printed: each share's solve time in the 1-sequence run, so that it is plain where the time goes (the
shares where the appetite cannot be met prove it, then solve the least-risk program; a frontier skips
each share's smallest limit values and budget needed unless ``explain_infeasible=True``). The time depends
on the sample (``--seed``) far more than on the code. Run:

    python benchmarks/bench_frontier.py                 # all cases
    python benchmarks/bench_frontier.py --cases threads,dask --points 11
    python benchmarks/bench_frontier.py --cases threads --seed 8
"""

from __future__ import annotations

import argparse
import logging
import os
import time

os.environ.setdefault("RISKBUDGET_PROGRESS", "0")

import riskbudget as rb  # noqa: E402
from riskbudget.optimization import frontier, precompute  # noqa: E402

#: Measured before issue #15's work on this 2-core machine (README, bench_optimize.py): the default frontier.
BEFORE_SECONDS = 45.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--points", type=int, default=21)
    ap.add_argument("--tvar95", type=float, default=18e6)
    ap.add_argument("--cases", default="1 sequence,threads,dask")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    cases = [c.strip() for c in args.cases.split(",")]
    ds = rb.datasets
    t = time.perf_counter()
    problem = precompute(ds.load_register(), ds.load_controls(), ds.load_projects(), years=args.years,
                         seed=args.seed, progress=False)
    print(f"precompute: {time.perf_counter() - t:.2f} s ({args.years:,} years, seed {args.seed}, {os.cpu_count()} CPUs)")
    kw = dict(budget=6e6, appetite=rb.Appetite(tvar95=args.tvar95), points=args.points)
    fronts = {}
    times = {}
    for case in cases:
        client = cluster = None
        if case == "dask":
            try:
                import distributed
            except ImportError:
                print("dask: not installed (pip install 'riskbudget[dask]'); skipped")
                continue
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.CRITICAL)
            client = distributed.Client(cluster)
        try:
            t = time.perf_counter()
            cpu = time.process_time()
            if case == "1 sequence":
                front = frontier(problem, n_jobs=1, **kw)
            elif case == "threads":
                front = frontier(problem, **kw)
            elif case == "dask":
                front = frontier(problem, client=client, **kw)
            else:
                raise SystemExit(f"unknown case {case!r}")
            times[case] = time.perf_counter() - t
            fronts[case] = front
            print(f"{case:12s} {times[case]:7.2f} s wall   {time.process_time() - cpu:7.2f} s CPU in this process   "
                  f"statuses {front.table['status'].value_counts().to_dict()}   max gap {front.table['solver_gap'].max():.1e}")
        finally:
            if client is not None:
                client.close()
                cluster.close()
    if "1 sequence" in fronts:
        print("\nseconds per share (1 sequence):")
        for s, p in zip(fronts["1 sequence"].table["security_share"], fronts["1 sequence"].plans):
            print(f"  {s:5.0%} {p.seconds:7.2f} s  {p.status}")
    names = list(fronts)
    for other in names[1:]:
        a, b = fronts[names[0]], fronts[other]
        same = a.table.equals(b.table) and all(
            p.funding == q.funding for p, q in zip(a.plans, b.plans))
        print(f"\n{other} plans equal the {names[0]} plans: {same}")
    print(f"\nagainst {BEFORE_SECONDS:.0f} s before (target: under 15 s):")
    for case, sec in times.items():
        print(f"  {case:12s} {sec:7.2f} s   ratio to before {sec / BEFORE_SECONDS:5.2f}")


if __name__ == "__main__":
    main()
