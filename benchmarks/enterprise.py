"""An enterprise-sized decision problem built from the bundled example (``data/example/``).

:func:`enterprise` replicates the example into ``copies`` business units:

* the 16 register scenarios, once per unit, with distinct names (``"<name> [B]"``),
  ids (``"R01B"``) and categories (``"ransomware-B"``);
* the 15 controls, once per unit (``"<name> [B]"``, their ``requires`` and
  ``excludes`` pointing at the same unit's copies), each re-targeted at
  ``controls_per_scenario`` scenarios drawn at random (fixed seed) among the
  scenarios of *every* unit it can act on (an incident-response SLA whose
  disruption cost exceeds a scenario's loss per event cannot, see
  :meth:`~riskbudget.controls.ResponseSLA.share_for`);
* the 8 projects, once per unit, their added-risk targets, new scenarios,
  ``requires`` and ``excludes`` renamed to the same unit's copies;
* an appetite with a TVaR95 limit that binds: ``tvar_share`` of the TVaR95
  of the plan that is best without the appetite (the caller measures it; see
  :func:`binding_tvar95`).

With the defaults (3 units, 8 scenarios per control) this is 48 scenarios,
45 controls touching 8 each and 24 projects: the size at which the old
optimiser gave up on exactness. :func:`small_enterprise` is the same recipe at
test size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

import riskbudget as rb
from riskbudget.controls import Control, ControlError, Project, RiskChange, read_controls, read_projects
from riskbudget.fair import Register, Scenario

__all__ = ["enterprise", "small_enterprise", "binding_tvar95", "TAGS"]

#: Unit suffixes, in order.
TAGS = "ABCDEFGHIJ"


def _tagged(text: str, tag: str) -> str:
    return f"{text} [{tag}]"


def _scenario_copy(s: Scenario, tag: str) -> Scenario:
    return replace(
        s,
        name=_tagged(s.name, tag),
        id=f"{s.id}{tag}" if s.id else "",
        category=f"{s.category}-{tag}" if s.category else "",
    )


def _renamer(register: Register, projects: tuple[Project, ...], tag: str) -> Any:
    """Map a target (scenario name, id or category) of the example to the same unit's copy."""
    names = set(register.names) | {s.name for p in projects for s in p.new_scenarios}
    ids = {s.id for s in register if s.id}
    cats = {s.category for s in register if s.category} | {s.category for p in projects for s in p.new_scenarios}

    def rename(target: str) -> str:
        if target == "*":
            raise ValueError("the enterprise case does not replicate '*' targets")
        if target in names:
            return _tagged(target, tag)
        if target in ids:
            return f"{target}{tag}"
        if target in cats:
            return f"{target}-{tag}"
        raise ValueError(f"unknown target {target!r}")

    return rename


def _project_copy(p: Project, tag: str, rename: Any, decisions: set[str]) -> Project:
    return replace(
        p,
        name=_tagged(p.name, tag),
        risk_changes=tuple(
            RiskChange(tuple(rename(t) for t in rc.targets), rc.increase, rc.factor) for rc in p.risk_changes
        ),
        new_scenarios=tuple(_scenario_copy(s, tag) for s in p.new_scenarios),
        requires=tuple(_tagged(n, tag) for n in p.requires if n in decisions),
        excludes=tuple(_tagged(n, tag) for n in p.excludes if n in decisions),
    )


def _can_act(control: Control, scenario: Scenario) -> bool:
    try:
        control.adjustments_for(scenario)
    except ControlError:
        return False
    return True


def enterprise(
    *,
    copies: int = 3,
    controls_per_scenario: int = 8,
    scenarios_per_unit: int | None = None,
    controls_per_unit: int | None = None,
    projects_per_unit: int | None = None,
    seed: int = 2024,
    tvar95: float | None = None,
) -> tuple[Register, tuple[Control, ...], tuple[Project, ...], rb.Appetite | None]:
    """(register, controls, projects, appetite) of the example replicated ``copies`` times.

    Parameters
    ----------
    copies : int, default 3
        Business units (copies of the example).
    controls_per_scenario : int, default 8
        Scenarios each control is re-targeted at, drawn at random (``seed``)
        among all units' scenarios it can act on.
    scenarios_per_unit, controls_per_unit, projects_per_unit : int, optional
        Use only the first so many of the example's scenarios, controls and
        projects (for small test cases); projects whose targets or
        requirements fall outside are dropped.
    seed : int
        Seed of the random re-targeting.
    tvar95 : float, optional
        The TVaR95 limit of the appetite (None: no appetite; see
        :func:`binding_tvar95` for one that binds).

    Examples
    --------
    >>> reg, controls, projects, appetite = enterprise(tvar95=60e6)
    >>> len(reg), len(controls), len(projects), appetite.limits[0].label
    (48, 45, 24, 'TVaR95')
    """
    base = rb.read_register(rb.io.example_path("register.csv"))
    ctrls = read_controls(rb.io.example_path("controls.csv"))
    projs = read_projects(rb.io.example_path("projects.csv"))
    if scenarios_per_unit is not None:
        base = Register(list(base)[:scenarios_per_unit])
    if controls_per_unit is not None:
        ctrls = ctrls[:controls_per_unit]
    kept_projects = []
    base_names = set(base.names)
    for p in projs:
        try:
            rb.controls.project_targets(base, [p])
        except rb.RiskBudgetError:
            continue
        kept_projects.append(p)
    projs = tuple(kept_projects[:projects_per_unit] if projects_per_unit is not None else kept_projects)
    decisions = {c.name for c in ctrls} | {p.name for p in projs}
    # drop requirements on items left out (small cases), keep the rest
    ctrls = tuple(replace(c, requires=tuple(n for n in c.requires if n in decisions),
                          excludes=tuple(n for n in c.excludes if n in decisions)) for c in ctrls)
    projs = tuple(p for p in projs if all(n in decisions for n in p.requires))
    decisions = {c.name for c in ctrls} | {p.name for p in projs}
    del base_names

    tags = TAGS[:copies]
    scenarios = [_scenario_copy(s, tag) for tag in tags for s in base]
    register = Register(scenarios)
    projects: list[Project] = []
    for tag in tags:
        rename = _renamer(base, projs, tag)
        projects.extend(_project_copy(p, tag, rename, decisions) for p in projs)
    rng = np.random.default_rng(seed)
    controls: list[Control] = []
    for tag in tags:
        for c in ctrls:
            eligible = [s.name for s in scenarios if _can_act(c, s)]
            k = min(controls_per_scenario, len(eligible))
            chosen = sorted(rng.choice(len(eligible), size=k, replace=False))
            controls.append(
                replace(
                    c,
                    name=_tagged(c.name, tag),
                    applies_to=tuple(eligible[i] for i in chosen),
                    requires=tuple(_tagged(n, tag) for n in c.requires if n in decisions),
                    excludes=tuple(_tagged(n, tag) for n in c.excludes if n in decisions),
                )
            )
    appetite = rb.Appetite(tvar95=tvar95) if tvar95 is not None else None
    return register, tuple(controls), tuple(projects), appetite


def small_enterprise(
    *, seed: int = 5, tvar95: float | None = None
) -> tuple[Register, tuple[Control, ...], tuple[Project, ...], rb.Appetite | None]:
    """A test-size case of the same recipe: 12 scenarios, 12 controls touching 5 each, 6 projects."""
    return enterprise(
        copies=2, scenarios_per_unit=6, controls_per_unit=6, projects_per_unit=3, controls_per_scenario=5,
        seed=seed, tvar95=tvar95,
    )


def binding_tvar95(problem: Any, budget: float, share: float = 0.9) -> float:
    """A TVaR95 limit that binds: ``share`` of the TVaR95 of the best plan without an appetite."""
    free = rb.optimize(problem, budget=budget)
    return float(share * free.tvar95)


def _peak_mb() -> float:
    """The process's maximum resident set size so far, in MB (Linux reports KB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> None:
    """Build the enterprise problem, find a binding TVaR95 limit and solve under it; print times and gaps."""
    import argparse
    import os
    import time

    from riskbudget.optimization import optimize, precompute

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=3, help="business units (default 3: 48 scenarios)")
    ap.add_argument("--controls-per-scenario", type=int, default=8)
    ap.add_argument("--years", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7, help="seed of the simulation")
    ap.add_argument("--budget", type=float, default=None, help="default: 6e6 per unit")
    ap.add_argument("--share", type=float, default=0.9,
                    help="TVaR95 limit as a share of the best plan's without appetite (default 0.9)")
    ap.add_argument("--tvar95", type=float, default=None, help="the TVaR95 limit (skips the solve without appetite)")
    ap.add_argument("--mip-rel-gap", type=float, default=None, help="default: the library's (1e-6)")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)
    budget = args.budget if args.budget is not None else 6e6 * args.copies

    reg, controls, projects, _ = enterprise(copies=args.copies, controls_per_scenario=args.controls_per_scenario)
    print(f"enterprise case: {len(reg)} scenarios, {len(controls)} controls touching {args.controls_per_scenario} "
          f"each, {len(projects)} projects; {args.years:,} years, seed {args.seed}, budget {budget:,.0f}, "
          f"{os.cpu_count()} CPUs, n_jobs {args.n_jobs}", flush=True)
    t = time.perf_counter()
    problem = precompute(reg, controls, projects, years=args.years, seed=args.seed, n_jobs=args.n_jobs)
    build = time.perf_counter() - t
    print(f"build (precompute {sum(problem.n_combinations):,} combinations, largest "
          f"{max(problem.n_combinations):,}; keep every column: {problem.dense}): {build:7.1f} s   "
          f"peak memory {_peak_mb():,.0f} MB", flush=True)
    solver: dict[str, Any] = {"time_limit": args.time_limit}
    if args.mip_rel_gap is not None:
        solver["mip_rel_gap"] = args.mip_rel_gap
    limit = args.tvar95
    if limit is None:
        t = time.perf_counter()
        free = optimize(problem, budget=budget, **solver)
        print(f"solve without appetite: {time.perf_counter() - t:7.1f} s   status {free.status}   "
              f"gap {free.solver_gap:.2e}   net value {free.expected_net_value:,.0f}   TVaR95 {free.tvar95:,.0f}",
              flush=True)
        limit = args.share * free.tvar95
    t = time.perf_counter()
    plan = optimize(problem, budget=budget, appetite=rb.Appetite(tvar95=limit), **solver)
    solve = time.perf_counter() - t
    print(f"solve with TVaR95 <= {limit:,.0f}: {solve:7.1f} s   status {plan.status}   proven gap "
          f"{plan.solver_gap:.2e}   net value {plan.expected_net_value:,.0f}   bound {plan.bound:,.0f}   "
          f"TVaR95 {plan.tvar95:,.0f}   appetite met {plan.appetite.ok}", flush=True)
    print(f"columns kept for the program: {len(problem.kept_columns()):,} ({problem.kept_bytes / 2**20:,.0f} MB)   "
          f"peak memory {_peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
