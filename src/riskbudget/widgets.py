"""Interactive explorers for notebooks and the Voila dashboard (ipywidgets).

Three explorers, each a thin view over the library's public functions:

* :class:`ScenarioExplorer` - edit one scenario's calibrated estimates and watch
  its annual-loss distribution and loss exceedance curve move.
* :class:`PriorExplorer` - add or remove incidents and watch the posterior of
  the event rate and the loss exceedance curve update (exact Gamma-Poisson
  update, instant).
* :class:`BudgetExplorer` - the joint CIO/CISO view: split a budget between
  security controls and IT projects, toggle what is funded, and read the ALE,
  VaR95, TVaR95, expected net value, appetite status, the LEC against the
  tolerance curve and the plan's place on the efficient frontier.

Design
------
Every explorer keeps its computation in plain methods (``update()``,
``optimise()``...) and its last good view in ``values`` (raw numbers) and
``shown`` (the rounded strings on screen), so tests and benchmarks drive it by
setting ``.value`` on its controls, exactly as a person does, without a browser.
A value that makes no sense (a negative budget, a share above 100%, a 90%
interval with ``low > high``) shows a plain message in the widget and keeps the
last good view; no traceback reaches the screen.

Charts are matplotlib figures rendered off-screen to PNG into an
``ipywidgets.Image`` (no pyplot state, no Output widget), so a change redraws
in a few tens of milliseconds and the notebook's saved outputs stay stable.

This module imports ipywidgets and matplotlib at import time; ``import
riskbudget`` never imports it.

Examples
--------
>>> import riskbudget as rb
>>> from riskbudget.widgets import ScenarioExplorer
>>> ex = ScenarioExplorer(rb.read_register(rb.io.example_path()), years=2_000, seed=7)
>>> ex.estimates["primary_loss"]["high"].value = 24_000_000   # what a person types
>>> ex.shown["ALE"].startswith("$")
True
"""

from __future__ import annotations

import html
import io
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from . import metrics
from ._format import money, percent
from .distributions import Constant, Distribution, LogNormal
from .exceptions import RiskBudgetError
from .fair import LossForms, Register, Scenario, as_register
from .simulate import simulate

__all__ = ["ScenarioExplorer", "PriorExplorer", "BudgetExplorer", "with_rate"]

log = logging.getLogger(__name__)

#: Colours shared by the explorers' charts.
NOW, BEFORE, LIMIT = "#1f77b4", "#9a9a9a", "#d62728"


# --------------------------------------------------------------------------- #
# Shared pieces
# --------------------------------------------------------------------------- #
class _Chart:
    """A matplotlib figure drawn off-screen into an ``ipywidgets.Image``.

    The axes, ticks, grid, titles and legends are drawn once and kept as a
    background; the artists registered with :meth:`animate` (the curves that
    move) are drawn on top of it at each refresh (blitting). Changing the
    limits or a title through :meth:`set_limits` / :meth:`set_title` redraws
    the background. A refresh then costs a few milliseconds instead of a full
    draw, and the image is a pure function of the artists' data and limits.
    """

    def __init__(self, width: float, height: float, *, ncols: int = 1, dpi: int = 80) -> None:
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.axes = [self.figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        # Fixed margins in inches: a layout engine would cost more than the drawing.
        self.figure.subplots_adjust(
            left=0.8 / width, right=1 - 0.3 / width, bottom=0.45 / height, top=1 - 0.35 / height,
            wspace=0.9 * ncols / width if ncols > 1 else 0.2,
        )
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width=f"{int(width * dpi)}px", height="auto"))
        self.image.add_class("rb-chart")
        self._dynamic: list[Any] = []
        self._background: Any = None

    def animate(self, *artists: Any) -> None:
        """Register artists whose data change at each refresh."""
        for a in artists:
            a.set_animated(True)
            self._dynamic.append(a)

    def reset(self, ax: Any) -> None:
        """Clear an axes (and forget its animated artists) before building it again."""
        self._dynamic = [a for a in self._dynamic if a.axes is not ax]
        ax.clear()
        self._background = None

    def invalidate(self) -> None:
        self._background = None

    def set_limits(self, ax: Any, *, x: tuple[float, float] | None = None, y: tuple[float, float] | None = None) -> None:
        if x is not None and tuple(ax.get_xlim()) != tuple(x):
            ax.set_xlim(*x)
            self._background = None
        if y is not None and tuple(ax.get_ylim()) != tuple(y):
            ax.set_ylim(*y)
            self._background = None

    def set_title(self, ax: Any, text: str, **kwargs: Any) -> None:
        if ax.get_title() != text:
            ax.set_title(text, **kwargs)
            self._background = None

    def refresh(self) -> None:
        from PIL import Image

        canvas: Any = self.figure.canvas  # a FigureCanvasAgg (blitting and the RGBA buffer)
        if self._background is None:
            canvas.draw()  # animated artists are left out of the background
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        for a in self._dynamic:
            self.figure.draw_artist(a)
        w, h = canvas.get_width_height()
        img = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        self.image.value = buf.getvalue()


def _nice_top(x: float, steps: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)) -> float:
    """The smallest "nice" number (1, 1.5, 2, 2.5, ... times a power of ten) at or above ``x`` > 0.

    Axis limits rounded this way change only when the data cross a step, so
    most updates keep the background and the view stays a function of the data.
    """
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(x))
    for s in steps:
        if s * scale >= x * (1 - 1e-12):
            return s * scale
    return 10.0 * scale


def _nice_range(values: Any, pad: float = 0.08) -> tuple[float, float]:
    """Limits covering ``values`` with a margin, rounded outwards to a step of the span's order."""
    v = np.asarray([x for x in np.ravel(values) if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    step = 10.0 ** math.floor(math.log10(span)) / 2.0
    return (math.floor((lo - pad * span) / step) * step, math.ceil((hi + pad * span) / step) * step)


def _money_log_axis(ax: Any, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: money(v, digits=2)))
    target.set_minor_formatter(NullFormatter())
    target.set_minor_locator(NullLocator())  # minor ticks of a log axis cost most of a redraw


def _percent_axis(ax: Any) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _log_probability_axis(ax: Any, years: int) -> None:
    """A log y axis of exceedance probability, fixed from the smallest resolvable one to 100%."""
    ax.set_yscale("log")
    ax.set_ylim(max(0.5 / years, 1e-6), 1.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_locator(NullLocator())


def _positive_or_nan(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p, np.nan)


def _exceedance_on(sorted_losses: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """P(annual loss > x) for each x of ``grid``, from ascending losses."""
    n = sorted_losses.size
    return (n - np.searchsorted(sorted_losses, grid, side="right")) / n


def _metric_table(rows: list[tuple[str, str, str]], title: str = "") -> str:
    """HTML of (key, label, shown value) rows; each value cell carries ``data-metric=key``."""
    head = f"<div class='rb-title' style='font-weight:600;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    body = "".join(
        f"<tr><td style='padding:2px 12px 2px 0;color:#444'>{html.escape(label)}</td>"
        f"<td data-metric='{html.escape(key)}' style='padding:2px 0;font-weight:600;text-align:right'>"
        f"{html.escape(value)}</td></tr>"
        for key, label, value in rows
    )
    return f"{head}<table class='rb-metrics' style='border-collapse:collapse'>{body}</table>"


def _message_html(text: str, kind: str = "error") -> str:
    if not text:
        return ""
    colour = {"error": "#a94442", "info": "#31708f", "ok": "#3c763d"}[kind]
    background = {"error": "#f2dede", "info": "#d9edf7", "ok": "#dff0d8"}[kind]
    return (
        f"<div class='rb-message rb-{kind}' style='color:{colour};background:{background};"
        f"padding:6px 10px;border-radius:4px'>{html.escape(text)}</div>"
    )


def _plain(exc: BaseException) -> str:
    """A person-readable one-line message for an exception."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class _Explorer:
    """Shared behaviour: the message line, the last good view, display."""

    #: The top-level container; set by subclasses.
    widget: W.Widget

    def __init__(self) -> None:
        self.message = W.HTML(value="")
        self.message.add_class("rb-message-box")
        self._values: dict[str, Any] = {}
        self._shown: dict[str, str] = {}
        self._error: str | None = None
        self._said = False
        self._updating = 0

    # -- state seen by tests, benchmarks and people --------------------- #
    @property
    def values(self) -> dict[str, Any]:
        """Raw numbers of the view on screen (the last good one)."""
        return dict(self._values)

    @property
    def shown(self) -> dict[str, str]:
        """The rounded strings on screen, by label (the last good view)."""
        return dict(self._shown)

    @property
    def error(self) -> str | None:
        """The plain message on screen when the last input made no sense, else None."""
        return self._error

    def _say(self, text: str, kind: str = "error") -> None:
        self._error = text if text and kind == "error" else None
        self._said = True
        self.message.value = _message_html(text, kind)

    def _run(self, action: Callable[[], Any]) -> bool:
        """Run an update; on bad input show a message and keep the last good view.

        A message from an earlier change is cleared once a change succeeds,
        unless the change itself said something (e.g. Optimise's notes).
        """
        self._said = False
        try:
            action()
        except RiskBudgetError as exc:
            self._say(_plain(exc) + " - showing the last valid figures.")
            return False
        except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
            self._say(f"That input cannot be used ({_plain(exc)}) - showing the last valid figures.")
            return False
        except Exception as exc:  # never let a traceback reach the screen
            log.exception("riskbudget explorer update failed")
            self._say(f"Something went wrong ({type(exc).__name__}: {_plain(exc)}); showing the last valid figures.")
            return False
        if not self._said:
            self._say("")
        return True

    def _observe(self, widget: W.Widget, handler: Callable[[], Any]) -> None:
        def on_change(_change: Any) -> None:
            if self._updating:
                return
            self._run(handler)

        widget.observe(on_change, names="value")

    # -- display --------------------------------------------------------- #
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and "text/plain" in bundle:
            bundle["text/plain"] = repr(self)  # short and stable (nbval compares it)
        return bundle

    def __repr__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in list(self._shown.items())[:3])
        return f"{type(self).__name__}({head})"


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


# --------------------------------------------------------------------------- #
# PriorExplorer
# --------------------------------------------------------------------------- #
_FREQUENCY_AND_SUSCEPTIBILITY = (
    "threat_event_frequency",
    "contact_frequency",
    "probability_of_action",
    "loss_event_frequency",
    "annual_probability",
    "susceptibility",
    "threat_capability",
    "resistance_strength",
)


def with_rate(scenario: Scenario, rate: Distribution) -> Scenario:
    """The scenario with its frequency replaced by a loss event rate (e.g. a Gamma posterior).

    Incidents count loss events, so the estimate replaces the whole frequency
    branch (threat event frequency and susceptibility); the loss estimates and
    any adjustments (controls) stay.
    """
    changes: dict[str, Any] = {f: None for f in _FREQUENCY_AND_SUSCEPTIBILITY}
    changes["loss_event_frequency"] = rate
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
        from . import bayes

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
            f"{self.years:,} simulated years, seed {self.seed}</div>"
        )
        self._draw(np.sort(losses))

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


# --------------------------------------------------------------------------- #
# BudgetExplorer
# --------------------------------------------------------------------------- #
class BudgetExplorer(_Explorer):
    """The joint CIO/CISO view: one budget, security controls and IT projects, live risk and value.

    The budget is split by the security share: controls and security-by-design
    options are paid from the security part, projects from the IT part. Each
    control and project has a toggle ("we want it"); the funded plan is the
    wanted items that fit in their part of the budget, taken in order of
    standalone return against the status quo (best first: a control's ALE
    reduction per dollar, a project's value net of the risk it adds per
    dollar), respecting what each requires or excludes.
    So a security share of 0 funds no control, and turning a toggle on and off
    again gives back exactly the same numbers.

    Every change is scored on a :class:`~riskbudget.optimize.DecisionProblem`:
    each scenario was simulated once for every combination of the decisions
    touching it, on common random numbers, so scoring a plan only adds columns
    year by year (well under a millisecond on the bundled example) and gives
    the same numbers as simulating the funded register from scratch. The
    "Optimise" button solves the budget problem exactly
    (:func:`riskbudget.optimize.optimize`) and sets the toggles to the optimal
    plan.

    Parameters
    ----------
    register : Register
    controls, projects : sequences of Control and Project
    budget : float, optional
        Total budget per year (default: half of what everything costs).
    security_share : float, default 0.25
        Share of the budget for security, in [0, 1].
    appetite : Appetite, optional
        Limits and tolerance curve; each limit and each tolerance point gets
        a box so people can try other thresholds.
    years, seed : int
        Simulated years and seed of the precomputation.
    problem : DecisionProblem, optional
        A precomputation to reuse (from :func:`riskbudget.optimize.precompute`).
    frontier : bool, default True
        Solve the efficient frontier once (:func:`riskbudget.optimize.frontier`:
        the best plan at each security share of the budget, under the
        appetite) and show the current plan against it: expected net value
        against TVaR95. It is re-solved by "Optimise" after the budget or the
        appetite changed.
    frontier_points : int, default 11
        Security shares on the frontier (every 10%).
    time_limit : float, default 30
        Seconds the solver may take per plan (then the best plan found, with
        its gap).

    Attributes
    ----------
    total_budget : ipywidgets.FloatText
    security_share : ipywidgets.FloatSlider
        In [0, 1], shown as a percentage.
    thresholds : dict of str -> ipywidgets.FloatText
        One box per appetite limit (by its label, e.g. ``"VaR95"``) and per
        tolerance point (``"tolerance P=20%"``).
    toggles : dict of str -> ipywidgets.Checkbox
        One per control and project.
    design_toggles : dict of str -> ipywidgets.Checkbox
        Security by design, one per project that offers it.
    optimise_button, clear_button : ipywidgets.Button
    funding : Funding
        What is funded now.
    values, shown : dict
        ``"ALE"``, ``"VaR95"``, ``"TVaR95"``, ``"Expected net value"``,
        ``"Expected project value"``, ``"Security spend"``, ``"IT spend"``,
        ``"Security budget"``, ``"IT budget"``, ``"Appetite"``; ``values`` also
        holds ``"funded"`` (the funded names) and ``"within appetite"``.
    """

    METRICS = (
        "ALE",
        "VaR95",
        "TVaR95",
        "Expected project value",
        "Expected net value",
        "Security spend",
        "IT spend",
        "Appetite",
    )

    def __init__(
        self,
        register: Any,
        controls: Any = (),
        projects: Any = (),
        *,
        budget: float | None = None,
        security_share: float = 0.25,
        appetite: Any = None,
        years: int = 20_000,
        seed: int = 7,
        problem: Any = None,
        frontier: bool = True,
        frontier_points: int = 11,
        time_limit: float | None = 30.0,
    ) -> None:
        super().__init__()
        import importlib

        # The module, not the function: ``riskbudget.optimize`` is also exported as the function.
        self._opt = importlib.import_module(".optimize", __package__)
        if problem is None:
            problem = self._opt.precompute(register, controls, projects, years=years, seed=seed, progress=False)
        self.problem = problem
        self.register = problem.register
        self.controls = tuple(problem.controls)
        self.projects = tuple(problem.projects)
        self.years = problem.years
        self.seed = problem.seed
        if budget is None:
            budget = 0.5 * (sum(c.cost_per_year for c in self.controls) + sum(p.cost_per_year for p in self.projects))
        self._appetite0 = appetite
        self.appetite = appetite
        self._nothing = problem.total_losses(self._opt.Funding())
        self._nothing_sorted = np.sort(self._nothing)
        self._nothing_tvar = metrics.tvar(self._nothing, 0.95)
        self._rank_items()

        # -- controls of the view ------------------------------------------ #
        self.total_budget = W.FloatText(value=float(budget), description="Total budget ($/yr)", continuous_update=False,
                                        style={"description_width": "130px"}, layout=W.Layout(width="300px"))
        self.total_budget.add_class("rb-total-budget")
        self.security_share = W.FloatSlider(value=float(security_share), min=0.0, max=1.0, step=0.01,
                                            description="Security share", readout_format=".0%", continuous_update=False,
                                            style={"description_width": "130px"}, layout=W.Layout(width="420px"))
        self.security_share.add_class("rb-security-share")
        self.split = W.HTML()
        self.thresholds: dict[str, W.FloatText] = {}
        threshold_rows: list[W.Widget] = []
        if appetite is not None:
            for lim in appetite.limits:
                label = lim.label
                if lim.kind == "exceedance":
                    box = W.FloatText(value=100.0 * lim.limit, description=f"{label} ≤ (%)", continuous_update=False)
                else:
                    box = W.FloatText(value=lim.limit, description=f"{label} ≤ ($)", continuous_update=False)
                self.thresholds[label] = box
            if appetite.tolerance is not None:
                for p, x in appetite.tolerance.points:
                    key = f"tolerance P={100 * p:g}%"
                    self.thresholds[key] = W.FloatText(
                        value=x, description=f"1-in-{1 / p:.0f}-yr loss ≤ ($)", continuous_update=False
                    )
            for box in self.thresholds.values():
                box.style.description_width = "170px"
                box.layout.width = "300px"
                box.add_class("rb-threshold")
                threshold_rows.append(box)
        self.toggles: dict[str, W.Checkbox] = {}
        self.design_toggles: dict[str, W.Checkbox] = {}
        self._status: dict[str, W.HTML] = {}
        control_rows = [W.HTML("<b>Security controls</b> (security budget)")]
        for c in self.controls:
            control_rows.append(self._toggle_row(c.name, f"{c.name} ({money(c.cost_per_year)})"))
        project_rows = [W.HTML("<b>IT projects</b> (IT budget; security by design from the security budget)")]
        for p in self.projects:
            project_rows.append(
                self._toggle_row(p.name, f"{p.name} ({money(p.cost_per_year)}, value {money(p.expected_value())})")
            )
            if p.security_by_design is not None:
                sbd = p.security_by_design
                box = W.Checkbox(value=False, indent=False, description="", layout=W.Layout(width="22px"))
                box.add_class("rb-design-toggle")
                self.design_toggles[p.name] = box
                months = f"{sbd.delay_months:g} month{'' if sbd.delay_months == 1 else 's'}"
                label = f"security by design (+{money(sbd.cost_per_year)}, {months} later)"
                project_rows.append(W.HBox([box, W.HTML(f"<i>{html.escape(label)}</i>")],
                                           layout=W.Layout(margin="0 0 0 28px", align_items="center")))
        self.optimise_button = W.Button(description="Optimise", icon="magic", button_style="primary",
                                        tooltip="Set the toggles to the plan with the best expected net value "
                                                "within the budget, the split and the appetite")
        self.optimise_button.add_class("rb-optimise")
        self.all_button = W.Button(description="Want everything", icon="check-square")
        self.clear_button = W.Button(description="Fund nothing", icon="square")
        self.optimise_button.on_click(lambda _b: self._run(self.optimise))
        self.all_button.on_click(lambda _b: self._run(lambda: self._set_all(True)))
        self.clear_button.on_click(lambda _b: self._run(lambda: self._set_all(False)))
        self.metrics = W.HTML()
        self.metrics.add_class("rb-budget-metrics")
        self.funded_html = W.HTML()
        self.funded_html.add_class("rb-funded")
        self.chart = _Chart(10.0, 3.6, ncols=2)

        budget_box = W.VBox([W.HTML("<b>Budget</b>"), self.total_budget, self.security_share, self.split])
        appetite_box = W.VBox([W.HTML("<b>Risk appetite</b>")] + threshold_rows)
        appetite_box.layout.margin = "0 0 0 32px"
        self.widget = W.VBox(
            [
                W.HBox([budget_box, appetite_box], layout=W.Layout(align_items="flex-start")),
                W.HBox([self.optimise_button, self.all_button, self.clear_button]),
                self.message,
                W.HBox([self.metrics, self.funded_html], layout=W.Layout(align_items="flex-start")),
                self.chart.image,
                W.HBox([W.VBox(control_rows, layout=W.Layout(width="50%")),
                        W.VBox(project_rows, layout=W.Layout(width="50%"))]),
            ]
        )
        self.widget.add_class("rb-budget-explorer")
        self.funded_html.layout.margin = "0 0 0 32px"

        for w in [self.total_budget, self.security_share, *self.thresholds.values(), *self.toggles.values(),
                  *self.design_toggles.values()]:
            self._observe(w, self.update)

        self._updating += 1
        try:
            self._set_all(True)
        finally:
            self._updating -= 1
        self.time_limit = time_limit
        self.frontier_points = int(frontier_points)
        self._frontier_key: Any = None
        self.frontier = self._compute_frontier() if frontier else None
        self._setup_axes()
        ok = self._run(self.update)
        if not ok:
            raise RiskBudgetError(f"BudgetExplorer: {self._error}")

    # -- construction helpers ------------------------------------------- #
    @classmethod
    def example(cls, *, years: int = 20_000, seed: int = 7, budget: float = 6_000_000, security_share: float = 0.25,
                **kwargs: Any) -> BudgetExplorer:
        """The explorer on the bundled example: register, controls, projects and appetite."""
        from .appetite import read_appetite
        from .controls import read_controls, read_projects
        from .io import example_path, read_register

        return cls(
            read_register(example_path("register.csv")),
            read_controls(example_path("controls.csv")),
            read_projects(example_path("projects.csv")),
            appetite=read_appetite(example_path("appetite.yaml")),
            budget=budget,
            security_share=security_share,
            years=years,
            seed=seed,
            **kwargs,
        )

    def _toggle_row(self, name: str, label: str) -> W.Widget:
        # The label is an HTML widget: a checkbox description would typeset "$...$" as mathematics.
        box = W.Checkbox(value=False, description="", indent=False, layout=W.Layout(width="22px"))
        box.add_class("rb-toggle")
        self.toggles[name] = box
        status = W.HTML(layout=W.Layout(margin="0 0 0 8px"))
        self._status[name] = status
        return W.HBox([box, W.HTML(html.escape(label)), status], layout=W.Layout(align_items="center"))

    def _rank_items(self) -> None:
        """Order in which wanted items are funded: best standalone return per dollar first."""
        F = self._opt.Funding
        problem = self.problem
        base = float(self._nothing.mean())

        def ale(f: Any) -> float:
            return float(problem.total_losses(f).mean())

        control_rank = []
        for c in self.controls:
            gain = base - ale(F(controls=(c.name,)))
            control_rank.append(((gain - c.cost_per_year) / c.cost_per_year if c.cost_per_year > 0 else math.inf, c.name))
        project_rank = []
        design_rank = []
        for p in self.projects:
            alone = ale(F(projects=(p.name,)))
            net = p.expected_value() - (alone - base) - p.cost_per_year
            project_rank.append((net / p.cost_per_year if p.cost_per_year > 0 else math.inf, p.name))
            if p.security_by_design is not None:
                sbd = p.security_by_design
                with_sbd = ale(F(projects=(p.name,), security_by_design=(p.name,)))
                gain = (alone - with_sbd) - (p.expected_value() - p.expected_value(security_by_design=True))
                design_rank.append(((gain - sbd.cost_per_year) / sbd.cost_per_year if sbd.cost_per_year > 0 else math.inf, p.name))
        # sort by return (best first), then by name so ties are deterministic
        self._control_order = [n for _, n in sorted(control_rank, key=lambda t: (-t[0], t[1]))]
        self._project_order = [n for _, n in sorted(project_rank, key=lambda t: (-t[0], t[1]))]
        self._design_order = [n for _, n in sorted(design_rank, key=lambda t: (-t[0], t[1]))]

    def _set_all(self, on: bool) -> None:
        self._updating += 1
        try:
            for box in self.toggles.values():
                box.value = on
            for box in self.design_toggles.values():
                box.value = on
        finally:
            self._updating -= 1
        if not self._updating:
            self.update()

    # -- the model --------------------------------------------------------- #
    def budgets(self) -> tuple[float, float, float]:
        """(total, security, IT) budgets from the boxes (raises on nonsense)."""
        total = self.total_budget.value
        share = self.security_share.value
        if total is None or not math.isfinite(float(total)):
            raise RiskBudgetError("The total budget must be a number")
        total = float(total)
        if total < 0:
            raise RiskBudgetError(f"The total budget ({money(total)}) cannot be negative")
        if not (0.0 <= share <= 1.0):
            raise RiskBudgetError(f"The security share ({percent(share)}) must lie between 0% and 100%")
        return total, total * share, total - total * share

    def current_appetite(self) -> Any:
        """The appetite with the thresholds in the boxes (raises on nonsense)."""
        from .appetite import Appetite, Limit, ToleranceCurve

        base = self._appetite0
        if base is None:
            return None
        limits = []
        for lim in base.limits:
            v = float(self.thresholds[lim.label].value)
            if lim.kind == "exceedance":
                if not 0.0 < v <= 100.0:
                    raise RiskBudgetError(f"The limit on {lim.label} ({v:g}%) must be a percentage above 0 and at most 100")
                limits.append(Limit(lim.kind, lim.param, v / 100.0))
            else:
                if not (math.isfinite(v) and v > 0):
                    raise RiskBudgetError(f"The {lim.label} limit ({money(v)}) must be a positive amount of money")
                limits.append(Limit(lim.kind, lim.param, v))
        tolerance = None
        if base.tolerance is not None:
            points = []
            for p, _x in base.tolerance.points:
                v = float(self.thresholds[f"tolerance P={100 * p:g}%"].value)
                if not (math.isfinite(v) and v > 0):
                    raise RiskBudgetError(f"The tolerated 1-in-{1 / p:.0f}-year loss ({money(v)}) must be a positive amount")
                points.append((p, v))
            tolerance = ToleranceCurve.from_points(points)
        return Appetite(limits=limits, tolerance=tolerance)

    def wanted(self) -> tuple[set[str], set[str]]:
        """(wanted controls and projects, projects wanting security by design)."""
        want = {n for n, box in self.toggles.items() if box.value}
        design = {n for n, box in self.design_toggles.items() if box.value}
        return want, design

    def fit(self, security_budget: float, it_budget: float) -> tuple[Any, dict[str, str]]:
        """The funded plan: wanted items that fit, best return first; and a status line per item."""
        want, design = self.wanted()
        items = {c.name: c for c in self.controls}
        items.update({p.name: p for p in self.projects})
        funded: list[str] = []
        sec_left, it_left = security_budget, it_budget
        eps = 1e-6
        status: dict[str, str] = {n: "" for n in items}
        blocked: dict[str, str] = {}

        def conflicts(name: str) -> str | None:
            item = items[name]
            for other in funded:
                if other in item.excludes or name in items[other].excludes:
                    return f"cannot go with {other}"
            return None

        changed = True
        while changed:  # a fixpoint, so an item funded late can unlock one that requires it
            changed = False
            for order, pool in ((self._project_order, "it"), (self._control_order, "security")):
                for name in order:
                    if name not in want or name in funded:
                        continue
                    item = items[name]
                    missing = [r for r in item.requires if r not in funded]
                    if missing:
                        blocked[name] = f"needs {', '.join(missing)}"
                        continue
                    clash = conflicts(name)
                    if clash:
                        blocked[name] = clash
                        continue
                    cost = item.cost_per_year
                    left = it_left if pool == "it" else sec_left
                    if cost > left + eps:
                        blocked[name] = f"over the {'IT' if pool == 'it' else 'security'} budget by {money(cost - left)}"
                        continue
                    funded.append(name)
                    blocked.pop(name, None)
                    if pool == "it":
                        it_left -= cost
                    else:
                        sec_left -= cost
                    changed = True
        design_funded: list[str] = []
        for name in self._design_order:
            if name not in design:
                continue
            if name not in funded:
                continue
            cost = items[name].security_by_design.cost_per_year
            if cost > sec_left + eps:
                blocked[f"{name}/design"] = f"security by design over the security budget by {money(cost - sec_left)}"
                continue
            design_funded.append(name)
            sec_left -= cost
        for name in items:
            if name in funded:
                status[name] = "funded" + (" with security by design" if name in design_funded else "")
                if f"{name}/design" in blocked:
                    status[name] += f"; {blocked[f'{name}/design']}"
            elif name in want:
                status[name] = f"not funded: {blocked.get(name, 'does not fit')}"
        controls_f = tuple(c.name for c in self.controls if c.name in funded)
        projects_f = tuple(p.name for p in self.projects if p.name in funded)
        design_f = tuple(p.name for p in self.projects if p.name in design_funded)
        return self._opt.Funding(controls_f, projects_f, design_f), status

    def update(self) -> None:
        """Recombine the precomputed losses for the current choices and refresh the view."""
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        funding, status = self.fit(sec_budget, it_budget)
        score = self.problem.score(funding)
        losses = self.problem.total_losses(funding)
        check = appetite.check(losses) if appetite is not None else None
        self.appetite, self.funding, self.score = appetite, funding, score
        self._render(total, sec_budget, it_budget, score, check, status, losses)

    def optimise(self) -> Any:
        """Solve for the best plan within the budget, split and appetite; set the toggles to it."""
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        self._say("Solving for the best plan within this budget, split and appetite...", "info")
        plan = self._opt.optimize(
            self.problem,
            budget=total,
            security_budget=sec_budget,
            it_budget=it_budget,
            appetite=appetite,
            time_limit=self.time_limit,
            progress=False,
        )
        if self._frontier_key != self._frontier_state():
            self.frontier = self._compute_frontier()
            self._draw_frontier()
        self._updating += 1
        try:
            on = set(plan.funded_controls) | set(plan.funded_projects)
            for name, box in self.toggles.items():
                box.value = name in on
            for name, box in self.design_toggles.items():
                box.value = name in plan.security_by_design
        finally:
            self._updating -= 1
        self.plan = plan
        self.update()
        if plan.status == "infeasible_appetite":
            self._say("No plan within this budget and split meets the appetite; the toggles show the least-risk plan.",
                      "info")
        elif plan.status == "time_limit":
            self._say(f"The solver stopped at its time limit; this plan is within {percent(plan.solver_gap, digits=2)} "
                      "of the best possible.", "info")
        else:
            self._say("")
        return plan

    # -- frontier ---------------------------------------------------------- #
    def _frontier_state(self) -> tuple[float, Any]:
        total, _sec, _it = self.budgets()
        return total, self.current_appetite()

    def _compute_frontier(self) -> Any:
        """The best plan at each security share of the current budget (solved once, then reused).

        The plans maximise expected net value within each split
        (:func:`riskbudget.optimize.frontier`); each is then checked against
        the appetite, and those outside it are marked. (Solving every split
        under the appetite as well is slower and fails where no plan meets
        it; the Optimise button does that for the current split.)
        """
        total, appetite = self._frontier_state()
        self._frontier_key = (total, appetite)
        if total <= 0:
            return None
        front = self._opt.frontier(self.problem, budget=total, points=self.frontier_points,
                                   time_limit=self.time_limit, progress=False)
        table = front.table.copy()
        if appetite is not None:
            table["feasible"] = [bool(appetite.check(p.result.annual_loss.to_numpy()).ok) for p in front.plans]
        return replace(front, table=table)

    # -- view ---------------------------------------------------------------- #
    def _render(self, total: float, sec_budget: float, it_budget: float, score: Any, check: Any,
                status: dict[str, str], losses: np.ndarray) -> None:
        within = None if check is None else bool(check.ok)
        appetite_text = "no appetite set" if check is None else ("within appetite" if within else "OUTSIDE appetite")
        values: dict[str, Any] = {
            "ALE": score.ale,
            "VaR95": score.var95,
            "TVaR95": score.tvar95,
            "Expected project value": score.expected_value,
            "Expected net value": score.expected_net_value,
            "Security spend": score.security_spend,
            "IT spend": score.it_spend,
            "Security budget": sec_budget,
            "IT budget": it_budget,
            "Total budget": total,
            "Appetite": appetite_text,
            "within appetite": within,
            "funded": list(score.funding.controls) + list(score.funding.projects),
            "security by design": list(score.funding.security_by_design),
            "ALE (nothing funded)": float(self._nothing.mean()),
        }
        shown = {k: (v if isinstance(v, str) else money(v)) for k, v in values.items()
                 if k not in ("within appetite", "funded", "security by design")}
        shown["Security spend"] = f"{money(score.security_spend)} of {money(sec_budget)}"
        shown["IT spend"] = f"{money(score.it_spend)} of {money(it_budget)}"
        self._values, self._shown = values, shown
        self.split.value = (
            f"<span class='rb-split'>security {html.escape(money(sec_budget))} · IT {html.escape(money(it_budget))}</span>"
        )
        rows = [(k, k, shown[k]) for k in self.METRICS]
        table = _metric_table(rows, title="This plan")
        breaches = ""
        if check is not None and not check.ok:
            breaches = "<ul style='margin:4px 0 0 16px;color:#a94442'>" + "".join(
                f"<li>{html.escape(b)}</li>" for b in check.breaches) + "</ul>"
        self.metrics.value = table + breaches + (
            f"<div style='color:#777;font-size:90%;margin-top:4px'>ALE with nothing funded "
            f"{html.escape(money(values['ALE (nothing funded)']))}; expected net value = project value − ALE − spend; "
            f"{self.years:,} simulated years, seed {self.seed}</div>"
        )
        funded_items = [html.escape(n) + (" <i>(security by design)</i>" if n in score.funding.security_by_design else "")
                        for n in values["funded"]]
        self.funded_html.value = (
            f"<div style='font-weight:600;margin-bottom:4px'>Funded ({len(funded_items)})</div>"
            + ("<ul data-metric='funded' style='margin:0 0 0 16px;padding:0'>"
               + "".join(f"<li>{i}</li>" for i in funded_items) + "</ul>" if funded_items else
               "<div data-metric='funded'>nothing</div>")
        )
        for name, text in status.items():
            colour = "#3c763d" if text.startswith("funded") else "#a94442"
            self._status[name].value = f"<span style='color:{colour};font-size:90%'>{html.escape(text)}</span>" if text else ""
        for name, box in self.design_toggles.items():
            box.disabled = not self.toggles[name].value
        self._draw(np.sort(losses), score)

    def _setup_axes(self) -> None:
        lec, front = self.chart.axes
        base = self._nothing_sorted
        positive = base[base > 0]
        lo = float(np.quantile(positive, 0.001)) if positive.size else 1e3
        hi = float(positive.max()) if positive.size else 1e6
        if self._appetite0 is not None and self._appetite0.tolerance is not None:
            xs = [x for _, x in self._appetite0.tolerance.points]
            lo, hi = min(lo, min(xs) / 2), max(hi, max(xs) * 1.5)
        self._grid = np.geomspace(max(lo, 1.0), hi * 1.2, 200)
        self.chart.reset(lec)
        lec.set_xscale("log")
        _money_log_axis(lec)
        _percent_axis(lec)
        lec.grid(True, alpha=0.3)
        lec.set_title("Loss exceedance curve", fontsize=10)
        lec.set_ylabel("P(annual loss > x)")
        lec.plot(self._grid, _exceedance_on(base, self._grid), color=BEFORE, lw=1.5, ls="--", label="nothing funded")
        (self._lec_now,) = lec.plot(self._grid, _exceedance_on(base, self._grid), color=NOW, lw=2, label="this plan")
        (self._tolerance_line,) = lec.plot(self._grid, np.full(self._grid.size, np.nan), color=LIMIT, lw=1.5, ls=":",
                                           label="tolerance curve")
        (self._limit_marks,) = lec.plot([], [], ls="none", marker="X", ms=8, color="black", label="appetite limits")
        lec.set_xlim(self._grid[0], self._grid[-1])
        lec.set_ylim(0.0, 1.02)
        lec.legend(fontsize=8, frameon=False, loc="upper right")

        self.chart.reset(front)
        front.set_xlabel("TVaR95 (risk)")
        front.set_ylabel("expected net value")
        front.grid(True, alpha=0.3)
        for axis in (front.xaxis, front.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: money(v, digits=2)))
        (self._front_line,) = front.plot([], [], color=BEFORE, lw=1.2, marker="o", ms=4,
                                         label="best plan at each security share")
        (self._front_bad,) = front.plot([], [], ls="none", marker="x", ms=7, color=LIMIT, label="outside appetite")
        (self._front_share,) = front.plot([], [], ls="none", marker="s", ms=8, mfc="none", color="black",
                                          label="best at this share")
        (self._point,) = front.plot([], [], ls="none", marker="o", ms=10, color=NOW, label="this plan")
        front.legend(fontsize=7, frameon=False, loc="lower left")
        self._front_note = front.text(0.98, 0.97, "", transform=front.transAxes, ha="right", va="top", fontsize=8,
                                      color=LIMIT)
        self.chart.animate(self._lec_now, self._tolerance_line, self._limit_marks, self._front_line, self._front_bad,
                           self._front_share, self._point, self._front_note)
        self._draw_frontier()

    def _draw_frontier(self) -> None:
        if self.frontier is None:
            self._front_line.set_data([], [])
            self._front_bad.set_data([], [])
            return
        t = self.frontier.table
        x, y = t["tvar95"].to_numpy(), t["expected_net_value"].to_numpy()
        order = np.argsort(x, kind="stable")
        self._front_line.set_data(x[order], y[order])
        bad = ~t["feasible"].to_numpy(dtype=bool)
        self._front_bad.set_data(x[bad], y[bad])

    def _draw(self, losses_sorted: np.ndarray, score: Any) -> None:
        lec, front = self.chart.axes
        self._lec_now.set_ydata(_exceedance_on(losses_sorted, self._grid))
        appetite = self.appetite
        if appetite is not None and appetite.tolerance is not None:
            self._tolerance_line.set_ydata(appetite.tolerance.prob_at(self._grid))
        else:
            self._tolerance_line.set_ydata(np.full(self._grid.size, np.nan))
        xs, ys = [], []
        if appetite is not None:
            for lim in appetite.limits:
                if lim.kind == "var":
                    xs.append(lim.limit)
                    ys.append(1.0 - lim.param)
                elif lim.kind == "exceedance":
                    xs.append(lim.param)
                    ys.append(lim.limit)
        self._limit_marks.set_data(xs, ys)

        self._point.set_data([score.tvar95], [score.expected_net_value])
        px, py = [score.tvar95], [score.expected_net_value]
        stale = self.frontier is not None and self._frontier_key != (self._values["Total budget"], self.appetite)
        if self.frontier is not None and not stale:
            t = self.frontier.table
            i = int(np.argmin(np.abs(t["security_share"].to_numpy() - float(self.security_share.value))))
            self._front_share.set_data([t["tvar95"].iloc[i]], [t["expected_net_value"].iloc[i]])
        else:
            self._front_share.set_data([], [])
        if self.frontier is not None:
            # Limits from the frontier (and the status quo); a plan outside them widens them.
            fx = list(self.frontier.table["tvar95"]) + [float(self._nothing_tvar)]
            fy = list(self.frontier.table["expected_net_value"]) + [-float(self._nothing.mean())]
            xlim, ylim = _nice_range(fx, pad=0.1), _nice_range(fy, pad=0.1)
            if not (xlim[0] <= px[0] <= xlim[1] and ylim[0] <= py[0] <= ylim[1]):
                xlim, ylim = _nice_range(fx + px, pad=0.1), _nice_range(fy + py, pad=0.1)
            title = f"Efficient frontier at a {money(self.frontier.budget)} budget"
        else:
            xlim, ylim = _nice_range(px, pad=0.1), _nice_range(py, pad=0.1)
            title = "This plan: expected net value against TVaR95"
        self._front_note.set_text("budget or appetite changed: Optimise to refresh" if stale else "")
        self.chart.set_title(front, title, fontsize=10)
        self.chart.set_limits(front, x=xlim, y=ylim)
        self.chart.refresh()
