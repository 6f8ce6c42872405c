"""The optimiser on the bundled example under the board's whole appetite file, and under each of its limits.

The example (``rb.datasets``: 16 scenarios, 15 controls, 8 projects) at a
budget of 6e6, 20,000 years, seed 7, under ``data/example/appetite.yaml`` (a
tolerance curve through two points, VaR95, TVaR99 and P(loss > 50M)):

* the whole file, VaR limits exact (``var_method="exact"``, the default) and
  through the tail mean (``var_method="cvar"``, status ``stand_in``);
* each limit on its own (the tolerance curve; each VaR, TVaR and exceedance
  limit), exact, and each VaR limit through the tail mean;
* no appetite, for reference.

At this budget the example's appetite does not bind (the best plan without
an appetite meets it), so a second table runs the same cases with every limit
tightened until it binds: each VaR, TVaR and exceedance limit set to
``--share`` (default 0.95) of the value the best plan without an appetite
reaches, and the tolerance curve's losses scaled so that plan's loss
exceedance curve rises above it by the factor 1 / share. (At 0.9 the
tightened tolerance curve cannot be met at this budget: the plans are then
``infeasible_appetite``, the least-risk plan, and take much longer.)

One problem is precomputed and shared by every case (common random numbers).
For each case it prints the solve time, status, expected net value, the
proven upper bound on the net value and the proven gap
(``(bound - net) / |net|``, as ``plan.solver_gap``), and whether the plan
meets every limit on the sample. Target (issue "Defensible decisions"): a
proven gap <= 1% under the whole file. Run:

    python benchmarks/example_appetite.py                # 20,000 years
    python benchmarks/example_appetite.py --years 5000 --time-limit 60
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from typing import Any

os.environ.setdefault("RISKBUDGET_PROGRESS", "0")

import riskbudget as rb  # noqa: E402
from riskbudget.appetite import LimitKind  # noqa: E402
from riskbudget.formatting import money  # noqa: E402
from riskbudget.optimization import optimize, precompute  # noqa: E402


def cases(appetite: rb.Appetite) -> list[tuple[str, rb.Appetite | None, str]]:
    """(label, appetite, var_method): the whole file both ways, each limit on its own, and none."""
    out: list[tuple[str, rb.Appetite | None, str]] = [
        ("whole file, VaR exact", appetite, "exact"),
        ("whole file, VaR via tail mean", appetite, "cvar"),
    ]
    if appetite.tolerance is not None:
        points = ", ".join(f"{money(x)} @ {p:.0%}" for p, x in appetite.tolerance.points)
        out.append((f"tolerance curve ({points})", rb.Appetite(tolerance=appetite.tolerance), "exact"))
    for limit in appetite.limits:
        label = f"{limit.label} <= {limit.format(limit.limit)}"
        out.append((label, rb.Appetite(limits=[limit]), "exact"))
        if limit.kind is LimitKind.VAR:
            out.append((label + ", via tail mean", rb.Appetite(limits=[limit]), "cvar"))
    out.append(("no appetite", None, "exact"))
    return out


def tightened(appetite: rb.Appetite, losses: Any, share: float) -> rb.Appetite:
    """``appetite`` with every limit at ``share`` of its value on ``losses`` (the tolerance curve scaled alike)."""
    limits = [replace(limit, limit=share * limit.value(losses)) for limit in appetite.limits]
    tolerance = None
    if appetite.tolerance is not None:
        factor = share * appetite.tolerance.excess_factor(losses)
        tolerance = rb.ToleranceCurve.from_points([(p, factor * x) for p, x in appetite.tolerance.points])
    return rb.Appetite(limits=[limit for limit in limits if limit.limit > 0], tolerance=tolerance)


def _money(v: float) -> str:
    return f"{v / 1e6:,.3f}M"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=float, default=6e6)
    ap.add_argument("--appetite", default=None, help="appetite file (default: the bundled data/example/appetite.yaml)")
    ap.add_argument("--mip-rel-gap", type=float, default=None, help="default: the library's (1e-6)")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default: none)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.95,
                    help="the tightened limits' share of the best plan's values without an appetite (0: skip)")
    args = ap.parse_args(argv)

    register = rb.datasets.load_register()
    controls = rb.datasets.load_controls()
    projects = rb.datasets.load_projects()
    appetite = rb.read_appetite(args.appetite) if args.appetite else rb.datasets.load_appetite()
    print(f"bundled example: {len(register)} scenarios, {len(controls)} controls, {len(projects)} projects; "
          f"{args.years:,} years, seed {args.seed}, budget {args.budget:,.0f}, {os.cpu_count()} CPUs", flush=True)
    print("appetite: " + "; ".join(appetite.describe()), flush=True)
    t = time.perf_counter()
    problem = precompute(register, controls, projects, years=args.years, seed=args.seed, n_jobs=args.n_jobs)
    print(f"precompute ({sum(problem.n_combinations):,} combinations): {time.perf_counter() - t:.1f} s", flush=True)

    solver: dict[str, Any] = {"time_limit": args.time_limit}
    if args.mip_rel_gap is not None:
        solver["mip_rel_gap"] = args.mip_rel_gap
    free = optimize(problem, budget=args.budget, **solver)
    _table(problem, cases(appetite), args.budget, solver)
    if args.share > 0:
        tight = tightened(appetite, problem.total_losses(free.funding), args.share)
        print(f"\ntightened to {args.share:g} of the best plan's values without an appetite: "
              + "; ".join(tight.describe()), flush=True)
        _table(problem, cases(tight), args.budget, solver)


def _table(problem: Any, rows: list[tuple[str, rb.Appetite | None, str]], budget: float,
           solver: dict[str, Any]) -> None:
    head = (f"{'case':<44} {'var_method':>10} {'time':>8} {'status':>20} {'net value':>11} {'bound':>11} "
            f"{'proven gap':>10}  met")
    print(head)
    print("-" * len(head))
    for label, app, var_method in rows:
        t = time.perf_counter()
        plan = optimize(problem, budget=budget, appetite=app, var_method=var_method, **solver)
        seconds = time.perf_counter() - t
        met = "-" if app is None else ("yes" if plan.appetite.ok else "NO")
        print(f"{label[:44]:<44} {var_method:>10} {seconds:7.1f}s {plan.status.value:>20} "
              f"{_money(plan.expected_net_value):>11} {_money(plan.bound):>11} {plan.solver_gap:>10.2e}  {met}",
              flush=True)


if __name__ == "__main__":
    main()
