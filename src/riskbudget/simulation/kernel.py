"""One scenario's simulation, chunk by chunk: the per-event engine behind :func:`~riskbudget.simulate`.

Which threat events can become loss events is the scenario's own affair: its
susceptibility, or capability against resistance (``P(TCap > RS)``, as each
event draws its own capability and resistance), which no control or project
changes. One uniform per threat event decides it. Every later quantity (the
thinning by controls and projects, the losses) draws a cheap base variate (a
uniform or a normal) for *every* such candidate event, on its own stream, and
transforms only those it needs. A control that stops some events therefore
leaves the draws of every other event unchanged: residual losses are inherent
losses with some events removed, year by year.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._random import Streams, key, posterior_stream_name
from ..distributions import Distribution, PosteriorDistribution
from ..exceptions import RiskBudgetError
from ..fair import LossForms, Scenario, SharedMultiplier

__all__ = ["ScenarioKernel", "VariantKernel", "yearly_rates", "posterior_draw_index"]


def posterior_draw_index(dist: Any, n: int, streams: Streams) -> np.ndarray:
    """Each of ``n`` years' posterior draw of ``dist``, from the run-level stream of its ``posterior_key`` (not the
    scenario's): the frequency and the losses of a scenario, and every scenario built from the same posterior, use
    the same draw in a given year."""
    return dist.draw_index(n, streams.shared(posterior_stream_name(dist.posterior_key), "index"))


def yearly_rates(
    scenario: Scenario,
    n: int,
    streams: Streams,
    *,
    uniforms: np.ndarray | None = None,
    posterior_index: Callable[[PosteriorDistribution], np.ndarray] | None = None,
) -> np.ndarray:
    """The scenario's event rate in each of ``n`` years, from its own streams.

    Its frequency estimate's draw for each year (from ``uniforms`` when a
    dependence gives them; a posterior's draw for each year, picked by
    ``posterior_index``), times the probability of action's for a contact
    frequency. The engine, the variant kernel of the optimiser and value of
    information all draw the rates here, so they draw the same ones.
    """
    kind = scenario.frequency_kind
    dist = getattr(scenario, kind)
    if uniforms is not None:
        rate = dist.from_uniform(uniforms)
    elif isinstance(dist, PosteriorDistribution):
        if posterior_index is None:
            raise RiskBudgetError(
                f"Scenario {scenario.name!r}: its {kind} holds posterior draws, and this caller has no draw index "
                "for them"
            )
        rate = dist.sample_years(posterior_index(dist), streams("frequency"))
    else:
        rate = dist.sample(n, streams("frequency"))
    if kind == "contact_frequency":
        rate = rate * scenario.probability_of_action.sample(n, streams("probability_of_action"))  # type: ignore[union-attr]
    return rate


def _static_susceptibility(scenario: Scenario) -> float | None:
    """P(TCap > RS) (strictly) of a scenario with capability and resistance (None otherwise).

    Each threat event draws its own capability and its own resistance, and
    nothing else uses either value, so whether an event becomes a loss event
    is a Bernoulli trial with this probability, independent of every other
    event: deciding it with one uniform against ``P(TCap > RS)`` is the same
    model, in distribution, as drawing both values and comparing them (and
    costs one uniform instead of two uniforms and two inverse CDFs). The
    probability is :meth:`Scenario.expected_susceptibility`'s quadrature
    (relative error 1e-12), cached per pair of estimates there.
    """
    return None if scenario.threat_capability is None else scenario.expected_susceptibility()


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
        #: P(TCap > RS), the chance a threat event becomes a loss event, with capability and resistance (else None).
        self.p_capability_wins = _static_susceptibility(scenario)
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
        # Posterior parameters (riskbudget.bayes): each year's draw, shared with the losses.
        return yearly_rates(self.s, n, self.g, uniforms=freq_uniforms,
                            posterior_index=lambda dist: self._posterior_index(dist, n))

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
            index = posterior_draw_index(dist, n, self.g)
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
        """Turn threat events (``counts`` per year) into the years' losses.

        One uniform per threat event decides whether it can become a loss
        event (its susceptibility, or P(TCap > RS)); every later draw is one
        per such candidate event: the thinning of ``keep_prob`` (frequency
        multipliers below 1) and ``susc_mult`` (susceptibility multipliers),
        then the losses of those that pass.
        """
        g = self.g
        year = np.repeat(np.arange(n, dtype=np.intp), counts)
        if self.p_capability_wins is not None:
            year = year[g(prefix + "susceptibility_event").random(year.size) < self.p_capability_wins]
        elif susc_year is not None:
            year = year[g(prefix + "susceptibility_event").random(year.size) < susc_year.take(year)]
        total = year.size  # candidate events: every per-event stream below draws one value for each
        mask: np.ndarray | None = None  # candidates that become loss events
        if keep_prob is not None:
            mask = g(prefix + "thin:frequency").random(total) < keep_prob.take(year)
        if susc_mult is not None:
            hit = g(prefix + "thin:susceptibility").random(total) < susc_mult.take(year)
            mask = hit if mask is None else np.logical_and(mask, hit, out=mask)

        # Select the loss events once; every later selection is a gather of that size.
        idx = None if mask is None else np.flatnonzero(mask)
        loss_year = year if idx is None else year.take(idx)
        count = np.bincount(loss_year, minlength=n)
        loss = self._amounts(prefix, "primary_loss", self.primary, total, idx, loss_year, loss_mults)

        if slp is not None:
            # One Bernoulli uniform per candidate event keeps the stream aligned.
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
            assert self.recovered is not None  # set by run() whenever event_recovery is
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
        """Loss amounts of the selected events, drawn on streams aligned to all candidate events."""
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
                lef = lef * self.p_capability_wins  # type: ignore[operator]
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


# --------------------------------------------------------------------------- #
# Many variants of one scenario: the fast path behind the optimiser's precompute
# --------------------------------------------------------------------------- #
class _EventDraws:
    """Per-event draws of one prefix ("" or "extra:") of a scenario, drawn once and grown on demand.

    Every stream is consumed in order, so the first ``k`` values of a longer
    draw are the values a run with ``k`` events draws. Transforms
    (``from_base``) act value by value, so they are computed once per event,
    when an event first needs them.
    """

    def __init__(self, root: np.random.SeedSequence, scenario_name: str, prefix: str) -> None:
        self.g = Streams(root, scenario_name)
        self.prefix = prefix
        self._values: dict[str, np.ndarray] = {}
        self._transformed: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _grow(self, name: str, total: int, draw: Any) -> np.ndarray:
        have = self._values.get(name)
        if have is not None and have.size >= total:
            return have
        size = 0 if have is None else have.size
        more = draw(max(total - size, size, 1024), self.g(self.prefix + name))
        out = more if have is None else np.concatenate([have, more])
        self._values[name] = out
        return out

    def uniforms(self, name: str, total: int) -> np.ndarray:
        return self._grow(name, total, lambda k, rng: rng.random(k))

    def base(self, name: str, dist: Distribution, total: int) -> np.ndarray:
        return self._grow(name, total, dist.base_variates)

    def transformed(self, name: str, dist: Distribution, idx: np.ndarray, total: int) -> np.ndarray:
        """``dist.from_base`` of the base variates of events ``idx`` (a new array)."""
        base = self.base(name, dist, total)
        have = self._transformed.get(name)
        if have is None or have[0].size < base.size:
            values = np.zeros(base.size)
            done = np.zeros(base.size, dtype=bool)
            if have is not None:
                values[: have[0].size] = have[0]
                done[: have[1].size] = have[1]
            have = self._transformed[name] = (values, done)
        values, done = have
        missing = idx[~done[idx]]
        if missing.size:
            values[missing] = dist.from_base(base.take(missing))
            done[missing] = True
        return values.take(idx)


class _Layout:
    """Candidate events of one variant whose number depends on its frequency multipliers."""

    __slots__ = ("years", "thinning")

    def __init__(self, years: np.ndarray) -> None:
        self.years = years  # the year of each candidate event (those that pass capability/susceptibility)
        self.thinning: np.ndarray | None = None  # susceptibility-thinning uniforms of the candidates

    @property
    def total(self) -> int:
        """Candidate events: the positions each per-candidate stream uses."""
        return int(self.years.size)

    @property
    def nbytes(self) -> int:
        return int(self.years.nbytes * 2)


class VariantKernel:
    """One scenario under many sets of adjustments, on one seed, its threat events drawn once.

    :meth:`losses` returns, bit for bit, the annual losses
    ``simulate(scenario.with_adjustments(*adjustments), years=years, seed=root)``
    gives (method ``"aggregate"``, no dependence), but it draws the scenario's
    rates, counts, which threat events can become loss events (candidates),
    and every candidate's thinning uniforms and loss amounts once and reuses
    them for every variant: only
    the per-year multipliers, the masks that select loss events and the
    yearly sums are computed per variant. The optimiser's precompute calls it
    for every combination of the controls and projects touching a scenario.

    The variants share common random numbers exactly as separate runs do:
    frequency multipliers below 1 thin the same candidate events (the same
    uniforms), susceptibility multipliers thin them too, loss multipliers
    scale the same amounts, and the extra events of a frequency raised above
    1 come from the scenario's ``extra:`` streams, their count drawn per
    variant from the start of the ``extra:count`` stream as a run does.

    Parameters
    ----------
    scenario : Scenario
        The scenario; its own adjustments come first in every variant.
    root : numpy.random.SeedSequence
        The run's root sequence.
    years : int
        Simulated years (one chunk: the memory of all the scenario's threat
        events, about ``BYTES_PER_EVENT`` each, is the caller's to check).

    Notes
    -----
    :meth:`supports` says whether a scenario can take this path (no
    distribution holding posterior draws), and :meth:`losses` returns None
    for a variant two of whose adjustments draw from one stream; simulate
    those with ``simulate``.
    """

    def __init__(self, scenario: Scenario, root: np.random.SeedSequence, years: int) -> None:
        if not self.supports(scenario):
            raise RiskBudgetError(f"Scenario {scenario.name!r}: posterior distributions need simulate() per variant")
        s = self.s = scenario
        self.n = n = int(years)
        self.root = root
        g = Streams(root, s.name)
        self.primary = _forms(s.primary_loss)  # type: ignore[arg-type]
        self.secondary = _forms(s.secondary_loss) if s.secondary_loss is not None else []
        self.p_capability_wins = _static_susceptibility(s)
        self.slp = (
            s.secondary_loss_probability.sample(n, g("secondary_loss_probability"))
            if s.secondary_loss_probability is not None
            else None
        )
        self.events = _EventDraws(root, s.name, "")
        self.extra = _EventDraws(root, s.name, "extra:")
        self._extra_seq = np.random.SeedSequence(
            root.entropy, spawn_key=tuple(root.spawn_key) + key("scenario:" + s.name) + key("extra:count")
        )
        self._mults: dict[int, tuple[Any, np.ndarray]] = {}
        self._layouts: OrderedDict[tuple[int, ...], _Layout] = OrderedDict()
        self._layout_bytes = 0
        self.annual = s.annual_probability is not None
        if self.annual:
            self.p = s.annual_probability.sample(n, g("frequency"))  # type: ignore[union-attr]
            self.u_count = g("count").random(n)
            self.susc_year = None
            return
        self.rate = yearly_rates(s, n, g)  # no posterior draws here (supports())
        self.susc_year = s.susceptibility.sample(n, g("susceptibility")) if s.susceptibility is not None else None
        counts = g("count").poisson(self.rate)
        self.threat_total = int(counts.sum())
        # Events that no variant can turn into loss events are dropped once: those whose
        # capability does not beat resistance, or whose susceptibility draw fails. Every
        # later stream draws one value per remaining (candidate) event.
        self.candidate_year = self._candidates(self.events, counts, self.susc_year)
        self.total = int(self.candidate_year.size)
        self._thin: dict[str, np.ndarray] = {}

    @staticmethod
    def supports(scenario: Scenario) -> bool:
        """True unless a distribution of the scenario holds posterior draws."""
        fields = (
            "threat_event_frequency", "contact_frequency", "probability_of_action", "loss_event_frequency",
            "annual_probability", "susceptibility", "threat_capability", "resistance_strength",
            "secondary_loss_probability",
        )
        dists = [getattr(scenario, f) for f in fields]
        dists += [d for _, d in _forms(scenario.primary_loss)]  # type: ignore[arg-type]
        if scenario.secondary_loss is not None:
            dists += [d for _, d in _forms(scenario.secondary_loss)]
        return not any(isinstance(d, PosteriorDistribution) for d in dists)

    @property
    def threat_events(self) -> int:
        """Threat events of the scenario drawn once for every variant (0 for an annual probability)."""
        return 0 if self.annual else self.threat_total

    # -- per-year multipliers -------------------------------------------- #
    def multiplier(self, adj: Any) -> np.ndarray:
        """The yearly multiplier of one adjustment, drawn as a run draws it (cached)."""
        hit = self._mults.get(id(adj))
        if hit is not None:
            return hit[1]
        g = Streams(self.root, self.s.name)
        m = adj.multiplier
        rng = g.shared(m.shared_stream, adj.factor) if isinstance(m, SharedMultiplier) else g(f"adjust:{adj.source}:{adj.factor}")
        values = m.sample(self.n, rng)
        self._mults[id(adj)] = (adj, values)
        return values

    @staticmethod
    def _stream_key(adj: Any) -> tuple[str, str, str]:
        m = adj.multiplier
        if isinstance(m, SharedMultiplier):
            return ("shared", m.shared_stream, adj.factor)
        return ("own", adj.source, adj.factor)

    def _loss_mults(self, products: dict[str, np.ndarray]) -> dict[tuple[str, str], np.ndarray | None]:
        """Per (primary/secondary, form): the product of the "loss", the loss's and the form's multipliers."""
        mults: dict[tuple[str, str], np.ndarray | None] = {}
        for which, forms in (("primary_loss", self.primary), ("secondary_loss", self.secondary)):
            for suffix, _ in forms:
                factors = ["loss", which, which + suffix] if suffix else ["loss", which]
                out: np.ndarray | None = None
                for factor in factors:
                    m = products.get(factor)
                    if m is not None:
                        out = m if out is None else out * m
                mults[(which, suffix)] = out
        return mults

    def _with(
        self, products: dict[str, np.ndarray], keys: frozenset[tuple[str, str, str]], freq: tuple[int, ...],
        adjs: Any,
    ) -> tuple[dict[str, np.ndarray], frozenset[tuple[str, str, str]], tuple[int, ...], bool]:
        """Products per factor after ``adjs`` (each factor's multipliers multiplied in order, as a run does)."""
        if not adjs:
            return products, keys, freq, True
        products = dict(products)
        new_keys = set(keys)
        ok = True
        for adj in adjs:
            key = self._stream_key(adj)
            ok = ok and key not in new_keys
            new_keys.add(key)
            m = self.multiplier(adj)
            prev = products.get(adj.factor)
            products[adj.factor] = m if prev is None else prev * m
            if adj.factor == "frequency":
                freq = (*freq, id(adj))
        return products, frozenset(new_keys), freq, ok

    # -- variants --------------------------------------------------------- #
    def losses(self, adjustments: Any = ()) -> np.ndarray | None:
        """Annual losses with ``adjustments`` added to the scenario's own (bit for bit as ``simulate``).

        None when two adjustments draw from one stream (a run then reads it
        twice in a row; simulate that variant on its own). Pass the same
        Adjustment objects for the same effects: their yearly multipliers are
        kept, keyed by the object.
        """
        products, keys, freq, ok = self._with({}, frozenset(), (), list(self.s.adjustments) + list(adjustments))
        return self._evaluate(products, freq) if ok else None

    def variants(self, options: Any) -> Iterator[tuple[int, np.ndarray | None]]:
        """Losses of every combination of ``options``, sharing the work common to combinations.

        ``options[k][s]`` holds the adjustments decision ``k`` adds in state
        ``s``. Yields ``(index, losses)`` for every combination, the index
        mixed-radix in the states (decision 0 fastest); ``losses`` is what
        :meth:`losses` gives for the adjustments of that combination (decision
        0's first), so each factor's running product is computed once per
        prefix of decisions rather than once per combination.
        """
        radix = [len(o) for o in options]
        strides = [int(np.prod(radix[:k])) for k in range(len(radix))]
        root = self._with({}, frozenset(), (), list(self.s.adjustments))

        def visit(k: int, index: int, state: tuple[Any, ...]) -> Iterator[tuple[int, np.ndarray | None]]:
            if k == len(options):
                products, _keys, freq, ok = state
                yield index, (self._evaluate(products, freq) if ok else None)
                return
            for s, adjs in enumerate(options[k]):
                products, keys, freq, ok = state
                nxt = self._with(products, keys, freq, adjs)
                yield from visit(k + 1, index + s * strides[k], (*nxt[:3], ok and nxt[3]))

        yield from visit(0, 0, root)

    def _evaluate(self, products: dict[str, np.ndarray], freq: tuple[int, ...]) -> np.ndarray:
        """Annual losses of the variant whose multipliers per factor are ``products``."""
        freq_mult = products.get("frequency")
        loss_mults = self._loss_mults(products)
        # Variants with the same frequency multipliers have the same events: their layout is kept.
        if self.annual:
            layout = self._layouts.get(freq)
            if layout is None:
                p = self.p if freq_mult is None else self.p * freq_mult
                counts = (self.u_count < p).astype(np.int64)
                layout = self._keep_layout(freq, self._layout(self.events, counts, None))
            return self._variable_events(self.events, layout, None, loss_mults)
        susc_mult = products.get("susceptibility")
        keep = None if freq_mult is None else np.minimum(freq_mult, 1.0)
        loss = self._fixed_events(keep, susc_mult, loss_mults)
        if freq_mult is None:
            return loss
        layout = self._layouts.get(freq)
        if layout is None:
            extra_rate = self.rate * np.maximum(freq_mult - 1.0, 0.0)
            if extra_rate.any():  # (a Poisson draw at rate 0 consumes nothing and gives 0)
                extra_counts = np.random.Generator(np.random.PCG64(self._extra_seq)).poisson(extra_rate)
                layout = self._layout(self.extra, extra_counts, self.susc_year)
            else:
                layout = _Layout(np.zeros(0, dtype=np.intp))
            self._keep_layout(freq, layout)
        if layout.total:
            loss += self._variable_events(self.extra, layout, susc_mult, loss_mults)
        return loss

    #: Bytes of event layouts kept per scenario (variants with the same frequency multipliers share one).
    LAYOUT_BYTES = 64 << 20

    def _keep_layout(self, key: tuple[int, ...], layout: _Layout) -> _Layout:
        self._layouts[key] = layout
        self._layout_bytes += layout.nbytes
        while self._layout_bytes > self.LAYOUT_BYTES and len(self._layouts) > 1:
            _, old = self._layouts.popitem(last=False)
            self._layout_bytes -= old.nbytes
        return layout

    def _candidates(self, draws: _EventDraws, counts: np.ndarray, susc_year: np.ndarray | None) -> np.ndarray:
        """The years of the threat events (``counts`` per year) that can become loss events, as a run picks them."""
        year = np.repeat(np.arange(self.n, dtype=np.intp), counts)
        if self.p_capability_wins is not None:
            return year[draws.uniforms("susceptibility_event", year.size)[: year.size] < self.p_capability_wins]
        if susc_year is not None:
            return year[draws.uniforms("susceptibility_event", year.size)[: year.size] < susc_year.take(year)]
        return year

    def _layout(self, draws: _EventDraws, counts: np.ndarray, susc_year: np.ndarray | None) -> _Layout:
        """Events of a variable count (annual probability; extra events) that can become loss events."""
        return _Layout(self._candidates(draws, counts, susc_year))

    def _fixed_events(
        self, keep: np.ndarray | None, susc_mult: np.ndarray | None, loss_mults: dict[tuple[str, str], np.ndarray | None]
    ) -> np.ndarray:
        """The base threat events (the same for every variant), thinned and priced for one variant."""
        idx, years = self._all_candidates(self.total), self.candidate_year
        mask: np.ndarray | None = None
        if keep is not None:
            mask = self._thinning("thin:frequency") < keep.take(years)
        if susc_mult is not None:
            hit = self._thinning("thin:susceptibility") < susc_mult.take(years)
            mask = hit if mask is None else mask & hit
        if mask is not None:
            pos = np.flatnonzero(mask)
            idx, years = idx.take(pos), years.take(pos)
        return self._priced(self.events, idx, years, self.total, loss_mults)

    def _thinning(self, name: str) -> np.ndarray:
        """A thinning uniform for each candidate event (cached)."""
        u = self._thin.get(name)
        if u is None:
            u = self._thin[name] = self.events.uniforms(name, self.total)[: self.total]
        return u

    @staticmethod
    def _all_candidates(total: int) -> np.ndarray:
        return np.arange(total, dtype=np.intp)

    def _variable_events(
        self,
        draws: _EventDraws,
        layout: _Layout,
        susc_mult: np.ndarray | None,
        loss_mults: dict[tuple[str, str], np.ndarray | None],
    ) -> np.ndarray:
        """Events whose number depends on the variant (annual probability; extra events): the k-th draws of each stream."""
        idx, years = self._all_candidates(layout.total), layout.years
        if susc_mult is not None:
            thin = layout.thinning
            if thin is None:
                thin = layout.thinning = draws.uniforms("thin:susceptibility", layout.total)[: layout.total]
            pos = np.flatnonzero(thin < susc_mult.take(years))
            idx, years = idx.take(pos), years.take(pos)
        return self._priced(draws, idx, years, layout.total, loss_mults)

    def _priced(
        self,
        draws: _EventDraws,
        idx: np.ndarray,
        loss_year: np.ndarray,
        total: int,
        loss_mults: dict[tuple[str, str], np.ndarray | None],
    ) -> np.ndarray:
        """Yearly sums of the loss events ``idx`` (their years ``loss_year``), as ScenarioKernel._events adds them."""
        loss = self._amounts(draws, "primary_loss", self.primary, idx, loss_year, total, loss_mults)
        if self.slp is not None:
            u = draws.uniforms("secondary_event", total).take(idx)
            sec = np.flatnonzero(u < self.slp.take(loss_year))
            sec_loss = self._amounts(draws, "secondary_loss", self.secondary, idx.take(sec), loss_year.take(sec), total, loss_mults)
            loss[sec] += sec_loss
        return np.bincount(loss_year, weights=loss, minlength=self.n) if loss_year.size else np.zeros(self.n)

    def _amounts(
        self,
        draws: _EventDraws,
        which: str,
        forms: list[tuple[str, Distribution]],
        idx: np.ndarray,
        years: np.ndarray,
        total: int,
        loss_mults: dict[tuple[str, str], np.ndarray | None],
    ) -> np.ndarray:
        out: np.ndarray | None = None
        for suffix, dist in forms:
            x = draws.transformed(which + suffix, dist, idx, total)
            mult = loss_mults[(which, suffix)]
            if mult is not None:
                x *= mult.take(years)
            out = x if out is None else out + x
        assert out is not None
        return out
