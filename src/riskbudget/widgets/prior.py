"""PriorExplorer: add or remove incidents and watch the posterior of the rate and the LEC update."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import ipywidgets as W
import numpy as np

from .. import metrics
from ..distributions import Distribution
from ..exceptions import RiskBudgetError
from ..fair import FREQUENCY_AND_SUSCEPTIBILITY_FIELDS, Scenario
from ..formatting import money, percent
from ..simulation import simulate
from ._common import (
    BEFORE,
    LIMIT,
    NOW,
    _Chart,
    _exceedance_on,
    _Explorer,
    _log_probability_axis,
    _metric_table,
    _money_log_axis,
    _nice_top,
    _positive_or_nan,
)

# --------------------------------------------------------------------------- #
# PriorExplorer
# --------------------------------------------------------------------------- #


def with_rate(scenario: Scenario, rate: Distribution) -> Scenario:
    """The scenario with its frequency replaced by a loss event rate (e.g. a Gamma posterior).

    Incidents count loss events, so the estimate replaces the whole frequency
    branch (threat event frequency and susceptibility). The incident history
    already reflects the controls in place, so adjustments on frequency and
    susceptibility are dropped (keeping them would count those controls twice);
    the loss estimates and adjustments on loss stay.
    """
    changes: dict[str, Any] = {f: None for f in FREQUENCY_AND_SUSCEPTIBILITY_FIELDS}
    changes["loss_event_frequency"] = rate
    changes["adjustments"] = tuple(a for a in scenario.adjustments if a.factor not in ("frequency", "susceptibility"))
    return replace(scenario, **changes)


def _history_counts(history: Any, category: str | None) -> tuple[list[int], list[int], list[float]]:
    """(years, events, exposure in years) from IncidentData, a mapping or a DataFrame."""
    if history is None:
        return [], [], []
    if hasattr(history, "periods") and hasattr(history, "filter"):  # IncidentData
        data = history.filter(category=category) if category is not None else history
        table = data.periods()
        return (
            [int(y) for y in table["year"]],
            [int(k) for k in table["events"]],
            [float(t) for t in table["exposure"]],
        )
    if isinstance(history, Mapping):
        years = sorted(int(y) for y in history)
        return years, [int(history[y]) for y in years], [1.0] * len(years)
    if hasattr(history, "columns") and {"year", "events"} <= set(history.columns):
        exposure = history["exposure"] if "exposure" in history.columns else [1.0] * len(history)
        return [int(y) for y in history["year"]], [int(k) for k in history["events"]], [float(t) for t in exposure]
    raise RiskBudgetError(
        "PriorExplorer: history must be IncidentData (riskbudget.bayes.read_incidents), a mapping "
        "{year: events} or a DataFrame with columns year, events (and exposure)"
    )


class PriorExplorer(_Explorer):
    """Add or remove incidents and watch the posterior of the rate and the LEC update.

    A benchmark gives the prior on the yearly rate of loss events, a
    ``Gamma`` worth a stated number of years of your own data
    (:func:`riskbudget.bayes.rate_prior`). Your incident history (events per
    year) updates it exactly (:func:`riskbudget.bayes.update_rate`:
    ``Gamma(a, b)`` becomes ``Gamma(a + k, b + t)``), so every change is
    instant. The scenario's loss per event is kept; its frequency becomes the
    uncertain rate, so the simulated years show the extra spread of an
    uncertain rate (a negative binomial count of events).

    Parameters
    ----------
    scenario : Scenario
        Supplies the loss per event (and any control adjustments).
    prior : Gamma, optional
        Prior on loss events per year. By default a benchmark ``rate`` worth
        ``effective_years``.
    rate : float, optional
        Benchmark rate of loss events per year (default: the scenario's
        expected loss event frequency).
    effective_years : float, default 2.0
        How many years of your own data the benchmark is worth.
    history : IncidentData, mapping or DataFrame, optional
        Incidents per calendar year: :class:`~riskbudget.bayes.IncidentData`
        (with ``category`` to pick the scenario's family), a mapping
        ``{year: events}``, or a DataFrame with ``year``, ``events`` and
        optionally ``exposure`` (years observed, for a partial year).
    category : str, optional
        The incident category that matches the scenario.
    years, seed : int
        Simulated years and seed of the LEC (common random numbers throughout).

    Attributes
    ----------
    counts : dict of int -> ipywidgets.BoundedIntText
        The number of incidents in each year (set ``.value`` to edit).
    benchmark_rate, effective_years : ipywidgets.FloatText
    add_button, remove_button : ipywidgets.Button
        Add or remove one incident in the year chosen in ``year_choice``.
    prior, posterior : Gamma
    values, shown : dict
        ``"Prior rate"``, ``"Posterior rate"`` (means, events a year),
        ``"Posterior 90% interval"``, ``"Events"``, ``"Years observed"``,
        ``"P(at least one next year)"``, ``"ALE (prior)"``, ``"ALE (posterior)"``,
        ``"VaR95 (posterior)"``, ``"TVaR95 (posterior)"``.
    """

    def __init__(
        self,
        scenario: Scenario,
        prior: Any = None,
        *,
        rate: float | None = None,
        effective_years: float = 2.0,
        history: Any = None,
        category: str | None = None,
        years: int = 20_000,
        seed: int = 7,
    ) -> None:
        super().__init__()
        from .. import bayes

        self._bayes = bayes
        if not isinstance(scenario, Scenario):
            raise RiskBudgetError(f"PriorExplorer: scenario must be a riskbudget.Scenario, not {type(scenario).__name__}")
        self.base_scenario = scenario
        self.years = int(years)
        self.seed = seed
        if prior is not None:
            rate, effective_years = prior.mean(), prior.rate
        elif rate is None:
            rate = scenario.expected_loss_event_frequency()
        self.benchmark_rate = W.FloatText(value=float(rate), description="Benchmark rate / year", continuous_update=False,
                                          style={"description_width": "150px"}, layout=W.Layout(width="280px"))
        self.effective_years = W.FloatText(value=float(effective_years), description="Worth (years of data)",
                                           continuous_update=False, style={"description_width": "150px"},
                                           layout=W.Layout(width="280px"))
        self.benchmark_rate.add_class("rb-benchmark-rate")
        self.effective_years.add_class("rb-effective-years")
        hist_years, events, exposure = _history_counts(history, category)
        if not hist_years:
            raise RiskBudgetError("PriorExplorer: the history has no years; give at least one year (with 0 events if none)")
        self.exposure = dict(zip(hist_years, exposure))
        self.counts: dict[int, W.BoundedIntText] = {}
        boxes = []
        for y, k in zip(hist_years, events):
            label = f"{y}" + ("" if abs(self.exposure[y] - 1.0) < 1e-9 else f" ({self.exposure[y]:.2g} yr)")
            box = W.BoundedIntText(value=k, min=0, max=10_000, description=label,
                                   style={"description_width": "90px"}, layout=W.Layout(width="170px"))
            box.add_class(f"rb-count-{y}")
            self.counts[y] = box
            boxes.append(box)
        self.year_choice = W.Dropdown(options=hist_years, value=hist_years[-1], description="Year",
                                      style={"description_width": "40px"}, layout=W.Layout(width="140px"))
        self.add_button = W.Button(description="Add incident", icon="plus", layout=W.Layout(width="140px"))
        self.remove_button = W.Button(description="Remove incident", icon="minus", layout=W.Layout(width="150px"))
        self.add_button.on_click(lambda _b: self._run(lambda: self.add_incident(self.year_choice.value)))
        self.remove_button.on_click(lambda _b: self._run(lambda: self.remove_incident(self.year_choice.value)))
        self.metrics = W.HTML()
        self.metrics.add_class("rb-prior-metrics")
        self.metrics.layout.margin = "0 0 0 24px"
        self.chart = _Chart(9.0, 3.3, ncols=2)
        history_box = W.VBox(
            [W.HTML("<b>Incidents per year</b>"), W.VBox(boxes),
             W.HBox([self.year_choice, self.add_button, self.remove_button])]
        )
        prior_box = W.VBox([W.HTML("<b>Industry prior</b>"), self.benchmark_rate, self.effective_years])
        self.widget = W.VBox(
            [
                W.HTML(f"<b>{html.escape(scenario.name)}</b>: loss per event as in the register, "
                       "frequency learned from the benchmark and your incidents"),
                W.HBox([W.VBox([prior_box, history_box]), self.metrics], layout=W.Layout(align_items="flex-start")),
                self.message,
                self.chart.image,
            ]
        )
        self.widget.add_class("rb-prior-explorer")
        for w in (self.benchmark_rate, self.effective_years):
            self._observe(w, self._prior_changed)
        for box in self.counts.values():
            self._observe(box, self.update)
        self._prior_key: tuple[float, float] | None = None
        self._run(self._prior_changed)
        if self._error is not None:
            raise RiskBudgetError(f"PriorExplorer: {self._error.split(' - ')[0]}")

    # -- the model --------------------------------------------------------- #
    def events(self) -> tuple[list[int], list[float]]:
        """Events and exposure (years) per year, as in the boxes."""
        ks, ts = [], []
        for y, box in self.counts.items():
            k = box.value
            if k is None or k < 0:
                raise RiskBudgetError(f"{y}: the number of incidents must be a whole number >= 0")
            ks.append(int(k))
            ts.append(self.exposure[y])
        return ks, ts

    def add_incident(self, year: int) -> None:
        """One more incident in ``year``."""
        self.counts[year].value = self.counts[year].value + 1

    def remove_incident(self, year: int) -> None:
        """One incident fewer in ``year`` (a message if there is none)."""
        if self.counts[year].value <= 0:
            raise RiskBudgetError(f"{year} has no incident to remove")
        self.counts[year].value = self.counts[year].value - 1

    def _make_prior(self) -> Any:
        rate, worth = float(self.benchmark_rate.value), float(self.effective_years.value)
        if not (math.isfinite(rate) and rate > 0):
            raise RiskBudgetError(f"The benchmark rate ({rate:g}) must be a positive number of events a year")
        if not (math.isfinite(worth) and worth > 0):
            raise RiskBudgetError(f"The prior must be worth a positive number of years, not {worth:g}")
        return self._bayes.rate_prior(rate=rate, effective_years=worth)

    def _prior_changed(self) -> None:
        prior = self._make_prior()
        key = (prior.shape, prior.rate)
        if key != self._prior_key:
            prior_result = simulate(with_rate(self.base_scenario, prior), years=self.years, seed=self.seed,
                                    progress=False, n_jobs=1)
            self._prior_key = key
            self.prior = prior
            self._prior_sorted = np.sort(prior_result.column())
            self._setup_axes()
        self.update()

    def update(self) -> None:
        """Apply the conjugate update to the incidents in the boxes and refresh the view."""
        prior = self._make_prior()
        if (prior.shape, prior.rate) != self._prior_key:
            self._prior_changed()
            return
        events, exposure = self.events()
        posterior = self._bayes.update_rate(self.prior, events=events, years=exposure)
        scenario = with_rate(self.base_scenario, posterior)
        result = simulate(scenario, years=self.years, seed=self.seed, progress=False, n_jobs=1)
        self.posterior, self.scenario, self.result = posterior, scenario, result
        self._render(events, exposure)

    def _render(self, events: list[int], exposure: list[float]) -> None:
        losses = self.result.column()
        post = self.posterior
        k, t = int(sum(events)), float(sum(exposure))
        low, high = post.interval(0.90)
        p_any = 1.0 - float(self._bayes.predictive_count(post, 1.0).pmf(0))
        per_event = self.base_scenario.expected_loss_per_event()
        values: dict[str, Any] = {
            "Prior rate": self.prior.mean(),
            "Events": k,
            "Years observed": t,
            "Observed rate": k / t if t > 0 else math.nan,
            "Posterior rate": post.mean(),
            "Posterior 90% interval": (float(low), float(high)),
            "P(at least one next year)": p_any,
            "ALE (prior)": metrics.ale(self._prior_sorted),
            "ALE (posterior)": metrics.ale(losses),
            "VaR95 (posterior)": metrics.var(losses, 0.95),
            "TVaR95 (posterior)": metrics.tvar(losses, 0.95),
            "Loss per event": per_event,
        }
        shown = {
            "Prior rate": f"{values['Prior rate']:.3g} / year",
            "Events": f"{k}",
            "Years observed": f"{t:.3g}",
            "Observed rate": "n/a" if t <= 0 else f"{k / t:.3g} / year",
            "Posterior rate": f"{post.mean():.3g} / year",
            "Posterior 90% interval": f"{low:.3g} to {high:.3g}",
            "P(at least one next year)": percent(p_any),
            "ALE (prior)": money(values["ALE (prior)"]),
            "ALE (posterior)": money(values["ALE (posterior)"]),
            "VaR95 (posterior)": money(values["VaR95 (posterior)"]),
            "TVaR95 (posterior)": money(values["TVaR95 (posterior)"]),
            "Loss per event": money(per_event),
        }
        self._values, self._shown = values, shown
        self.metrics.value = _metric_table([(key, key, shown[key]) for key in shown]) + (
            f"<div style='color:#777;font-size:90%;margin-top:4px'>Gamma({post.shape:.3g}, {post.rate:.3g}) posterior; "
            f"{html.escape(self.loss_note())}; {self.years:,} simulated years, seed {self.seed}</div>"
        )
        self._draw(np.sort(losses))

    def loss_note(self) -> str:
        """What bounds the loss per event: a posterior severity's cap, or none needed for the scenario's estimate.

        The explorer learns the rate only; the loss per event is the scenario's own. A posterior severity
        (:func:`riskbudget.bayes.to_scenario`, :func:`~riskbudget.bayes.conjugate_scenario`) carries its cap
        per event, set where it was built; a register's estimate has a finite mean and no cap.
        """
        losses: list[Any] = []
        for d in (self.base_scenario.primary_loss, self.base_scenario.secondary_loss):
            losses.extend(d.values() if isinstance(d, Mapping) else [d])  # a LossForms holds one per form
        caps = [d.cap for d in losses if isinstance(d, self._bayes.PosteriorLoss)]
        if caps:
            return "losses capped at " + ", ".join(c.describe() for c in caps)
        return "loss per event as in the scenario (not a posterior: no cap)"

    # -- charts ------------------------------------------------------------- #
    def _setup_axes(self) -> None:
        dens, lec = self.chart.axes
        base = self._prior_sorted
        positive = base[base > 0]
        lo = float(np.quantile(positive, 0.001)) if positive.size else 1e3
        hi = float(positive.max()) if positive.size else 1e6
        self._range = (max(lo / 2.0, 1.0), max(hi * 4.0, lo * 100.0))
        self._rate_base = _nice_top(float(self.prior.ppf(0.999)) * 1.5)
        self._rate_max = self._rate_base
        self.chart.reset(dens)
        dens.set_title("Loss events per year: prior and posterior", fontsize=10)
        dens.set_xlabel("rate (events a year)")
        dens.set_yticks([])
        dens.grid(True, alpha=0.3)
        r = np.linspace(0.0, self._rate_max, 300)
        (self._dens_prior,) = dens.plot(r, self.prior.to_scipy().pdf(r), color=BEFORE, lw=1.5, ls="--", label="prior")
        (self._dens_post,) = dens.plot(r, self.prior.to_scipy().pdf(r), color=NOW, lw=2, label="posterior")
        self._observed = dens.axvline(0.0, color=LIMIT, lw=1, ls=":", label="observed rate")
        dens.legend(fontsize=8, frameon=False, loc="upper right")
        self.chart.reset(lec)
        lec.set_xscale("log")
        _money_log_axis(lec)
        _log_probability_axis(lec, self.years)
        lec.grid(True, alpha=0.3)
        lec.set_title("Loss exceedance curve", fontsize=10)
        lec.set_ylabel("P(annual loss > x)")
        grid = np.geomspace(*self._range, 200)
        prior_lec = _positive_or_nan(_exceedance_on(base, grid))
        (self._lec_prior,) = lec.plot(grid, prior_lec, color=BEFORE, lw=1.5, ls="--", label="prior")
        (self._lec_post,) = lec.plot(grid, prior_lec, color=NOW, lw=2, label="posterior")
        lec.legend(fontsize=8, frameon=False, loc="lower left")
        lec.set_xlim(*self._range)
        self.chart.animate(self._dens_prior, self._dens_post, self._observed, self._lec_prior, self._lec_post)

    def _draw(self, post_sorted: np.ndarray) -> None:
        dens, lec = self.chart.axes
        self._rate_max = max(self._rate_base, _nice_top(float(self.posterior.ppf(0.999)) * 1.2))
        r = np.linspace(0.0, self._rate_max, 300)
        prior_pdf = self.prior.to_scipy().pdf(r)
        post_pdf = self.posterior.to_scipy().pdf(r)
        self._dens_prior.set_data(r, prior_pdf)
        self._dens_post.set_data(r, post_pdf)
        observed = self._values["Observed rate"]
        self._observed.set_xdata([observed, observed] if math.isfinite(observed) else [np.nan, np.nan])
        finite = np.concatenate([prior_pdf[np.isfinite(prior_pdf)], post_pdf[np.isfinite(post_pdf)]])
        top = float(finite.max()) if finite.size else 1.0
        self.chart.set_limits(dens, x=(0.0, self._rate_max), y=(0.0, _nice_top(1.08 * top)))
        grid = np.asarray(self._lec_post.get_xdata(), dtype=float)
        self._lec_post.set_ydata(_positive_or_nan(_exceedance_on(post_sorted, grid)))
        self.chart.refresh()
