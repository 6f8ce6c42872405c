"""A three-year plan against a one-year plan on the bundled example: time ratio (target: at most 3x).

Both solve the example's controls and projects with a $6M budget on 20,000 simulated years (seed 7) from
one precomputed problem; the three-year plan has a 8% discount rate and, to make the years differ, lead
times and one-off costs set on a copy of the candidates (controls 3 months, projects 9 months, one-off cost
a quarter of a year's cost).

Usage::

    python benchmarks/bench_horizon.py [--years 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import riskbudget as rb
from riskbudget.optimization import optimize, precompute


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ds = rb.datasets
    controls = [dataclasses.replace(c, lead_time_months=3.0, one_off_cost=c.cost_per_year / 4)
                for c in ds.load_controls()]
    projects = [dataclasses.replace(p, lead_time_months=9.0, one_off_cost=p.cost_per_year / 4)
                for p in ds.load_projects()]
    problem = precompute(ds.load_register(), controls, projects, years=args.years, seed=7, progress=False)

    def best(fn):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            plan = fn()
            times.append(time.perf_counter() - t0)
        return min(times), plan

    one_s, one = best(lambda: optimize(problem, budget=6e6))
    three_s, three = best(lambda: optimize(problem, budget=6e6, horizon=3, discount_rate=0.08))
    print(f"one year:    {one_s:6.2f} s  status {one.status}, net value {one.expected_net_value:,.0f}")
    print(f"three years: {three_s:6.2f} s  status {three.status}, NPV {three.npv:,.0f} (gap {three.solver_gap:.1e})")
    print(f"ratio three/one: {three_s / one_s:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
