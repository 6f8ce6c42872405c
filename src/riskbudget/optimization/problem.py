"""The decision problem on one simulated sample: losses per scenario and combination of the decisions touching it.

A scenario's simulated losses depend only on the controls and projects that
touch it (its random streams are keyed by its name and by each control's and
project's name), so :func:`precompute` simulates every scenario once for each
combination of the decisions that touch it, all under the same seed. Any
funding choice is then scored by picking one column per scenario and adding
them year by year, which equals simulating the funded register from scratch,
bit for bit.

The combinations of one scenario share its threat events (common random
numbers), so they are simulated together
(:class:`~riskbudget.simulation.kernel.VariantKernel`): the events are drawn
once and each combination only thins, scales and adds them, bit for bit as a
separate run would. There is no cap on the number of combinations. What is
kept depends on size (:data:`DENSE_BYTES`):

* small problems (the bundled example) keep every column, ``(years x
  combinations)`` per scenario, as the program has always been built;
* larger ones keep, for every combination, its mean annual loss (float64,
  from the whole simulated column) and, for every scenario and year, the
  smallest and largest loss over its combinations. A column is simulated
  again when it is needed (a plan's losses, a tail cut's coefficients) and
  cached; the program (:mod:`~riskbudget.optimization.model`) brings in only
  the columns that can matter, by column generation with a proof.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Lock, RLock
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
from ..fair import ALL_SCENARIOS, Adjustment, Register, Scenario, as_register
from ..insurance import Insurance, Tower, as_policies
from ..simulation import simulate
from ..simulation.kernel import VariantKernel

__all__ = [
    "Funding",
    "Score",
    "DecisionProblem",
    "precompute",
    "MAX_COMBINATIONS_PER_SCENARIO",
    "DENSE_BYTES",
    "COLUMN_CACHE_BYTES",
]

#: No cap by default. Set an int to refuse scenarios with more combinations
#: (:class:`~riskbudget.exceptions.TooManyCombinationsError`); ``optimize(...,
#: method="auto")`` then uses the heuristic for such problems.
MAX_COMBINATIONS_PER_SCENARIO: int | None = None

#: Problems whose columns (years x combinations x 8 bytes) fit in this many
#: bytes keep every column; larger ones keep means and per-year extremes and
#: simulate columns again when needed. A fixed size, not the free memory, so a
#: seed gives the same plan on every machine.
DENSE_BYTES = 1 << 30

#: The cache of columns simulated again on demand (larger problems), in bytes.
COLUMN_CACHE_BYTES = 512 << 20

#: Working memory per threat event of a scenario whose combinations are simulated together
#: (event years, uniforms, base variates and their transforms, masks), an upper bound.
BYTES_PER_SHARED_EVENT = 96


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
    """Losses of every scenario under every combination of the decisions touching it, on one sample.

    Build it with :func:`precompute`. Attributes:

    ``names``
        Scenario names: the register's, then each project's new scenarios.
    ``touching``
        For each scenario, the decisions that touch it: ``("control", i)`` or
        ``("project", k)`` (indices into ``controls`` / ``projects``).
    ``n_combinations``
        Combinations per scenario. The combination index is mixed-radix in
        the touching decisions' states (a control 0/1; a project 0 = not
        funded, 1 = funded, 2 = funded with security by design), the first
        decision varying fastest. See :meth:`combination` and
        :meth:`combination_states`.
    ``dense``
        True when every column is kept (:data:`DENSE_BYTES`); ``losses`` then
        holds, for each scenario, a float array ``(years, combinations)``
        (else ``None``).
    ``means``
        For each scenario, the mean annual loss of every combination (float64,
        from the whole simulated column).
    ``lowest``, ``highest``
        For each scenario, the smallest and largest annual loss over its
        combinations, year by year.

    :meth:`column` gives one combination's annual losses (simulated again and
    cached when not kept); :meth:`total_losses` and :meth:`score` add one
    column per scenario, which is what an interactive budget explorer needs.
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
        cap = MAX_COMBINATIONS_PER_SCENARIO
        for s, n in zip(self.universe, self.n_combinations):
            if cap is not None and n > cap and not lazy:
                raise TooManyCombinationsError(
                    f"Scenario {s.name!r}: {n} combinations of the controls and projects touching it exceed "
                    f"{cap}; use optimize(..., method='heuristic') or split the controls' applies_to"
                )
        self.lazy = lazy
        self._adjustments = [self._adjustments_of(j) for j in range(len(self.universe))]
        self._kernels: list[VariantKernel | None] = [None] * len(self.universe)
        self._kernel_locks = [RLock() for _ in self.universe]
        columns = sum(self.n_combinations)
        self.dense = not lazy and columns * years * 8 <= DENSE_BYTES
        self.losses: list[np.ndarray] | None = None
        self.means: list[np.ndarray] = []
        self.lowest: list[np.ndarray] = []
        self.highest: list[np.ndarray] = []
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_lock = Lock()
        self._year_rows: dict[tuple[int, ...], Any] = {}
        self._year_rows_lock = Lock()
        self._kept: dict[tuple[int, int], np.ndarray] = {}
        #: Insurance applied when scoring (:meth:`insured`); empty: losses are ground-up.
        self.insurance: tuple[Insurance, ...] = ()
        #: (scenario, combination, layers) -> (retained, recovered) of per-event layers, and (layers, scenarios) ->
        #: Tower; shared by insured copies.
        self._event_insured: dict[tuple[Any, ...], Any] = {}
        if lazy:
            return
        self._check_variants()
        if self.dense:
            # The stored columns, plus the per-year totals and tail cuts the solver and
            # the plan's returns build from them (measured: about 2.6x the columns).
            check_fits(
                3.0 * columns * years * 8,
                f"optimize: {years:,} years x {columns} simulated combinations of {len(self.universe)} scenarios",
                "use fewer years (20,000 is usually enough to rank plans; validate() checks the plan on fresh years)",
            )
        else:
            check_fits(
                self.memory_estimate(n_jobs=self._workers(n_jobs)),
                f"optimize: {years:,} years x {columns:,} combinations of {len(self.universe)} scenarios "
                f"(every combination's mean, every scenario's threat events, a cache of columns)",
                "use fewer years (20,000 is usually enough to rank plans; validate() checks the plan on fresh years), "
                "or optimize(..., method='heuristic'), which simulates only the combinations it visits",
            )
        self._simulate_all(n_jobs=n_jobs, progress=progress)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. sent to Dask workers) without its locks, event kernels and column cache (rebuilt on demand)."""
        state = self.__dict__.copy()
        del state["_kernel_locks"], state["_cache_lock"], state["_year_rows_lock"]
        state["_kernels"] = [None] * len(self.universe)
        state["_cache"] = OrderedDict()
        state["_year_rows"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._kernel_locks = [RLock() for _ in self.universe]
        self._cache_lock = Lock()
        self._year_rows_lock = Lock()

    # ------------------------------------------------------------------ #
    @staticmethod
    def _workers(n_jobs: int | None) -> int:
        return max(1, n_jobs if n_jobs is not None else min(os.cpu_count() or 1, 4))

    def memory_estimate(self, *, n_jobs: int = 1) -> float:
        """Bytes the precompute and the program need, an upper bound of the large arrays.

        Every column when they are all kept; otherwise each combination's mean
        and program column (a few float64 each), each scenario's lowest and
        highest loss per year, the shared threat events of the ``n_jobs``
        busiest scenarios being enumerated, and the column cache.
        """
        n, columns = self.years, sum(self.n_combinations)
        if self.dense:
            return 3.0 * columns * n * 8
        busiest = sorted((self._expected_events(s) for s in self.universe), reverse=True)[:n_jobs]
        events = sum(2.0 * e * n * BYTES_PER_SHARED_EVENT for e in busiest)
        per_column = 8 * 8  # mean, objective, bounds, pricing and a few cut coefficients per column
        return columns * per_column + len(self.universe) * n * 16 + events + n_jobs * 8 * n * 8 + COLUMN_CACHE_BYTES

    @staticmethod
    def _expected_events(s: Scenario) -> float:
        try:
            rate = s.expected_frequency()
        except Exception:  # noqa: BLE001 - a sizing heuristic must never fail a run
            rate = 0.0
        return rate if math.isfinite(rate) and rate > 0 else 0.0

    def _adjustments_of(self, j: int) -> list[list[tuple[Adjustment, ...]]]:
        """Scenario ``j``'s adjustments for each touching decision and state (state 0: none)."""
        s = self.universe[j]
        out: list[list[tuple[Adjustment, ...]]] = []
        for (kind, i), r in zip(self.touching[j], self.radix[j]):
            states: list[tuple[Adjustment, ...]] = [()]
            for st in range(1, r):
                if kind == "control":
                    states.append(tuple(self.controls[i].adjustments_for(s)))
                elif s.name in self.owner:
                    states.append(tuple(new_scenario_adjustments(self.projects[i], security_by_design=st == 2)))
                else:
                    p = self.projects[i]
                    states.append(
                        tuple(project_adjustments(p, s, self._ptargets[p.name][s.name], security_by_design=st == 2))
                    )
            out.append(states)
        return out

    def _check_variants(self) -> None:
        """Check each scenario with every decision in its most raising state, before simulating.

        Projects only raise; controls only lower. A scenario whose estimates
        stay within the ceilings with every project funded (without security
        by design) does in every combination.
        """
        for j in range(len(self.universe)):
            c = self.combination(j, np.ones(len(self.controls), dtype=bool), np.ones(len(self.projects), dtype=np.int64))
            self.variant(j, c)

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

    def adjustments(self, j: int, c: int) -> list[Adjustment] | None:
        """The adjustments combination ``c`` adds to scenario ``j`` (None: a new scenario not funded)."""
        states = self.combination_states(j, c)
        s = self.universe[j]
        if s.name in self.owner:
            pos = self.touching[j].index(("project", self.owner[s.name]))
            if states[pos] == 0:
                return None
        out: list[Adjustment] = []
        for per_state, st in zip(self._adjustments[j], states):
            out.extend(per_state[st])
        return out

    def variant(self, j: int, c: int) -> Scenario | None:
        """Scenario ``j`` with the adjustments of combination ``c`` (None: a new scenario not funded)."""
        adjs = self.adjustments(j, c)
        if adjs is None:
            return None
        s = self.universe[j]
        return s.with_adjustments(*adjs) if adjs else s

    def _kernel(self, j: int) -> VariantKernel | None:
        """The shared-event simulator of scenario ``j`` (None: its combinations are simulated one by one)."""
        kernel = self._kernels[j]
        if kernel is None and VariantKernel.supports(self.universe[j]):
            kernel = self._kernels[j] = VariantKernel(self.universe[j], self.root, self.years)
        return kernel

    def _simulate_column(self, j: int, c: int, kernel: VariantKernel | None = None) -> np.ndarray:
        """Scenario ``j``'s annual losses under combination ``c``, bit for bit as ``simulate`` gives them."""
        adjs = self.adjustments(j, c)
        if adjs is None:
            return np.zeros(self.years)
        with self._kernel_locks[j]:  # a kernel's caches grow as it goes: one thread at a time per scenario
            kernel = kernel if kernel is not None else self._kernel(j)
            shared = kernel.losses(adjs) if kernel is not None else None
        return shared if shared is not None else self._simulated(j, c)

    def _simulated(self, j: int, c: int) -> np.ndarray:
        """Scenario ``j`` under combination ``c`` simulated on its own, as ``simulate`` does it."""
        v = self.variant(j, c)
        if v is None:
            return np.zeros(self.years)
        res = simulate(v, years=self.years, seed=self.root, n_jobs=1, keep_counts=False, progress=False)
        return res.losses.to_numpy()[:, 0]

    def column(self, j: int, c: int) -> np.ndarray:
        """Annual losses of scenario ``j`` under combination ``c`` (simulated on first use when not kept)."""
        if self.losses is not None:
            return self.losses[j][:, c]
        kept = self._kept.get((j, c))
        if kept is not None:
            return kept
        with self._cache_lock:
            col = self._cache.get((j, c))
            if col is not None:
                self._cache.move_to_end((j, c))
                return col
        col = self._simulate_column(j, c)
        col.setflags(write=False)
        with self._cache_lock:
            self._cache[(j, c)] = col
            limit = None if self.lazy else max(COLUMN_CACHE_BYTES // (8 * self.years), 64)
            while limit is not None and len(self._cache) > limit:
                self._cache.popitem(last=False)
        return col

    def year_rows(self, scenarios: Sequence[int]) -> Any:
        """The annual losses of every combination of ``scenarios``, side by side (years x combinations, scenario by
        scenario), laid out for taking rows: the program's cut rows sum a limit's worst years of them.

        A CSR matrix when at most half its entries are nonzero (in most years a scenario loses nothing; taking
        1,000 rows of the bundled example's is 15 times faster than from the stored columns), else a row-major
        array. Built once and kept for the last set of scenarios asked (one program's blocks), so the shares of a
        frontier share it. Needs the stored columns (:attr:`dense`).
        """
        if self.losses is None:
            raise RiskBudgetError("year_rows needs the stored columns of a dense problem")
        key = tuple(int(j) for j in scenarios)
        with self._year_rows_lock:
            rows = self._year_rows.get(key)
            if rows is None:
                mats = [self.losses[j] for j in key]
                nonzero = sum(int(np.count_nonzero(m)) for m in mats)
                if 2 * nonzero <= sum(m.size for m in mats):
                    import scipy.sparse as sp

                    rows = sp.hstack([sp.csr_matrix(m) for m in mats], format="csr") if mats else sp.csr_matrix(
                        (self.years, 0))
                else:
                    rows = np.ascontiguousarray(np.hstack(mats))
                self._year_rows = {key: rows}
        return rows

    def keep(self, j: int, c: int) -> np.ndarray:
        """Scenario ``j``'s column ``c``, kept for the life of the problem (the program's columns)."""
        col = self._kept.get((j, c))
        if col is None:
            col = self._kept[(j, c)] = self.column(j, c)
        return col

    def release(self, j: int, c: int) -> None:
        """Stop keeping scenario ``j``'s column ``c`` for the programs (it is simulated again when needed)."""
        self._kept.pop((j, c), None)

    def kept_columns(self) -> list[tuple[int, int]]:
        """(scenario, combination) of every column kept for the program."""
        return list(self._kept)

    @property
    def kept_bytes(self) -> int:
        """Memory of the columns kept for the program (not counting a dense problem's own)."""
        return 8 * self.years * len(self._kept)

    def _simulate_all(self, *, n_jobs: int | None, progress: bool | None) -> None:
        n = self.years
        order = sorted(range(len(self.universe)), key=lambda j: -self.n_combinations[j])
        workers = self._workers(n_jobs)
        total = sum(self.n_combinations)
        bar = _progress.bar(_progress.enabled(progress, total * n // 4), total, "precompute combinations")
        if self.dense:
            self.losses = [np.empty((n, k), order="F") for k in self.n_combinations]
        self.means = [np.empty(k) for k in self.n_combinations]
        self.lowest = [np.empty(0)] * len(self.universe)
        self.highest = [np.empty(0)] * len(self.universe)
        lock = Lock()

        def columns(j: int) -> Iterator[tuple[int, np.ndarray]]:
            """Every column of scenario ``j``, its combinations simulated together when they can be."""
            with self._kernel_locks[j]:
                kernel = self._kernel(j)
                if kernel is None:
                    for c in range(self.n_combinations[j]):
                        yield c, self._simulated(j, c)
                    return
                s = self.universe[j]
                owner = self.touching[j].index(("project", self.owner[s.name])) if s.name in self.owner else None
                for c, col in kernel.variants(self._adjustments[j]):
                    if owner is not None and self.combination_states(j, c)[owner] == 0:
                        col = np.zeros(n)  # a new scenario whose project is not funded
                    elif col is None:
                        col = self._simulated(j, c)
                    yield c, col

        def work(j: int) -> None:
            lo = np.full(n, np.inf)
            hi = np.full(n, -np.inf)
            means = self.means[j]
            done = 0
            for c, col in columns(j):
                if self.losses is not None:
                    self.losses[j][:, c] = col
                means[c] = col.mean()
                np.minimum(lo, col, out=lo)
                np.maximum(hi, col, out=hi)
                done += 1
                if done == 256:
                    with lock:
                        bar.update(done)
                    done = 0
            with lock:
                bar.update(done)
            self.lowest[j], self.highest[j] = lo, hi
            if self.dense:
                self._kernels[j] = None  # every column is kept; the shared events are not needed again

        try:
            if workers > 1 and len(order) > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for _ in pool.map(work, order):
                        pass
            else:
                for j in order:
                    work(j)
        finally:
            bar.close()

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
        """Portfolio annual loss per simulated year of a funding choice (retained, when :meth:`insured`)."""
        if self.insurance:
            return self._insured_arrays(funding, register=False)[1].sum(axis=1)
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
            expected_net_value=ev - ale - sec - it - self.premium,
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

        if self.insurance:
            reg, losses, recovered = self._insured_arrays(funding)
            return SimulationResult._from_arrays(
                losses, None, register=reg, years=self.years, seed=self.root, method="aggregate",
                recovered=recovered, insurance=self.insurance,
            )
        reg = self.register_for(funding)
        combos = self.combinations_of(funding)
        cols = {self.names[j]: self.column(j, c) for j, c in enumerate(combos)}
        losses = np.empty((self.years, len(reg)), order="F")
        for i, name in enumerate(reg.names):
            losses[:, i] = cols[name]
        return SimulationResult._from_arrays(
            losses, None, register=reg, years=self.years, seed=self.root, method="aggregate"
        )

    # -- insurance ------------------------------------------------------- #
    def insured(self, insurance: Insurance | Iterable[Insurance] | None) -> DecisionProblem:
        """This problem with ``insurance`` applied when scoring: losses are what the company retains.

        A shallow copy sharing every simulated column (no new simulation of
        ground-up losses). :meth:`total_losses`, :meth:`score` and
        :meth:`result_for` then give retained losses, bit for bit as
        ``simulate(problem.register_for(funding), insurance=...)`` under the
        problem's seed; per-event layers simulate each covered column again
        with its events' payments (cached). The program
        (:class:`~riskbudget.optimization.model.Model`) refuses an insured
        problem: annual layers make the retained loss non-linear in the
        decisions. ``insured(None)`` or ``insured([])`` is the ground-up problem.
        """
        import copy

        policies = as_policies(insurance)
        if policies:
            Tower.build(policies, self.universe)  # overlapping layers, unknown targets: the engine's errors, now
        out = copy.copy(self)
        out.insurance = policies
        return out

    @property
    def ground(self) -> DecisionProblem:
        """The problem without insurance (itself when none is applied): losses before insurance."""
        return self.insured(None) if self.insurance else self

    @property
    def premium(self) -> float:
        """The yearly premium of the insurance applied (0 without)."""
        return float(sum(p.premium for p in self.insurance))

    def _event_column(self, j: int, c: int, layers: tuple[Insurance, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Scenario ``j`` under combination ``c`` with per-event ``layers``: (retained, recovered) per year."""
        from dataclasses import replace as _replace

        key = (j, c, tuple(layers))  # the policies themselves (frozen): two layers of one name never share an entry
        hit = self._event_insured.get(key)
        if hit is not None:
            return hit
        v = self.variant(j, c)
        if v is None:
            zero = np.zeros(self.years)
            out = (zero, zero)
        else:
            # the layers already resolved to this scenario: on its own register they cover it by "*"
            own = [_replace(p, applies_to=(ALL_SCENARIOS,)) for p in layers]
            res = simulate(v, years=self.years, seed=self.root, n_jobs=1, keep_counts=False, progress=False,
                           insurance=own)
            out = (res.losses.to_numpy()[:, 0].copy(), res.recoveries.to_numpy()[:, 0].copy())
        for a in out:
            a.setflags(write=False)
        self._event_insured[key] = out
        return out

    def _active(self, funding: Funding) -> tuple[int, ...]:
        """Indices into ``universe`` of the funded register's scenarios, in its order (new ones when funded)."""
        funded = set(funding.projects)
        return tuple(j for j, s in enumerate(self.universe)
                     if s.name not in self.owner or self.projects[self.owner[s.name]].name in funded)

    def _tower(self, active: tuple[int, ...]) -> Tower:
        key = (tuple(self.insurance), active)
        tower = self._event_insured.get(key)
        if tower is None:
            # scopes resolved on every scenario the problem knows (a layer may name one a project adds), kept to
            # the funded register's
            tower = Tower.build(self.insurance, self.universe, within={self.universe[j].name for j in active})
            self._event_insured[key] = tower
        return tower  # type: ignore[no-any-return]

    def _insured_arrays(self, funding: Funding, *, register: bool = True) -> tuple[Any, np.ndarray, np.ndarray]:
        """(funded register, retained losses, recoveries), each ``(years, scenarios)``, as ``simulate`` applies a tower.

        The columns are in the funded register's order (the base register's
        scenarios, then the funded projects' new ones), so year totals add up
        in the order ``simulate`` adds them. ``register=False`` skips building
        the register (None is returned in its place): the search only needs
        the losses.
        """
        active = self._active(funding)
        reg = self.register_for(funding) if register else None
        combos = self.combinations_of(funding)
        tower = self._tower(active)
        n = len(active)
        names = [self.names[j] for j in active]
        losses = np.empty((self.years, n), order="F")
        recovered = np.zeros((self.years, n), order="F")
        for i, j in enumerate(active):
            name, c = self.names[j], combos[j]
            layers = tower.per_event.get(name)
            if layers:
                losses[:, i], recovered[:, i] = self._event_column(j, c, layers)
            else:
                losses[:, i] = self.column(j, c)
        if reg is not None and tuple(reg.names) != tuple(names):  # pragma: no cover - a broken invariant
            raise RiskBudgetError(f"insured scoring: register order {reg.names} differs from {names}")
        tower.apply_annual(names, losses, recovered)
        return reg, losses, recovered

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
