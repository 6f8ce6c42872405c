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

Quantities that belong to threat events (capability, resistance, losses)
draw a cheap base variate (a uniform or a normal) for *every* threat event and
transform only those they need. A control that stops some events therefore
leaves the draws of every other event unchanged: residual losses are inherent
losses with some events removed, year by year.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import _allocator, _progress
from ._memory import check_fits
from ._random import Streams, posterior_stream_name, root_sequence
from .distributions import Distribution, PosteriorDistribution
from .exceptions import RiskBudgetError
from .fair import LossForms, Register, Scenario, SharedMultiplier, as_register

__all__ = ["simulate", "SimulationResult", "METHODS"]

METHODS = ("aggregate", "lef_x_lm")
#: Target number of threat events per chunk for the busiest scenario (about 2 MB per array).
CHUNK_EVENTS = 1 << 18
#: Chunks shrink to a single year for very busy scenarios, so memory stays bounded at any event rate.
CHUNK_YEARS_MIN, CHUNK_YEARS_MAX = 1, 1 << 17
#: Upper bound of the working memory per threat event in a chunk (event years, base variates, masks, amounts).
BYTES_PER_EVENT = 128

Method = Literal["aggregate", "lef_x_lm"]


class _CapabilityVsResistance:
    """Exact per-event test of threat capability > resistance strength, from uniforms.

    With ``U_c`` and ``U_r`` the uniforms behind an event's capability and
    resistance, ``F_TC^-1(U_c) > F_RS^-1(U_r)`` holds exactly when
    ``U_r < h(U_c)`` with ``h = F_RS o F_TC^-1``, a non-decreasing map of
    [0, 1] onto itself. ``h`` is tabulated on a grid; inside a grid cell it
    lies between the values at the cell's ends, which settles all but about
    one event in ``GRID``. Those are decided by drawing both values with the
    sampler. The result equals drawing both values for every event and
    comparing them (up to the sampler's u-error of 5e-11), at a fraction of the cost.
    """

    GRID = 4096
    _cache: dict[tuple[Distribution, Distribution], tuple[np.ndarray, np.ndarray]] = {}
    lower: np.ndarray
    upper: np.ndarray

    def __init__(self, tcap: Distribution, rs: Distribution) -> None:
        self.tcap, self.rs = tcap, rs
        self.tabulated = tcap.base_kind == "uniform" and rs.base_kind == "uniform"
        if self.tabulated:
            key = (tcap, rs)
            table = self._cache.get(key)
            if table is None:
                grid = np.linspace(0.0, 1.0, self.GRID + 1)
                h = np.asarray(rs.cdf(tcap.ppf(grid)), dtype=float)
                h = np.maximum.accumulate(np.clip(h, 0.0, 1.0))
                table = self._cache[key] = (h[:-1] - 1e-12, h[1:] + 1e-12)
                if len(self._cache) > 256:
                    self._cache.pop(next(iter(self._cache)))
            self.lower, self.upper = table

    def hits(self, b_cap: np.ndarray, b_res: np.ndarray) -> np.ndarray:
        if not self.tabulated:
            return self.tcap.from_base(b_cap) > self.rs.from_base(b_res)
        cell = (b_cap * self.GRID).astype(np.intp)
        np.minimum(cell, self.GRID - 1, out=cell)
        lower = self.lower[cell]
        hit = b_res < lower
        unsure = np.flatnonzero((b_res >= lower) & (b_res < self.upper[cell]))
        if unsure.size:
            # The same values the sampler gives these uniforms (exact to its u-error).
            hit[unsure] = self.tcap.from_base(b_cap[unsure]) > self.rs.from_base(b_res[unsure])
        return hit


def _forms(estimate: Distribution | LossForms) -> list[tuple[str, Distribution]]:
    """(stream suffix, distribution) pairs of a loss estimate."""
    if isinstance(estimate, LossForms):
        return [(f".{k}", d) for k, d in estimate.items()]
    return [("", estimate)]


class _ScenarioKernel:
    """Simulates one scenario chunk by chunk, in year order."""

    def __init__(self, scenario: Scenario, root: np.random.SeedSequence, method: str) -> None:
        self.s = scenario
        self.method = method
        self.g = Streams(root, scenario.name)
        self.adjust: dict[str, list[Any]] = {}
        for adj in scenario.adjustments:
            self.adjust.setdefault(adj.factor, []).append(adj)
        self.primary = _forms(scenario.primary_loss)  # type: ignore[arg-type]
        self._vulnerability = scenario.expected_susceptibility() if method == "lef_x_lm" else 1.0
        self.cap_vs_res = (
            _CapabilityVsResistance(scenario.threat_capability, scenario.resistance_strength)  # type: ignore[arg-type]
            if scenario.threat_capability is not None
            else None
        )
        self.secondary = _forms(scenario.secondary_loss) if scenario.secondary_loss is not None else []

    # -- per-year draws ------------------------------------------------- #
    def _multiplier(self, factor: str, n: int) -> np.ndarray | None:
        """Product of this factor's adjustment multipliers for ``n`` years (None if none)."""
        adjs = self.adjust.get(factor)
        if not adjs:
            return None
        out = np.ones(n)
        for adj in adjs:
            # A multiplier may ask for a run-level stream shared by every scenario
            # (``shared_stream``, e.g. a control's strength); otherwise its stream
            # is keyed by the scenario, the source and the factor.
            m = adj.multiplier
            rng = self.g.shared(m.shared_stream, factor) if isinstance(m, SharedMultiplier) else self.g(f"adjust:{adj.source}:{factor}")
            out *= adj.multiplier.sample(n, rng)
        return out

    def _rate(self, n: int, freq_uniforms: np.ndarray | None) -> np.ndarray:
        s = self.s
        kind = s.frequency_kind
        dist = getattr(s, kind)
        if freq_uniforms is not None:
            rate = dist.from_uniform(freq_uniforms)
        elif isinstance(dist, PosteriorDistribution):
            # Posterior parameters (riskbudget.bayes): this year's draw, shared with the losses.
            rate = dist.sample_years(self._posterior_index(dist, n), self.g("frequency"))
        else:
            rate = dist.sample(n, self.g("frequency"))
        if kind == "contact_frequency":
            rate = rate * s.probability_of_action.sample(n, self.g("probability_of_action"))  # type: ignore[union-attr]
        return rate

    def _loss_multipliers(self, which: str, suffix: str, drawn: dict[str, np.ndarray | None]) -> np.ndarray | None:
        """Product of the "loss", ``which`` and ``which.form`` multipliers already drawn for the chunk."""
        factors = [which, which + suffix] if suffix else [which]
        out: np.ndarray | None = None
        for factor in ["loss", *factors]:
            m = drawn[factor]
            if m is not None:
                out = m if out is None else out * m
        return out

    # -- one chunk ------------------------------------------------------ #
    def run(
        self,
        n: int,
        freq_uniforms: np.ndarray | None = None,
        freq_multiplier: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Loss (and loss-event count) for the next ``n`` years."""
        self._chunk_n = n
        self._posterior_chunk: dict[str, tuple[int, np.ndarray]] = {}
        if self.method == "lef_x_lm":
            return self._run_lef_x_lm(n, freq_uniforms, freq_multiplier), None
        return self._run_aggregate(n, freq_uniforms, freq_multiplier)

    def _posterior_index(self, dist: Any, n: int) -> np.ndarray:
        """Each year's posterior draw index for distributions holding posterior draws.

        The index comes from a run-level stream keyed by ``dist.posterior_key``
        (not by the scenario), so the frequency and the losses of a scenario,
        and every scenario built from the same posterior, use the same draw in
        a given year.
        """
        key = dist.posterior_key
        hit = self._posterior_chunk.get(key)
        if hit is None:
            index = dist.draw_index(n, self.g.shared(posterior_stream_name(key), "index"))
            self._posterior_chunk[key] = (dist.posterior_draws, index)
            return index
        if hit[0] != dist.posterior_draws:
            raise RiskBudgetError(
                f"Scenario {self.s.name!r}: distributions sharing posterior key {key!r} hold different numbers "
                f"of draws ({hit[0]} and {dist.posterior_draws})"
            )
        return hit[1]

    def _draw_per_year(self, dist: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
        """One draw per year (LEF x LM), using the year's posterior draw where there is one."""
        if isinstance(dist, PosteriorDistribution):
            return dist.from_base_years(dist.base_variates(n, rng), self._posterior_index(dist, n))
        return dist.sample(n, rng)

    def _loss_mults(self, n: int) -> dict[tuple[str, str], np.ndarray | None]:
        """Per-year loss multipliers of every (primary/secondary, form) pair for ``n`` years.

        Each factor's multipliers are drawn once per chunk, so a "loss" adjustment
        is one value per year, common to every form and to primary and secondary
        loss, and its stream is consumed in year order whatever the chunk size.
        """
        drawn: dict[str, np.ndarray | None] = {}

        def draw(factor: str) -> None:
            if factor not in drawn:
                drawn[factor] = self._multiplier(factor, n)

        draw("loss")
        mults: dict[tuple[str, str], np.ndarray | None] = {}
        for which, forms in (("primary_loss", self.primary), ("secondary_loss", self.secondary)):
            draw(which)
            for suffix, _ in forms:
                if suffix:
                    draw(which + suffix)
                mults[(which, suffix)] = self._loss_multipliers(which, suffix, drawn)
        return mults

    def _run_aggregate(
        self, n: int, freq_uniforms: np.ndarray | None, extra_multiplier: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        s, g = self.s, self.g
        freq_mult = self._multiplier("frequency", n)
        if extra_multiplier is not None:
            freq_mult = extra_multiplier if freq_mult is None else freq_mult * extra_multiplier
        susc_mult = self._multiplier("susceptibility", n)
        loss_mults = self._loss_mults(n)
        slp = (
            s.secondary_loss_probability.sample(n, g("secondary_loss_probability"))
            if s.secondary_loss_probability is not None
            else None
        )

        if s.annual_probability is not None:
            p = s.annual_probability.from_uniform(freq_uniforms) if freq_uniforms is not None else s.annual_probability.sample(n, g("frequency"))
            if freq_mult is not None:
                p = p * freq_mult
            counts = (g("count").random(n) < p).astype(np.int64)
            loss, count = self._events("", counts, None, None, slp, loss_mults, n)
            return loss, count

        rate = self._rate(n, freq_uniforms)
        susc_year = s.susceptibility.sample(n, g("susceptibility")) if s.susceptibility is not None else None
        if freq_mult is None:
            counts = g("count").poisson(rate)
            return self._events("", counts, None, susc_year, slp, loss_mults, n, susc_mult)
        # Thin the base events where the multiplier is below 1; add an
        # independent stream of extra events where it is above 1.
        keep = np.minimum(freq_mult, 1.0)
        counts = g("count").poisson(rate)
        loss, count = self._events("", counts, keep, susc_year, slp, loss_mults, n, susc_mult)
        extra_rate = rate * np.maximum(freq_mult - 1.0, 0.0)
        extra_counts = g("extra:count").poisson(extra_rate)
        if extra_counts.any():
            loss2, count2 = self._events("extra:", extra_counts, None, susc_year, slp, loss_mults, n, susc_mult)
            loss += loss2
            count += count2
        return loss, count

    def _events(
        self,
        prefix: str,
        counts: np.ndarray,
        keep_prob: np.ndarray | None,
        susc_year: np.ndarray | None,
        slp: np.ndarray | None,
        loss_mults: dict[tuple[str, str], np.ndarray | None],
        n: int,
        susc_mult: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Turn threat events (``counts`` per year) into the years' losses."""
        s, g = self.s, self.g
        total = int(counts.sum())
        year = np.repeat(np.arange(n, dtype=np.intp), counts)
        mask: np.ndarray | None = None  # threat events that become loss events

        if keep_prob is not None:
            mask = g(prefix + "thin:frequency").random(total) < keep_prob[year]
        if self.cap_vs_res is not None:
            b_cap = s.threat_capability.base_variates(total, g(prefix + "threat_capability"))  # type: ignore[union-attr]
            b_res = s.resistance_strength.base_variates(total, g(prefix + "resistance_strength"))  # type: ignore[union-attr]
            if mask is None:
                hit = self.cap_vs_res.hits(b_cap, b_res)
            else:
                hit = np.zeros(total, dtype=bool)
                hit[mask] = self.cap_vs_res.hits(b_cap[mask], b_res[mask])
            mask = hit
        elif susc_year is not None:
            u = g(prefix + "susceptibility_event").random(total)
            hit = u < susc_year[year]
            mask = hit if mask is None else mask & hit
        if susc_mult is not None:
            hit = g(prefix + "thin:susceptibility").random(total) < susc_mult[year]
            mask = hit if mask is None else mask & hit

        # Select the loss events once; every later selection is a gather of that size.
        idx = None if mask is None else np.flatnonzero(mask)
        loss_year = year if idx is None else year.take(idx)
        count = np.bincount(loss_year, minlength=n)
        loss = self._amounts(prefix, "primary_loss", self.primary, total, idx, loss_year, loss_mults)

        if slp is not None:
            # One Bernoulli uniform per threat event keeps the stream aligned.
            u = g(prefix + "secondary_event").random(total)
            if idx is not None:
                u = u.take(idx)
            sec = np.flatnonzero(u < slp.take(loss_year))
            sec_idx = sec if idx is None else idx.take(sec)
            sec_loss = self._amounts(prefix, "secondary_loss", self.secondary, total, sec_idx, loss_year.take(sec), loss_mults)
            loss[sec] += sec_loss
        year_loss = np.bincount(loss_year, weights=loss, minlength=n) if loss_year.size else np.zeros(n)
        return year_loss, count

    def _amounts(
        self,
        prefix: str,
        which: str,
        forms: list[tuple[str, Distribution]],
        total: int,
        idx: np.ndarray | None,
        years_of_selected: np.ndarray,
        loss_mults: dict[tuple[str, str], np.ndarray | None],
    ) -> np.ndarray:
        """Loss amounts of the selected events, drawn on streams aligned to all threat events."""
        out: np.ndarray | None = None
        for suffix, dist in forms:
            base = dist.base_variates(total, self.g(prefix + which + suffix))
            sel = base if idx is None else base.take(idx)
            if isinstance(dist, PosteriorDistribution):
                # Posterior parameters: each event uses its year's posterior draw.
                draw = self._posterior_index(dist, self._chunk_n).take(years_of_selected)
                x = dist.from_base_years(sel, draw)
            else:
                x = dist.from_base(sel)
            mult = loss_mults[(which, suffix)]
            if mult is not None:
                x *= mult.take(years_of_selected)
            out = x if out is None else out + x
        assert out is not None
        return out

    def _run_lef_x_lm(
        self, n: int, freq_uniforms: np.ndarray | None, extra_multiplier: np.ndarray | None
    ) -> np.ndarray:
        """Classic per-iteration LEF x LM (as pyfair): one draw of every factor per year.

        pyfair's ``FairModel``: LEF = TEF x vulnerability, where a vulnerability
        computed from threat capability vs control strength is the scalar mean of
        ``TCap > CS`` (``FairCalculations._calculate_step_average``), and loss
        magnitude = primary loss + secondary loss event frequency x magnitude.
        """
        s, g = self.s, self.g
        if s.annual_probability is not None:
            lef = s.annual_probability.from_uniform(freq_uniforms) if freq_uniforms is not None else s.annual_probability.sample(n, g("frequency"))
        else:
            lef = self._rate(n, freq_uniforms)
            if s.susceptibility is not None:
                lef = lef * s.susceptibility.sample(n, g("susceptibility"))
            elif s.threat_capability is not None:
                # As pyfair does: vulnerability is one number, P(capability > resistance),
                # the same in every iteration (pyfair estimates it from its draws; we
                # use the exact value, so the result does not depend on the run length).
                lef = lef * self._vulnerability
        for factor in ("frequency", "susceptibility"):
            m = self._multiplier(factor, n)
            if m is not None:
                lef = lef * m
        if extra_multiplier is not None:
            lef = lef * extra_multiplier
        mults = self._loss_mults(n)
        lm = np.zeros(n)
        for suffix, dist in self.primary:
            x = self._draw_per_year(dist, n, g("primary_loss" + suffix))
            if mults[("primary_loss", suffix)] is not None:
                x *= mults[("primary_loss", suffix)]
            lm += x
        if s.secondary_loss_probability is not None:
            slp = s.secondary_loss_probability.sample(n, g("secondary_loss_probability"))
            for suffix, dist in self.secondary:
                x = self._draw_per_year(dist, n, g("secondary_loss" + suffix))
                if mults[("secondary_loss", suffix)] is not None:
                    x *= mults[("secondary_loss", suffix)]
                lm += slp * x
        return lef * lm


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
    counts (4 bytes each) and the portfolio total; each of ``n_jobs`` threads
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


#: Supplies, for the years ``[start, stop)`` of one chunk, per-scenario frequency
#: uniforms (a copula's draws, used instead of the scenario's own frequency
#: draws) and per-scenario frequency multipliers (common shocks).
ChunkDriver = Callable[[int, int], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]


class FrequencyCoupling(ABC):
    """Dependence between scenarios' yearly frequencies, as :func:`simulate` consumes it.

    The extension point for dependence: :class:`riskbudget.Dependence` (a
    copula plus common shocks) implements it, and so can any other model of
    how scenarios move together. ``simulate`` calls :meth:`chunk_driver` once
    per run and then the driver once per chunk of years, in year order.
    """

    @abstractmethod
    def chunk_driver(self, register: Register, root: np.random.SeedSequence) -> ChunkDriver | None:
        """Check the coupling against ``register``; the driver for a run seeded by ``root`` (None: independent).

        Streams must be derived from ``root`` by name (:mod:`riskbudget._random`)
        and consumed in year order, so that the chunk size never changes a result.
        """


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
        default it is chosen so that a chunk holds about 2**18 threat events
        of the busiest scenario (between 1 and 131,072 years), which keeps
        the intermediate arrays to a few MB per thread up to about 2**18
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
    _check_memory(register, years, chunk_size=chunk_size, n_jobs=n_jobs, keep_counts=record_counts)

    n_sc = len(register)
    losses = np.empty((years, n_sc), order="F")
    counts = np.empty((years, n_sc), dtype=np.int32, order="F") if record_counts else None
    kernels = [_ScenarioKernel(s, root, method) for s in register]
    names = register.names

    starts = list(range(0, years, chunk_size))
    bar = _progress.bar(_progress.enabled(progress, years * n_sc), len(starts), f"simulate {n_sc} scenario(s)")

    def work(j: int, a: int, b: int, fu: np.ndarray | None, fm: np.ndarray | None) -> None:
        loss, count = kernels[j].run(b - a, fu, fm)
        losses[a:b, j] = loss
        if counts is not None and count is not None:
            if count.size and count.max() > np.iinfo(np.int32).max:  # pragma: no cover - absurd rates
                raise RiskBudgetError(f"Scenario {names[j]!r}: more than 2**31 loss events in a year")
            counts[a:b, j] = count

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

    return SimulationResult._from_arrays(
        losses, counts, register=register, years=years, seed=root, method=method
    )


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Simulated annual losses, one row per year and one column per scenario.

    Attributes
    ----------
    losses : pandas.DataFrame
        Annual loss per year (rows) and scenario (columns).
    annual_loss : pandas.Series
        The portfolio total per year: the year-by-year sum of ``losses``.
    counts : pandas.DataFrame or None
        Number of loss events per year and scenario (``method="aggregate"``).
    register : Register
        The scenarios simulated.
    years : int
    seed : int
        The root entropy; ``simulate(..., seed=result.seed)`` reproduces the run.
    method : str
    """

    losses: Any
    annual_loss: Any
    counts: Any
    register: Register
    years: int
    seed: int
    method: str
    spawn_key: tuple[int, ...] = field(default=())

    @classmethod
    def _from_arrays(
        cls,
        losses: np.ndarray,
        counts: np.ndarray | None,
        *,
        register: Register,
        years: int,
        seed: np.random.SeedSequence,
        method: str,
    ) -> SimulationResult:
        import pandas as pd

        columns = pd.Index(list(register.names), name="scenario")
        index = pd.RangeIndex(years, name="year")
        loss_df = pd.DataFrame(losses, index=index, columns=columns, copy=False)
        total = pd.Series(losses.sum(axis=1), index=index, name="Total")
        count_df = pd.DataFrame(counts, index=index, columns=columns, copy=False) if counts is not None else None
        entropy = seed.entropy
        return cls(
            losses=loss_df,
            annual_loss=total,
            counts=count_df,
            register=register,
            years=years,
            seed=int(entropy) if isinstance(entropy, (int, np.integer)) else entropy,  # type: ignore[arg-type]
            method=method,
            spawn_key=tuple(seed.spawn_key),
        )

    # ------------------------------------------------------------------ #
    @property
    def names(self) -> tuple[str, ...]:
        return self.register.names

    def column(self, scenario: str | None = None) -> np.ndarray:
        """Annual losses of one scenario, or of the portfolio total (``None`` or ``"Total"``)."""
        if scenario is None or scenario == "Total":
            return self.annual_loss.to_numpy()
        if scenario not in self.losses.columns:
            raise KeyError(f"no scenario named {scenario!r}; the result has {list(self.names)} and 'Total'")
        return self.losses[scenario].to_numpy()

    def summary(self, *, quantiles: Iterable[float] = (0.5, 0.9, 0.95, 0.99), q: float = 0.95) -> Any:
        """Metrics per scenario plus a ``Total`` row (the year-by-year sum).

        Columns: ``ale``, ``ale_se``, ``sd``, ``p_loss``, ``p50``, ``p90``,
        ``p95``, ``p99``, ``var95``, ``var95_se``, ``tvar95``, ``tvar95_se``,
        ``max``, and ``loss_events`` (mean loss events per year) when counts
        were kept. Raw numbers; format them only for display.
        """
        import pandas as pd

        from . import metrics

        rows = {}
        for name in list(self.names) + ["Total"]:
            x = self.column(name)
            row = metrics.describe(x, quantiles=quantiles, q=q)
            if self.counts is not None:
                row["loss_events"] = (
                    float(self.counts.to_numpy().sum(axis=1).mean()) if name == "Total" else float(self.counts[name].mean())
                )
            rows[name] = row
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "scenario"
        return out

    def ale(self, scenario: str | None = None) -> float:
        """Expected (mean) annual loss."""
        from . import metrics

        return metrics.ale(self.column(scenario))

    def ale_se(self, scenario: str | None = None) -> float:
        """Monte Carlo standard error of the ALE."""
        from . import metrics

        return metrics.ale_se(self.column(scenario))

    def var(self, q: float = 0.95, scenario: str | None = None) -> float:
        """Value at risk: the q-quantile of annual loss."""
        from . import metrics

        return metrics.var(self.column(scenario), q)

    def tvar(self, q: float = 0.95, scenario: str | None = None) -> float:
        """Tail value at risk: the mean annual loss at or above VaR_q."""
        from . import metrics

        return metrics.tvar(self.column(scenario), q)

    def exceedance(self, x: Any, scenario: str | None = None) -> Any:
        """P(annual loss > x), for a number or an array of thresholds."""
        from . import metrics

        return metrics.exceedance(self.column(scenario), x)

    def lec(self, losses: Any = None, *, scenario: str | None = None, points: int = 200) -> Any:
        """The loss exceedance curve as a DataFrame (see :func:`riskbudget.metrics.lec`)."""
        from . import metrics

        return metrics.lec(self.column(scenario), losses=losses, points=points)

    def select(self, names: Iterable[str]) -> SimulationResult:
        """The result restricted to some scenarios (total re-summed year by year)."""
        import pandas as pd

        names = list(names)
        for n in names:
            if n not in self.losses.columns:
                raise KeyError(f"no scenario named {n!r}; the result has {list(self.names)}")
        sub = self.losses[names]
        return SimulationResult(
            losses=sub,
            annual_loss=pd.Series(sub.to_numpy().sum(axis=1), index=sub.index, name="Total"),
            counts=None if self.counts is None else self.counts[names],
            register=self.register.select(names),
            years=self.years,
            seed=self.seed,
            method=self.method,
            spawn_key=self.spawn_key,
        )

    def __repr__(self) -> str:
        return (
            f"SimulationResult({len(self.names)} scenario(s), {self.years:,} years, seed={self.seed}, "
            f"method={self.method!r}, ALE={self.ale():,.0f})"
        )

