"""ScenarioExplorer: edit one scenario's calibrated estimates and watch its distribution and LEC move."""

from __future__ import annotations

import html
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

import ipywidgets as W
import numpy as np

from .. import metrics
from ..distributions import Constant, Distribution, LogNormal
from ..exceptions import RiskBudgetError
from ..fair import LossForms, Register, Scenario, as_register
from ..formatting import money, percent
from ..simulation import simulate
from ._common import (
    BEFORE,
    NOW,
    _Chart,
    _exceedance_on,
    _Explorer,
    _log_probability_axis,
    _money_log_axis,
    _nice_top,
    _percent_axis,
    _positive_or_nan,
)

# --------------------------------------------------------------------------- #
# ScenarioExplorer
# --------------------------------------------------------------------------- #
_FACTOR_LABELS = {
    "threat_event_frequency": "Threat event frequency (per year)",
    "contact_frequency": "Contact frequency (per year)",
    "probability_of_action": "Probability of action",
    "loss_event_frequency": "Loss event frequency (per year)",
    "annual_probability": "Annual probability of a loss event",
    "susceptibility": "Susceptibility",
    "threat_capability": "Threat capability (percentile)",
    "resistance_strength": "Resistance strength (percentile)",
    "primary_loss": "Primary loss per event",
    "secondary_loss_probability": "Share of loss events with secondary loss",
    "secondary_loss": "Secondary loss per event",
}
_ESTIMATE_FIELDS = tuple(_FACTOR_LABELS)


def _estimate_parameters(dist: Distribution) -> dict[str, float]:
    """The numbers a person edits for an estimate (a 90% interval for a lognormal)."""
    if isinstance(dist, LogNormal):
        low, high = dist.ci[:2] if dist.ci is not None and dist.ci[2] == 0.90 else dist.interval(0.90)
        return {"low": float(low), "high": float(high)}
    if isinstance(dist, Constant):
        return {"value": float(dist.value)}
    return {
        f.name: float(getattr(dist, f.name))
        for f in fields(dist)  # type: ignore[arg-type]
        if f.init and f.name not in ("lam", "ci")
    }


_PARAMETER_LABELS = {"low": "low (5%)", "high": "high (95%)", "mode": "most likely", "value": "value"}


def _rebuild(dist: Distribution, params: Mapping[str, float]) -> Distribution:
    if isinstance(dist, LogNormal):
        return LogNormal.from_ci(params["low"], params["high"])
    if isinstance(dist, Constant):
        return Constant(params["value"])
    return replace(dist, **params)  # type: ignore[type-var]


class ScenarioExplorer(_Explorer):
    """Edit one scenario's calibrated estimates and watch its distribution and LEC move.

    Every estimate of the scenario (frequency, susceptibility or capability vs
    resistance, primary and secondary loss, each form of loss) gets a row of
    number boxes: low / most likely / high for PERT, the 90% interval for a
    lognormal, the value for a constant. Each change re-simulates the scenario
    with the same seed, so the difference from the estimates as loaded is the
    effect of the edit, not Monte Carlo noise.

    Parameters
    ----------
    scenarios : Scenario, Register or list of Scenario
        The scenario to explore, or a register to choose one from.
    scenario : str, optional
        Name of the scenario to start with (default: the first).
    years : int, default 20_000
        Simulated years per update.
    seed : int, default 7
        Seed of every simulation (common random numbers across edits).

    Attributes
    ----------
    estimates : dict
        ``estimates[factor][parameter]`` is the number box of one parameter,
        e.g. ``estimates["primary_loss"]["high"]`` or
        ``estimates["primary_loss.response"]["mode"]`` for a form of loss.
    scenario : Scenario
        The scenario with the current (valid) estimates.
    baseline : Scenario
        The scenario as loaded.
    result, baseline_result : SimulationResult
    values, shown : dict
        Raw and displayed metrics (``"ALE"``, ``"VaR95"``, ``"TVaR95"``,
        ``"P(loss > 0)"``, ``"Loss events / year"``, ``"Loss per event"``) and
        the same for the baseline with the prefix ``"as loaded: "``.
    """

    METRICS = ("ALE", "VaR95", "TVaR95", "P(loss > 0)", "Loss events / year", "Loss per event")

    def __init__(
        self,
        scenarios: Scenario | Register | Any,
        scenario: str | None = None,
        *,
        years: int = 20_000,
        seed: int = 7,
    ) -> None:
        super().__init__()
        self.register = as_register(scenarios)
        self.years = int(years)
        self.seed = seed
        names = list(self.register.names)
        start = names[0] if scenario is None else scenario
        if start not in self.register:
            raise RiskBudgetError(f"ScenarioExplorer: no scenario named {start!r}; the register has {names}")

        self.choice = W.Dropdown(options=names, value=start, description="Scenario", layout=W.Layout(width="520px"))
        self.choice.style.description_width = "80px"
        self.reset_button = W.Button(description="Reset estimates", icon="undo", layout=W.Layout(width="160px"))
        self.reset_button.on_click(lambda _b: self._run(self.reset))
        self.editor = W.VBox()
        self.metrics = W.HTML()
        self.metrics.add_class("rb-scenario-metrics")
        self.metrics.layout.margin = "0 0 0 24px"
        self.chart = _Chart(9.0, 3.3, ncols=2)
        header = [self.choice] if len(names) > 1 else [W.HTML(f"<b>{html.escape(start)}</b>")]
        self.widget = W.VBox(
            [
                W.HBox(header + [self.reset_button]),
                W.HBox([self.editor, self.metrics], layout=W.Layout(align_items="flex-start")),
                self.message,
                self.chart.image,
            ]
        )
        self.widget.add_class("rb-scenario-explorer")
        self.estimates: dict[str, dict[str, W.FloatText]] = {}
        self._observe(self.choice, self._select)
        self._select()

    # -- building the editor --------------------------------------------- #
    def _select(self) -> None:
        self.baseline = self.register[self.choice.value]
        self.scenario = self.baseline
        self.baseline_result = self._simulate(self.baseline)
        self._baseline_sorted = np.sort(self.baseline_result.column())
        self._setup_axes()
        self._build_editor()
        self.update()

    def _estimate_items(self, scenario: Scenario) -> list[tuple[str, Distribution]]:
        items: list[tuple[str, Distribution]] = []
        for name in _ESTIMATE_FIELDS:
            est = getattr(scenario, name)
            if est is None:
                continue
            if isinstance(est, LossForms):
                items += [(f"{name}.{form}", d) for form, d in est.items()]
            else:
                items.append((name, est))
        return items

    def _build_editor(self) -> None:
        self._updating += 1
        try:
            rows: list[W.Widget] = []
            self.estimates = {}
            for key, dist in self._estimate_items(self.baseline):
                base, _, form = key.partition(".")
                label = _FACTOR_LABELS[base] + (f": {form.replace('_', ' ')}" if form else "")
                boxes = {}
                for p, v in _estimate_parameters(dist).items():
                    box = W.FloatText(
                        value=v,
                        description=_PARAMETER_LABELS.get(p, p),
                        continuous_update=False,
                        layout=W.Layout(width="190px"),
                        style={"description_width": "80px"},
                    )
                    box.add_class(f"rb-estimate-{base}-{p}")
                    self._observe(box, self.update)
                    boxes[p] = box
                self.estimates[key] = boxes
                kind = "90% interval" if isinstance(dist, LogNormal) else type(dist).__name__
                rows.append(W.HTML(f"<span style='color:#444'>{html.escape(label)} <i>({kind})</i></span>"))
                rows.append(W.HBox(list(boxes.values())))
            self.editor.children = rows
        finally:
            self._updating -= 1

    # -- computation ------------------------------------------------------ #
    def _simulate(self, scenario: Scenario) -> Any:
        return simulate(scenario, years=self.years, seed=self.seed, progress=False, n_jobs=1)

    def edited_scenario(self) -> Scenario:
        """The scenario with the estimates in the boxes (raises on nonsense)."""
        changes: dict[str, Any] = {}
        forms: dict[str, dict[str, Distribution]] = {}
        for key, dist in self._estimate_items(self.baseline):
            params = {p: float(box.value) for p, box in self.estimates[key].items()}
            for p, v in params.items():
                if not math.isfinite(v):
                    raise RiskBudgetError(f"{key}: {p} must be a finite number")
            new = dist if params == _estimate_parameters(dist) else _rebuild(dist, params)
            base, _, form = key.partition(".")
            if form:
                forms.setdefault(base, {})[form] = new
            elif new is not dist:
                changes[base] = new
        for base, mapping in forms.items():
            if any(mapping[k] is not getattr(self.baseline, base)[k] for k in mapping):
                changes[base] = LossForms(**mapping)
        if not changes:
            return self.baseline
        try:
            return replace(self.baseline, **changes)
        except RiskBudgetError as exc:
            raise RiskBudgetError(str(exc).replace(f"Scenario {self.baseline.name!r}: ", "")) from None

    def update(self) -> None:
        """Re-simulate the edited scenario and refresh the numbers and charts."""
        scenario = self.edited_scenario()
        result = self.baseline_result if scenario is self.baseline else self._simulate(scenario)
        self.scenario, self.result = scenario, result
        self._render()

    def reset(self) -> None:
        """Put the estimates as loaded back in the boxes."""
        self._updating += 1
        try:
            for key, dist in self._estimate_items(self.baseline):
                for p, v in _estimate_parameters(dist).items():
                    self.estimates[key][p].value = v
        finally:
            self._updating -= 1
        self.update()

    def _expectations(self, scenario: Scenario) -> tuple[float, float]:
        """Exact expected loss events a year and loss per event.

        The same product as :meth:`Scenario.expected_loss_event_frequency`, with
        the susceptibility cached by its estimates: P(capability > resistance)
        is a numerical integral, and most edits do not touch it.
        """
        cache = self.__dict__.setdefault("_susceptibility_cache", OrderedDict())
        key = (scenario.susceptibility, scenario.threat_capability, scenario.resistance_strength)
        susceptibility = cache.get(key)
        if susceptibility is None:
            susceptibility = cache[key] = scenario.expected_susceptibility()
            if len(cache) > 64:
                cache.popitem(last=False)
        lef = (
            scenario.expected_frequency()
            * scenario.multiplier_mean("frequency")
            * susceptibility
            * scenario.multiplier_mean("susceptibility")
        )
        return lef, scenario.expected_loss_per_event()

    def _numbers(self, scenario: Scenario, losses: np.ndarray) -> dict[str, float]:
        lef, per_event = self._expectations(scenario)
        return {
            "ALE": metrics.ale(losses),
            "VaR95": metrics.var(losses, 0.95),
            "TVaR95": metrics.tvar(losses, 0.95),
            "P(loss > 0)": float(metrics.exceedance(losses, 0.0)),
            "Loss events / year": lef,
            "Loss per event": per_event,
        }

    @staticmethod
    def _format(key: str, v: float) -> str:
        if key == "P(loss > 0)":
            return percent(v)
        if key == "Loss events / year":
            return f"{v:.3g}"
        return money(v)

    def _render(self) -> None:
        losses = self.result.column()
        now = self._numbers(self.scenario, losses)
        before = self._numbers(self.baseline, self.baseline_result.column())
        values: dict[str, Any] = dict(now)
        values.update({f"as loaded: {k}": v for k, v in before.items()})
        shown = {k: self._format(k.removeprefix("as loaded: "), v) for k, v in values.items()}
        self._values, self._shown = values, shown
        rows = "".join(
            f"<tr><td style='padding:2px 12px 2px 0;color:#444'>{html.escape(k)}</td>"
            f"<td data-metric='{html.escape(k)}' style='padding:2px 12px;font-weight:600;text-align:right'>"
            f"{html.escape(shown[k])}</td>"
            f"<td style='padding:2px 0;color:#777;text-align:right'>{html.escape(shown['as loaded: ' + k])}</td></tr>"
            for k in self.METRICS
        )
        self.metrics.value = (
            "<table class='rb-metrics' style='border-collapse:collapse'>"
            "<tr><th></th><th style='text-align:right;padding:2px 12px'>now</th>"
            "<th style='text-align:right;color:#777'>as loaded</th></tr>"
            f"{rows}</table>"
            f"<div style='color:#777;font-size:90%;margin-top:4px'>{self.years:,} simulated years, seed {self.seed}; "
            "loss events and loss per event are exact expectations</div>"
        )
        self._draw(np.sort(losses))

    def _setup_axes(self) -> None:
        """Create the chart's artists for the chosen scenario (updates only move their data)."""
        base = self._baseline_sorted
        positive = base[base > 0]
        lo = float(np.quantile(positive, 0.001)) if positive.size else 1e3
        hi = float(positive.max()) if positive.size else 1e6
        self._base_range = (max(lo / 2.0, 1.0), _nice_top(max(hi * 10.0, lo * 100.0)))
        self._range = self._base_range
        hist, lec = self.chart.axes
        for ax in (hist, lec):
            self.chart.reset(ax)
            ax.set_xscale("log")
            _money_log_axis(ax)
            ax.grid(True, alpha=0.3)
        _percent_axis(hist)
        _log_probability_axis(lec, self.years)
        hist.set_title("Annual loss in years with a loss", fontsize=10)
        hist.set_ylabel("share of years")
        lec.set_title("Loss exceedance curve", fontsize=10)
        lec.set_ylabel("P(annual loss > x)")
        edges = self._edges()
        zeros = np.zeros(edges.size - 1)
        self._hist_before = hist.stairs(zeros, edges, color=BEFORE, lw=1.5, label="as loaded")
        self._hist_now = hist.stairs(zeros, edges, color=NOW, fill=True, alpha=0.45, label="now")
        grid = self._grid()
        before = _positive_or_nan(_exceedance_on(base, grid))
        (self._lec_before,) = lec.plot(grid, before, color=BEFORE, lw=1.5, ls="--", label="as loaded")
        (self._lec_now,) = lec.plot(grid, before, color=NOW, lw=2, label="now")
        hist.legend(fontsize=8, frameon=False, loc="upper right")
        lec.legend(fontsize=8, frameon=False, loc="lower left")
        self._hist_before.set_data(self._histogram(base), edges)
        self.chart.animate(self._hist_now, self._hist_before, self._lec_before, self._lec_now)

    def _edges(self) -> np.ndarray:
        return np.geomspace(*self._range, 61)

    def _grid(self) -> np.ndarray:
        return np.geomspace(*self._range, 200)

    def _histogram(self, sorted_losses: np.ndarray) -> np.ndarray:
        counts = np.diff(np.searchsorted(sorted_losses, self._edges(), side="left"))
        return counts / sorted_losses.size

    def _draw(self, now_sorted: np.ndarray) -> None:
        hist, lec = self.chart.axes
        top = float(now_sorted[-1]) if now_sorted.size else 0.0
        # The loss axis covers the scenario as loaded; an edit that moves losses
        # beyond it widens it (to a rounded bound, so small edits keep it).
        rng = (self._base_range[0], max(self._base_range[1], _nice_top(top * 1.5)))
        if rng != self._range:
            self._range = rng
            grid = self._grid()
            self._hist_before.set_data(self._histogram(self._baseline_sorted), self._edges())
            self._lec_before.set_data(grid, _positive_or_nan(_exceedance_on(self._baseline_sorted, grid)))
            self._lec_now.set_xdata(grid)
        now_hist = self._histogram(now_sorted)
        self._hist_now.set_data(now_hist, self._edges())
        self._lec_now.set_ydata(_positive_or_nan(_exceedance_on(now_sorted, self._grid())))
        for ax in (hist, lec):
            self.chart.set_limits(ax, x=self._range)
        # Room above the scenario as loaded; raised only when an edit makes the histogram taller.
        base_top = _nice_top(1.3 * max(float(self._hist_before.get_data().values.max()), 1e-3))  # type: ignore[attr-defined]
        self.chart.set_limits(hist, y=(0.0, max(base_top, _nice_top(1.08 * float(now_hist.max())))))
        self.chart.refresh()
