"""One scenario's simulation, chunk by chunk: the per-event engine behind :func:`~riskbudget.simulate`.

Quantities that belong to threat events (capability, resistance, losses) draw a
cheap base variate (a uniform or a normal) for *every* threat event and
transform only those they need. A control that stops some events therefore
leaves the draws of every other event unchanged: residual losses are inherent
losses with some events removed, year by year.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._random import Streams, posterior_stream_name
from ..distributions import Distribution, PosteriorDistribution
from ..exceptions import RiskBudgetError
from ..fair import LossForms, Scenario, SharedMultiplier

__all__ = ["ScenarioKernel"]


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


class ScenarioKernel:
    """Simulates one scenario chunk by chunk, in year order."""

    def __init__(
        self,
        scenario: Scenario,
        root: np.random.SeedSequence,
        method: str,
        event_recovery: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.s = scenario
        self.method = method
        #: Per-event insurance: the insurer's payment on each loss event's loss (None: uninsured per event).
        self.event_recovery = event_recovery
        #: The insurer's per-event payments per year of the last chunk (None without per-event insurance).
        self.recovered: np.ndarray | None = None
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
        self.recovered = np.zeros(n) if self.event_recovery is not None else None
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
        if self.event_recovery is not None and loss.size:
            # Per-event insurance: the insurer pays part of each event's loss; the year keeps the rest.
            paid = self.event_recovery(loss)
            loss -= paid
            self.recovered += np.bincount(loss_year, weights=paid, minlength=n)
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
