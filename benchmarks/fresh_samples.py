"""Does the demo's recommended plan hold its appetite on fresh samples?

``make demo`` runs ``riskbudget optimize ... --budget 6e6 --appetite-tvar95 18e6
--years 20000 --seed 7``, which plans with margins aiming at a 95% chance that
each limit holds on fresh years (``--confidence``, default 0.95). This script
solves that plan with and without the margins, then simulates each on
``--fresh`` fresh samples of the same size (seeds 1000, 1001, ...) and prints
how often TVaR95 <= $18M holds, with the time of each solve.

Usage::

    python benchmarks/fresh_samples.py [--fresh 20] [--years 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import riskbudget as rb
from riskbudget.optimization import optimize, precompute


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", type=int, default=20)
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--limit", type=float, default=18e6)
    args = ap.parse_args()
    ds = rb.datasets
    problem = precompute(ds.load_register(), ds.load_controls(), ds.load_projects(), years=args.years, seed=7,
                         progress=False)
    appetite = rb.Appetite(tvar95=args.limit)
    print(f"TVaR95 <= {rb.formatting.money(args.limit)}, budget $6M, {args.years:,} years, seed 7; "
          f"{args.fresh} fresh samples of {args.years:,} years")
    print(f"{'plan':>22s} {'solve s':>8s} {'status':>8s} {'net value':>11s} {'TVaR95 sample':>14s} "
          f"{'fresh mean':>11s} {'fresh max':>10s} {'holds':>7s} {'chance est.':>11s}")
    for label, confidence in (("limit on the sample", None), ("margins, 95%", 0.95)):
        t0 = time.perf_counter()
        plan = optimize(problem, budget=6e6, appetite=appetite, confidence=confidence, progress=False)
        seconds = time.perf_counter() - t0
        fresh = np.array([
            rb.metrics.tvar(rb.simulate(plan.result.register, years=args.years, seed=1000 + i,
                                        keep_counts=False).annual_loss.to_numpy(), 0.95)
            for i in range(args.fresh)
        ])
        holds = int((fresh <= args.limit).sum())
        print(f"{label:>22s} {seconds:8.1f} {plan.status:>8s} {plan.expected_net_value:11,.0f} {plan.tvar95:14,.0f} "
              f"{fresh.mean():11,.0f} {fresh.max():10,.0f} {holds:>3d}/{args.fresh:<3d} "
              f"{plan.robustness.checks[0].chance:11.0%}")


if __name__ == "__main__":
    main()
