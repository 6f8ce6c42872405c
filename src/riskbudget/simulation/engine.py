"""Monte Carlo of the aggregate annual loss.

``method="aggregate"`` (the default) simulates every year as it happens: draw
the year's rate, a Poisson count of threat events, decide for each threat
event whether it becomes a loss event, draw each loss event's primary loss and
whether it has secondary effects, and add them up. Years with no event have
zero loss, which happens with probability ``exp(-rate)``.

``method="lef_x_lm"`` reproduces the classic per-iteration product
``LEF x LM`` that pyfair and similar tools report: each iteration draws every
factor once and multiplies them (secondary loss as probability x magnitude).
As in pyfair, a vulnerability derived from threat capability and resistance
strength is one number, P(TCap > RS), in every iteration. Same mean as the
aggregate model, a thinner tail, and no loss-free years unless a factor can be
0. It is here for comparison only.

Random numbers
--------------
The run has one root :class:`numpy.random.SeedSequence` built from ``seed``.
Each scenario gets its own child sequence and, below it, one independent
stream per factor (frequency, counts, capability, resistance, each form of
loss, each adjustment, ...). Children are keyed by the scenario's and the
factor's *names* (``SeedSequence(entropy, spawn_key=...)``, the mechanism
behind ``SeedSequence.spawn``), so

* two scenarios with identical inputs are independent, never identical;
* adding, removing or reordering scenarios leaves every other scenario's
  draws unchanged, and options compared under one seed share common random
  numbers;
* each stream is consumed in year order, so the chunk size used to bound
  memory never changes a result.

Distributions that hold posterior draws (:mod:`riskbudget.bayes`) pick one
draw per simulated year from a run-level stream keyed by their
``posterior_key``: a scenario's rate and losses, and every scenario built from
the same posterior, use the same draw in a year (parameter uncertainty is
common to them). Everything else is unchanged by this.

Whether a threat event can become a loss event is decided by one uniform per
threat event against its susceptibility, or against P(TCap > RS) with
capability and resistance: each threat event draws its own capability and
resistance and nothing else uses them, so that is the same model, in
distribution, as drawing both and comparing them. No control or project
changes this test. Every later quantity (the thinning by controls and
projects, each loss) draws a cheap base variate (a uniform or a normal) for
*every* such candidate event and transforms only those it needs. A control
that stops some events therefore leaves the draws of every other event
unchanged: residual losses are inherent losses with some events removed, year
by year.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from .. import _allocator, _progress
from .._memory import check_fits
from .._random import root_sequence
from ..exceptions import RiskBudgetError
from ..fair import Register, Scenario, as_register
from ..insurance import Insurance, Tower, as_policies
from .coupling import ChunkDriver, FrequencyCoupling
from .distributed import simulate_distributed
from .kernel import ScenarioKernel
from .result import SimulationResult

__all__ = ["simulate", "memory_estimate", "METHODS", "CHUNK_EVENTS", "BYTES_PER_EVENT"]

METHODS = ("aggregate", "lef_x_lm")
#: Target number of threat events per chunk for the busiest scenario (about 4 MB per array). Each chunk of a
#: scenario is one task of a thread, and every NumPy call in it hands the GIL over; on 2 threads, halving the
#: chunks cost 20-25% more CPU (bench_engine.py: 2**17 events 4.67 s of CPU, 2**18 3.79 s, 2**19 3.49 s), for
#: 11 MB less peak memory at 20 scenarios x 10^6 years.
CHUNK_EVENTS = 1 << 19
#: Chunks shrink to a single year for very busy scenarios, so memory stays bounded at any event rate.
CHUNK_YEARS_MIN, CHUNK_YEARS_MAX = 1, 1 << 17
#: Upper bound of the working memory per threat event in a chunk (event years, base variates, masks, amounts).
BYTES_PER_EVENT = 128

Method = Literal["aggregate", "lef_x_lm"]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise RiskBudgetError(f"simulate: {name} ({value!r}) must be a whole number")
    if value < minimum:
        raise RiskBudgetError(f"simulate: {name} ({value}) must be >= {minimum}")
    return int(value)


def _expected_rates(register: Register) -> list[float]:
    """Expected threat events per year of each scenario (0 where it cannot be told)."""
    rates = []
    for s in register:
        try:
            rate = s.expected_frequency() * s.multiplier_expectation(["frequency"])
        except Exception:  # noqa: BLE001 - a sizing heuristic must never fail a run
            rate = 0.0
        rates.append(rate if math.isfinite(rate) and rate > 0 else 0.0)
    return rates


def _default_chunk_size(register: Register) -> int:
    """Years per chunk so that the busiest scenario draws about CHUNK_EVENTS threat events."""
    busiest = max(_expected_rates(register), default=0.0)
    if busiest <= 0:
        return CHUNK_YEARS_MAX
    return int(min(max(CHUNK_EVENTS / busiest, CHUNK_YEARS_MIN), CHUNK_YEARS_MAX))


def memory_estimate(
    register: Register, years: int, *, chunk_size: int, n_jobs: int, keep_counts: bool = True
) -> tuple[float, float]:
    """(bytes of the result arrays, bytes of the per-chunk working set) of a run.

    The result holds ``years x scenarios`` losses (8 bytes each), the loss-event
    counts (at most 4 bytes each; one when every count is below 128,
    :class:`CountStore`) and the portfolio total; each of ``n_jobs`` threads
    works on one scenario's chunk at a time, about :data:`BYTES_PER_EVENT`
    per threat event, counted at twice the expected event rate.
    """
    n_sc = len(register)
    result = float(years) * (n_sc * (8 + (4 if keep_counts else 0)) + 2 * 8)
    busiest = sorted(_expected_rates(register), reverse=True)[: max(n_jobs, 1)]
    working = sum(2.0 * r * min(chunk_size, years) * BYTES_PER_EVENT for r in busiest)
    return result, working


def _check_memory(register: Register, years: int, *, chunk_size: int, n_jobs: int, keep_counts: bool) -> None:
    """Refuse, before anything is allocated, a run that cannot fit in memory."""
    for s, rate in zip(register, _expected_rates(register)):
        check_fits(
            2.0 * rate * BYTES_PER_EVENT,
            f"Scenario {s.name!r}: about {rate:.3g} threat events a year (expected), so one simulated year",
            "check the units of its frequency (events per year)",
        )
    result, working = memory_estimate(register, years, chunk_size=chunk_size, n_jobs=n_jobs, keep_counts=keep_counts)
    check_fits(
        result + working,
        f"simulate: {years:,} years x {len(register)} scenario(s)",
        "simulate fewer years"
        + (", or pass keep_counts=False" if keep_counts else "")
        + " (the Monte Carlo error falls only with the square root of the years)",
    )


def simulate(
    scenarios: Scenario | Register | Iterable[Scenario],
    *,
    years: int = 100_000,
    seed: int | np.random.SeedSequence | None = None,
    method: Method = "aggregate",
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    keep_counts: bool = True,
    progress: bool | None = None,
    dependence: FrequencyCoupling | None = None,
    insurance: Insurance | Iterable[Insurance] | None = None,
    client: Any = None,
    scenarios_per_task: int | None = None,
) -> SimulationResult:
    """Simulate the annual loss of one or several scenarios.

    Parameters
    ----------
    scenarios : Scenario, Register or iterable of Scenario
        What to simulate. The portfolio total is the year-by-year sum.
    years : int, default 100_000
        Number of simulated years (iterations).
    seed : int, optional
        Seed of the run. The same seed gives bit-identical results. ``None``
        draws fresh entropy, recorded in ``result.seed``.
    method : {"aggregate", "lef_x_lm"}, default "aggregate"
        ``"aggregate"`` counts events and sums their losses each year;
        ``"lef_x_lm"`` is the classic per-iteration product, for comparison.
    chunk_size : int, optional
        Years simulated at a time; bounds memory, never changes results. By
        default it is chosen so that a chunk holds about 2**19 threat events
        of the busiest scenario (between 1 and 131,072 years), which keeps
        the intermediate arrays to a few MB per thread up to about 2**19
        events a year, and to one year's events above that.
    n_jobs : int, optional
        Threads used across scenarios (default: the number of CPUs).
    keep_counts : bool, default True
        Keep the number of loss events per year and scenario (``counts``).
    progress : bool, optional
        Show a tqdm progress bar. By default it shows for large runs unless the
        environment variable ``RISKBUDGET_PROGRESS=0``.
    dependence : riskbudget.Dependence, optional
        Correlated frequencies (Gaussian or t copula) and common shocks
        between scenarios (see :mod:`riskbudget.portfolio`). By default the
        scenarios are independent; scenarios the dependence does not involve
        draw exactly what they draw without it.
    insurance : Insurance or sequence of Insurance, optional
        Policies (a tower of layers, see :mod:`riskbudget.insurance`). The
        result's ``losses``, ``annual_loss`` and ``summary()`` then hold the
        *retained* losses, ``recovered`` the insurer's payments per year and
        ``recoveries`` per scenario; ``ground_up`` is their sum. Per-event
        layers apply to each loss event, annual layers to the year's aggregate
        of what per-event layers left. Without insurance, nothing changes.
    client : dask.distributed.Client, optional
        Run on a Dask cluster (``pip install 'riskbudget[dask]'``). Blocks of
        scenarios are simulated on the workers over all years with the same
        random streams, so the results are identical to a local run with the
        same seed, bit for bit. The result is a
        :class:`~riskbudget.simulation.distributed.DistributedSimulationResult`:
        its per-scenario losses stay on the cluster as dask arrays, and its
        summary, VaR, TVaR, exceedance, LEC and Euler contributions are computed
        there; ``.compute()`` gathers an ordinary result. ``n_jobs`` and
        ``progress`` do not apply. See ``docs/scale.md``.
    scenarios_per_task : int, optional
        With ``client``: scenarios simulated by one task (default: about four
        tasks per worker thread, at most 128 MB of results per task).

    Returns
    -------
    SimulationResult

    Raises
    ------
    MemoryLimitError
        Before anything is allocated, when the result arrays (``years x
        scenarios``) or one chunk of the busiest scenarios' events would not
        fit in the memory available (see :func:`memory_estimate`).

    Examples
    --------
    >>> import riskbudget as rb
    >>> s = rb.Scenario("BEC fraud", loss_event_frequency=rb.PERT(1, 2, 4),
    ...                 primary_loss=rb.LogNormal.from_ci(20_000, 500_000))
    >>> result = rb.simulate(s, years=10_000, seed=1)
    >>> result.losses.shape
    (10000, 1)
    >>> bool(result.summary().loc["Total", "ale"] > 0)
    True
    """
    register = as_register(scenarios)
    if len(register) == 0:
        raise RiskBudgetError("simulate: there are no scenarios to simulate")
    _allocator.tune_once()
    years = _check_int("years", years, 1)
    chunk_size = _default_chunk_size(register) if chunk_size is None else _check_int("chunk_size", chunk_size, 1)
    if method not in METHODS:
        raise RiskBudgetError(f"simulate: method {method!r} is not one of {list(METHODS)}")
    if n_jobs is None:
        n_jobs = min(os.cpu_count() or 1, len(register))
    n_jobs = _check_int("n_jobs", n_jobs, 1)
    root = root_sequence(seed)
    driver: ChunkDriver | None = None
    if dependence is not None:
        if not isinstance(dependence, FrequencyCoupling):
            raise RiskBudgetError(
                f"simulate: dependence must be a riskbudget.Dependence, not {type(dependence).__name__}"
            )
        driver = dependence.chunk_driver(register, root)
    record_counts = keep_counts and method == "aggregate"
    policies = as_policies(insurance)
    tower = Tower.build(policies, list(register)) if policies else None
    if tower is not None and tower.per_event and method != "aggregate":
        raise RiskBudgetError(
            f"simulate: per-event insurance layers need method='aggregate' (method={method!r} draws no single events)"
        )
    if scenarios_per_task is not None:
        if client is None:
            raise RiskBudgetError("simulate: scenarios_per_task applies only with client= (a Dask cluster)")
        scenarios_per_task = _check_int("scenarios_per_task", scenarios_per_task, 1)
    if client is not None:
        return simulate_distributed(
            client, register, years=years, root=root, method=method, chunk_size=chunk_size,
            record_counts=record_counts, dependence=dependence, policies=tuple(policies), tower=tower,
            scenarios_per_task=scenarios_per_task,
        )
    _check_memory(register, years, chunk_size=chunk_size, n_jobs=n_jobs, keep_counts=record_counts)

    n_sc = len(register)
    losses = np.empty((years, n_sc), order="F")
    counts = CountStore(years, n_sc) if record_counts else None
    recovered = np.zeros((years, n_sc), order="F") if tower is not None else None
    kernels = [ScenarioKernel(s, root, method, _event_recovery(tower, s.name)) for s in register]
    names = register.names

    starts = list(range(0, years, chunk_size))
    bar = _progress.bar(_progress.enabled(progress, years * n_sc), len(starts), f"simulate {n_sc} scenario(s)")

    def work(j: int, a: int, b: int, fu: np.ndarray | None, fm: np.ndarray | None) -> None:
        loss, count = kernels[j].run(b - a, fu, fm)
        losses[a:b, j] = loss
        if recovered is not None and kernels[j].recovered is not None:
            recovered[a:b, j] = kernels[j].recovered
        if counts is not None and count is not None:
            counts.put(a, b, j, count, names[j])

    pool = ThreadPoolExecutor(max_workers=n_jobs) if n_jobs > 1 and n_sc > 1 else None
    try:
        for a in starts:
            b = min(a + chunk_size, years)
            uniforms, multipliers = driver(a, b) if driver is not None else ({}, {})
            jobs = [(j, a, b, uniforms.get(nm), multipliers.get(nm)) for j, nm in enumerate(names)]
            if pool is None:
                for job in jobs:
                    work(*job)
            else:
                for f in [pool.submit(work, *job) for job in jobs]:
                    f.result()
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()

    if tower is not None and recovered is not None:
        tower.apply_annual(names, losses, recovered)
    kernels.clear()  # each holds its last chunk's draws
    _allocator.release()  # the chunks' freed memory, kept for reuse during the run, goes back before the tables
    return SimulationResult._from_arrays(
        losses, None if counts is None else counts.finish(), register=register, years=years, seed=root,
        method=method, recovered=recovered, insurance=policies,
    )


class CountStore:
    """Loss-event counts per year and scenario, in the smallest signed integer type that holds every one.

    Counts of a few events a year fit one byte (``int8``), a quarter of the
    ``int32`` a count could need: 60 MB less at 20 scenarios x 10^6 years.
    Threads write their own scenario's chunks (:meth:`put`); a chunk with a
    count above 127 is kept aside as ``int32``, and :meth:`finish` then widens
    the whole array to ``int16`` or ``int32``, as its largest count needs. No
    count is ever clipped.
    """

    def __init__(self, years: int, n_scenarios: int) -> None:
        self.array: np.ndarray | None = np.empty((years, n_scenarios), dtype=np.int8, order="F")
        self.wide: dict[tuple[int, int], np.ndarray] = {}  # (first year, scenario) -> that chunk's counts
        self._lock = threading.Lock()

    def put(self, a: int, b: int, j: int, count: np.ndarray, name: str) -> None:
        """Store scenario ``j``'s counts of years ``a`` to ``b``."""
        assert self.array is not None
        top = int(count.max()) if count.size else 0
        if top <= np.iinfo(np.int8).max:
            self.array[a:b, j] = count
            return
        if top > np.iinfo(np.int32).max:  # pragma: no cover - absurd rates (the memory check refuses them first)
            raise RiskBudgetError(f"Scenario {name!r}: more than 2**31 loss events in a year")
        with self._lock:
            self.wide[(a, j)] = count.astype(np.int32)

    def finish(self) -> np.ndarray:
        """The counts, widened to the type the largest needs (``int8``, ``int16`` or ``int32``)."""
        assert self.array is not None
        out, self.array = self.array, None
        if self.wide:
            top = max(int(c.max()) for c in self.wide.values())
            out = out.astype(np.int16 if top <= np.iinfo(np.int16).max else np.int32, order="F")
            for (a, j), c in self.wide.items():
                out[a : a + c.size, j] = c
            self.wide = {}
        return out


def _event_recovery(tower: Tower | None, scenario: str) -> Any:
    """The per-event payment function of ``scenario``'s layers (None: no per-event layer covers it)."""
    if tower is None or scenario not in tower.per_event:
        return None
    return lambda losses: tower.event_recovery(scenario, losses)
