"""The decision problem on one simulated sample: losses precomputed per scenario and combination.

A scenario's simulated losses depend only on the controls and projects that
touch it (its random streams are keyed by its name and by each control's and
project's name), so :func:`precompute` simulates every scenario once for each
combination of the decisions that touch it, all under the same seed. Any
funding choice is then scored by picking one column per scenario and adding
them year by year, which equals simulating the funded register from scratch,
bit for bit, in well under a millisecond per scenario.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _progress, metrics
from .._memory import check_fits
from .._random import root_sequence
from ..controls import (
    Control,
    Project,
    apply_controls,
    apply_projects,
    as_controls,
    as_projects,
    check_references,
    check_unique_names,
    control_targets,
    new_scenario_adjustments,
    project_adjustments,
    project_targets,
    scenario_universe,
)
from ..exceptions import RiskBudgetError, TooManyCombinationsError
from ..fair import Register, Scenario, as_register

__all__ = ["Funding", "Score", "DecisionProblem", "precompute", "MAX_COMBINATIONS_PER_SCENARIO"]

#: Above this many combinations for one scenario, :func:`precompute` refuses
#: (use ``optimize(..., method="heuristic")``, which simulates lazily).
MAX_COMBINATIONS_PER_SCENARIO = 4096


@dataclass(frozen=True)
class Funding:
    """A funding choice: which controls and projects, and which security-by-design options.

    Examples
    --------
    >>> f = Funding(controls=("MFA",), projects=("Portal",), security_by_design=("Portal",))
    >>> f.names
    ('MFA', 'Portal')
    """

    controls: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    security_by_design: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in ("controls", "projects", "security_by_design"):
            value = getattr(self, f)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, f, tuple(str(v) for v in value))
        missing = [p for p in self.security_by_design if p not in self.projects]
        if missing:
            raise RiskBudgetError(
                f"Funding: security_by_design names {missing}, which are not among the funded projects {list(self.projects)}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return self.controls + self.projects


@dataclass(frozen=True)
class Score:
    """The numbers of one funding choice on the problem's sample (fast; no DataFrames)."""

    funding: Funding
    security_spend: float
    it_spend: float
    total_spend: float
    expected_value: float
    ale: float
    ale_se: float
    var95: float
    tvar95: float
    expected_net_value: float


def _check_years(years: Any) -> int:
    if isinstance(years, bool) or not isinstance(years, (int, np.integer)) or years < 2:
        if isinstance(years, float) and years.is_integer() and years >= 2:
            return int(years)
        raise RiskBudgetError(f"years ({years!r}) must be a whole number >= 2")
    return int(years)


class DecisionProblem:
    """Precomputed losses of every scenario under every combination of the decisions touching it.

    Build it with :func:`precompute`. Attributes:

    ``names``
        Scenario names: the register's, then each project's new scenarios.
    ``touching``
        For each scenario, the decisions that touch it: ``("control", i)`` or
        ``("project", k)`` (indices into ``controls`` / ``projects``).
    ``losses``
        For each scenario, a float array ``(years, combinations)``; column
        ``c`` holds the scenario's annual losses under combination ``c``.
        The combination index is mixed-radix in the touching decisions'
        states (a control 0/1; a project 0 = not funded, 1 = funded,
        2 = funded with security by design), the first decision varying
        fastest. See :meth:`combination` and :meth:`combination_states`.

    :meth:`total_losses` and :meth:`score` recombine columns without
    simulating (a few hundred microseconds for the bundled example), which is
    what an interactive budget explorer needs.
    """

    def __init__(
        self,
        register: Register,
        controls: tuple[Control, ...],
        projects: tuple[Project, ...],
        *,
        years: int,
        seed: np.random.SeedSequence,
        n_jobs: int | None = None,
        progress: bool | None = None,
        lazy: bool = False,
    ) -> None:
        check_references(controls, projects)  # before any simulation
        self.register = register
        self.controls = controls
        self.projects = projects
        self.years = years
        self.root = seed
        self.seed = int(seed.entropy) if isinstance(seed.entropy, (int, np.integer)) else seed.entropy
        self.universe: list[Scenario] = scenario_universe(register, projects)
        self.names: tuple[str, ...] = tuple(s.name for s in self.universe)
        self.control_index = {c.name: i for i, c in enumerate(controls)}
        self.project_index = {p.name: k for k, p in enumerate(projects)}
        ctargets = control_targets(register, controls, projects)
        ptargets = project_targets(register, projects)
        self._ptargets = ptargets
        owner: dict[str, int] = {}
        for k, p in enumerate(projects):
            for s in p.new_scenarios:
                owner[s.name] = k
        self.owner = owner
        self.touching: list[tuple[tuple[str, int], ...]] = []
        self.radix: list[tuple[int, ...]] = []
        for s in self.universe:
            t: list[tuple[str, int]] = [("control", i) for i, c in enumerate(controls) if s.name in ctargets[c.name]]
            t += [
                ("project", k) for k, p in enumerate(projects) if s.name in ptargets[p.name] or owner.get(s.name) == k
            ]
            self.touching.append(tuple(t))
            self.radix.append(
                tuple(2 if kind == "control" else (3 if projects[i].security_by_design else 2) for kind, i in t)
            )
        self.n_combinations = [int(math.prod(r)) for r in self.radix]
        for s, n in zip(self.universe, self.n_combinations):
            if n > MAX_COMBINATIONS_PER_SCENARIO and not lazy:
                raise TooManyCombinationsError(
                    f"Scenario {s.name!r}: {n} combinations of the controls and projects touching it exceed "
                    f"{MAX_COMBINATIONS_PER_SCENARIO}; use optimize(..., method='heuristic') or split the controls' applies_to"
                )
        self.lazy = lazy
        if not lazy:
            # The stored columns, plus the per-year totals and tail cuts the solver and
            # the plan's returns build from them (measured: about 2.6x the columns).
            columns = sum(self.n_combinations)
            check_fits(
                3.0 * columns * years * 8,
                f"optimize: {years:,} years x {columns} simulated combinations of {len(self.universe)} scenarios",
                "use fewer years (20,000 is usually enough to rank plans; validate() checks the plan on fresh years)",
            )
        self._cache: list[dict[int, np.ndarray]] = [dict() for _ in self.universe]
        self.losses: list[np.ndarray] = []
        if not lazy:
            self._simulate_all(n_jobs=n_jobs, progress=progress)

    # ------------------------------------------------------------------ #
    def combination_states(self, j: int, c: int) -> tuple[int, ...]:
        """States of scenario ``j``'s touching decisions in combination ``c``."""
        out = []
        for r in self.radix[j]:
            out.append(c % r)
            c //= r
        return tuple(out)

    def combination(self, j: int, controls_on: np.ndarray, project_state: np.ndarray) -> int:
        """Combination index of scenario ``j`` for a decision vector."""
        idx, stride = 0, 1
        for (kind, i), r in zip(self.touching[j], self.radix[j]):
            state = int(controls_on[i]) if kind == "control" else int(project_state[i])
            idx += state * stride
            stride *= r
        return idx

    def variant(self, j: int, c: int) -> Scenario | None:
        """Scenario ``j`` with the adjustments of combination ``c`` (None: a new scenario not funded)."""
        s = self.universe[j]
        states = self.combination_states(j, c)
        on = dict(zip(self.touching[j], states))
        if s.name in self.owner and on.get(("project", self.owner[s.name]), 0) == 0:
            return None
        adjs: list[Any] = []
        for (kind, i), st in on.items():
            if kind == "control" and st:
                adjs.extend(self.controls[i].adjustments_for(s))
        for (kind, i), st in on.items():
            if kind == "project" and st:
                p = self.projects[i]
                if s.name in self.owner:
                    adjs.extend(new_scenario_adjustments(p, security_by_design=st == 2))
                else:
                    adjs.extend(project_adjustments(p, s, self._ptargets[p.name][s.name], security_by_design=st == 2))
        return s.with_adjustments(*adjs) if adjs else s

    def _simulate_column(self, j: int, c: int) -> np.ndarray:
        from ..simulation import simulate

        v = self.variant(j, c)
        if v is None:
            return np.zeros(self.years)
        res = simulate(v, years=self.years, seed=self.root, n_jobs=1, keep_counts=False, progress=False)
        return res.losses.to_numpy()[:, 0]

    def column(self, j: int, c: int) -> np.ndarray:
        """Annual losses of scenario ``j`` under combination ``c`` (simulated on first use when lazy)."""
        if not self.lazy:
            return self.losses[j][:, c]
        col = self._cache[j].get(c)
        if col is None:
            col = self._cache[j][c] = self._simulate_column(j, c)
        return col

    def _simulate_all(self, *, n_jobs: int | None, progress: bool | None) -> None:
        jobs = [(j, c) for j, n in enumerate(self.n_combinations) for c in range(n)]
        self.losses = [np.empty((self.years, n), order="F") for n in self.n_combinations]
        workers = n_jobs if n_jobs is not None else min(os.cpu_count() or 1, 4)
        bar = _progress.bar(_progress.enabled(progress, len(jobs) * self.years // 4), len(jobs), "precompute combinations")

        def work(job: tuple[int, int]) -> None:
            j, c = job
            self.losses[j][:, c] = self._simulate_column(j, c)

        try:
            if workers > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for _ in pool.map(work, jobs):
                        bar.update(1)
            else:
                for job in jobs:
                    work(job)
                    bar.update(1)
        finally:
            bar.close()
        self.means = [L.mean(axis=0) for L in self.losses]

    # ------------------------------------------------------------------ #
    # Funding choices
    # ------------------------------------------------------------------ #
    def funding(self, funded: Any = (), security_by_design: Iterable[str] = ()) -> Funding:
        """Normalise a funding choice and check the names.

        ``funded`` is a :class:`Funding`, names of controls and projects, or
        any object whose ``funding`` attribute is a :class:`Funding` (a
        :class:`~riskbudget.optimization.Plan`, a :class:`Score`); this module
        does not import the plan's, which sits above it.
        """
        carried = getattr(funded, "funding", None)
        if isinstance(carried, Funding):
            funded = carried
        if isinstance(funded, Funding):
            names = list(funded.names)
            sbd = list(funded.security_by_design) + [
                s for s in security_by_design if s not in funded.security_by_design
            ]
        else:
            if isinstance(funded, str):
                funded = [funded]
            names = [str(n).strip() for n in funded]
            sbd = [str(n).strip() for n in security_by_design]
        unknown = [n for n in names if n not in self.control_index and n not in self.project_index]
        if unknown:
            raise RiskBudgetError(
                f"funded names {unknown} are neither controls {list(self.control_index)} nor projects {list(self.project_index)}"
            )
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RiskBudgetError(f"funded names {dupes} appear more than once")
        for n in sbd:
            if n not in self.project_index:
                raise RiskBudgetError(
                    f"security_by_design names {n!r}, which is not a project; projects are {list(self.project_index)}"
                )
            if n not in names:
                raise RiskBudgetError(f"security_by_design names {n!r}, but the project is not funded; fund it too")
            if self.projects[self.project_index[n]].security_by_design is None:
                raise RiskBudgetError(f"Project {n!r}: has no security-by-design option to buy")
        controls = tuple(c.name for c in self.controls if c.name in names)
        projects = tuple(p.name for p in self.projects if p.name in names)
        sbd_t = tuple(p.name for p in self.projects if p.name in sbd)
        return Funding(controls, projects, sbd_t)

    def vectors(self, funding: Funding) -> tuple[np.ndarray, np.ndarray]:
        """(controls on: bool array, project state: 0/1/2 int array)."""
        xc = np.zeros(len(self.controls), dtype=bool)
        for n in funding.controls:
            xc[self.control_index[n]] = True
        sp = np.zeros(len(self.projects), dtype=np.int64)
        for n in funding.projects:
            sp[self.project_index[n]] = 2 if n in funding.security_by_design else 1
        return xc, sp

    def from_vectors(self, controls_on: Any, project_state: Any) -> Funding:
        controls = tuple(c.name for c, on in zip(self.controls, controls_on) if on)
        projects = tuple(p.name for p, st in zip(self.projects, project_state) if st)
        sbd = tuple(p.name for p, st in zip(self.projects, project_state) if st == 2)
        return Funding(controls, projects, sbd)

    def combinations_of(self, funding: Funding) -> list[int]:
        xc, sp = self.vectors(funding)
        return [self.combination(j, xc, sp) for j in range(len(self.universe))]

    def total_losses(self, funding: Funding) -> np.ndarray:
        """Portfolio annual loss per simulated year of a funding choice."""
        combos = self.combinations_of(funding)
        total = np.zeros(self.years)
        for j, c in enumerate(combos):
            total += self.column(j, c)
        return total

    def spend(self, funding: Funding) -> tuple[float, float]:
        """(security spend, IT spend); security-by-design options count as security spend."""
        sec = 0.0
        for n in funding.controls:
            sec += self.controls[self.control_index[n]].cost_per_year
        for n in funding.security_by_design:
            sbd = self.projects[self.project_index[n]].security_by_design
            sec += sbd.cost_per_year if sbd is not None else 0.0
        it = sum(self.projects[self.project_index[n]].cost_per_year for n in funding.projects)
        return float(sec), float(it)

    def expected_value(self, funding: Funding) -> float:
        """Expected project value delivered in the budget year (exact, not sampled)."""
        return float(
            sum(
                self.projects[self.project_index[n]].expected_value(security_by_design=n in funding.security_by_design)
                for n in funding.projects
            )
        )

    def score(self, funded: Any = (), security_by_design: Iterable[str] = ()) -> Score:
        """The objective and key metrics of a funding choice, on the problem's sample."""
        funding = self.funding(funded, security_by_design)
        x = self.total_losses(funding)
        sec, it = self.spend(funding)
        ev = self.expected_value(funding)
        ale = float(x.mean())
        return Score(
            funding=funding,
            security_spend=sec,
            it_spend=it,
            total_spend=sec + it,
            expected_value=ev,
            ale=ale,
            ale_se=metrics.ale_se(x),
            var95=metrics.var(x, 0.95),
            tvar95=metrics.tvar(x, 0.95),
            expected_net_value=ev - ale - sec - it,
        )

    def register_for(self, funding: Funding) -> Register:
        """The register of a funding choice: controls applied, projects' risk and new scenarios added."""
        ctrls = [self.controls[self.control_index[n]] for n in funding.controls]
        projs = [self.projects[self.project_index[n]] for n in funding.projects]
        reg = apply_controls(self.register, ctrls, projects=self.projects)
        return apply_projects(reg, projs, security_by_design=funding.security_by_design, controls=ctrls)

    def result_for(self, funding: Funding) -> Any:
        """The :class:`~riskbudget.SimulationResult` of a funding choice, from the precomputed columns."""
        from ..simulation import SimulationResult

        reg = self.register_for(funding)
        combos = self.combinations_of(funding)
        cols = {self.names[j]: self.column(j, c) for j, c in enumerate(combos)}
        losses = np.empty((self.years, len(reg)), order="F")
        for i, name in enumerate(reg.names):
            losses[:, i] = cols[name]
        return SimulationResult._from_arrays(
            losses, None, register=reg, years=self.years, seed=self.root, method="aggregate"
        )

    def __repr__(self) -> str:
        return (
            f"DecisionProblem({len(self.controls)} controls, {len(self.projects)} projects, {len(self.universe)} scenarios, "
            f"{sum(self.n_combinations)} combinations, {self.years:,} years, seed={self.seed})"
        )


def precompute(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    years: int = 20_000,
    seed: int | np.random.SeedSequence | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    lazy: bool = False,
) -> DecisionProblem:
    """Simulate every scenario under every combination of the decisions touching it.

    Parameters
    ----------
    register : Register
        The scenarios as they are today.
    controls, projects : sequences of Control and Project
        The candidates.
    years : int, default 20_000
        Simulated years; every combination uses the same years (same seed).
    seed : int, optional
        Seed of the run (``None``: fresh entropy, recorded in ``problem.seed``).
    n_jobs : int, optional
        Threads (default: CPUs, at most 4).
    progress : bool, optional
        tqdm progress bar (off with ``RISKBUDGET_PROGRESS=0``).
    lazy : bool, default False
        Simulate combinations only when first needed (for the heuristic on
        problems too large to enumerate).

    Returns
    -------
    DecisionProblem

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.Register([rb.Scenario("A", loss_event_frequency=2, primary_loss=rb.PERT(1e3, 2e3, 5e3), category="web")])
    >>> waf = rb.Control("WAF", 500, applies_to="web", resistance=rb.PERT(0.3, 0.5, 0.7))
    >>> problem = precompute(reg, [waf], years=2_000, seed=1)
    >>> problem.n_combinations
    [2]
    >>> s = problem.score(["WAF"])
    >>> s.ale < problem.score([]).ale
    True
    """
    reg = as_register(register)
    ctrls = as_controls(controls)
    projs = as_projects(projects)
    check_unique_names(ctrls, projs)
    years = _check_years(years)
    root = root_sequence(seed)
    return DecisionProblem(reg, ctrls, projs, years=years, seed=root, n_jobs=n_jobs, progress=progress, lazy=lazy)
