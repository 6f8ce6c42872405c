"""Optimiser benchmark on the bundled example (15 controls, 8 projects, 18 scenarios).

Prints wall-clock times and solver gaps for:

* precompute (every scenario under every combination of the decisions touching it);
* optimize without appetite, with a TVaR95 limit, with a P(loss > x) limit and an
  exact VaR95 limit (both need more indicator years than the default 500 here, so they
  run the conservative program, then an exactly checked local search; the gap is to
  the optimum without the appetite);
* the 21-point efficient frontier with a TVaR95 limit;
* DecisionProblem.score (the recombination a budget explorer calls per toggle).

Targets (issue #5, 2 cores): optimize at 20,000 years under 30 s; the 21-point
frontier under 2 minutes. Run:

    python benchmarks/bench_optimize.py               # 20,000 years
    python benchmarks/bench_optimize.py --years 5000
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("RISKBUDGET_PROGRESS", "0")

import riskbudget as rb  # noqa: E402
from riskbudget.controls import read_controls, read_projects  # noqa: E402
from riskbudget.optimization import frontier, optimize, precompute, validate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=float, default=6e6)
    ap.add_argument("--tvar95", type=float, default=18e6)
    ap.add_argument("--points", type=int, default=21)
    args = ap.parse_args()

    reg = rb.read_register(rb.io.example_path("register.csv"))
    controls = read_controls(rb.io.example_path("controls.csv"))
    projects = read_projects(rb.io.example_path("projects.csv"))
    print(
        f"bundled example: {len(controls)} controls, {len(projects)} projects, {len(reg)} register scenarios; "
        f"{args.years:,} years, seed {args.seed}, budget {args.budget:,.0f}, {os.cpu_count()} CPUs"
    )

    t = time.perf_counter()
    plan = optimize(reg, controls, projects, budget=args.budget, years=args.years, seed=args.seed, progress=False)
    total = time.perf_counter() - t
    print(
        f"optimize end to end (precompute + MILP + plan): {total:6.2f} s   gap {plan.solver_gap:.1e}   status {plan.status}"
    )

    t = time.perf_counter()
    problem = precompute(reg, controls, projects, years=args.years, seed=args.seed, progress=False)
    print(f"precompute ({sum(problem.n_combinations)} combinations):       {time.perf_counter() - t:6.2f} s")

    for label, appetite in (
        ("no appetite", None),
        (f"TVaR95 <= {args.tvar95:,.0f}", rb.Appetite(tvar95=args.tvar95)),
        ("P(loss > 10M) <= 5%", rb.Appetite(exceedance={10e6: 0.05})),
        ("VaR95 <= 9M (var_method=exact)", rb.Appetite(var95=9e6)),
    ):
        t = time.perf_counter()
        kw = {"var_method": "exact"} if "exact" in label else {}
        p = optimize(problem, budget=args.budget, appetite=appetite, **kw)
        print(
            f"optimize, {label:28s} {time.perf_counter() - t:6.2f} s   gap {p.solver_gap:.1e}   status {p.status}   "
            f"net {p.expected_net_value:,.0f}   TVaR95 {p.tvar95:,.0f}"
        )

    t = time.perf_counter()
    front = frontier(problem, budget=args.budget, appetite=rb.Appetite(tvar95=args.tvar95), points=args.points)
    gaps = front.table["solver_gap"]
    print(
        f"frontier ({args.points} points, TVaR95 limit):        {time.perf_counter() - t:6.2f} s   max gap {gaps.max():.1e}   "
        f"best split {front.table.loc[front.best_index, 'security_share']:.0%}"
        if front.best_index is not None
        else "   no feasible split"
    )

    funding = plan.funding
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        problem.score(funding)
    print(f"DecisionProblem.score per call:              {1000 * (time.perf_counter() - t) / n:6.2f} ms")

    oos = validate(plan, seed=args.seed + 1)
    print(
        f"out of sample (seed {args.seed + 1}): net {oos.out_of_sample_net_value:,.0f} vs {oos.in_sample_net_value:,.0f} in sample, "
        f"difference {oos.difference:,.0f} ± {oos.difference_se:,.0f}"
    )


if __name__ == "__main__":
    main()
