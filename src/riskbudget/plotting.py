"""Figures for analysts and boards (matplotlib).

Every function takes ``ax=None`` (a new figure is made) or an existing Axes,
draws on it and returns the Axes. Money axes read ``$250K``, ``$12M``.
Matplotlib is imported only when a function is called.

* :func:`plot_lec` - loss exceedance curves on a log loss axis, several results
  overlaid, with the tolerance curve and appetite limits marked;
* :func:`plot_histogram` - the annual-loss distribution with ALE and VaR lines;
* :func:`plot_contributions` - scenarios ranked by their contribution to TVaR;
* :func:`plot_tornado` - the tornado of input sensitivities;
* :func:`plot_frontier` - expected net value against TVaR95 along the efficient frontier;
* :func:`plot_trend` - saved plans' ALE, VaR, TVaR and spend across quarterly reviews.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import riskbudget as rb
>>> from riskbudget import plotting
>>> result = rb.simulate(rb.read_register(rb.io.example_path()), years=5_000, seed=1)
>>> ax = plotting.plot_lec(result, tolerance=rb.ToleranceCurve.from_points([(0.2, 8e6), (0.01, 4e7)]))
>>> ax.get_xscale()
'log'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .appetite import Appetite, LimitKind
from .exceptions import RiskBudgetError
from .formatting import money, money_axis, percent
from .optimization import Frontier, Plan
from .review import METRIC_LABELS

__all__ = ["plot_lec", "plot_histogram", "plot_contributions", "plot_tornado", "plot_frontier", "plot_insurance",
           "plot_trend", "plot_by_year"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the report extra
        from .exceptions import missing_dependency

        raise missing_dependency("matplotlib", "report", "Plotting") from None
    _fig, new = plt.subplots(figsize=figsize)
    return new


def _text(s: Any) -> str:
    """Text shown literally by matplotlib: dollar signs would start mathtext."""
    return str(s).replace("$", r"\$")


def _log_percent(p: float, _pos: Any = None) -> str:
    """A tick on a log-probability axis: "10%", "1%", "0.1%", "0.01%" (a plain percent formatter shows "0%")."""
    return f"{100 * p:.3g}%"


def _short(s: str, width: int = 42) -> str:
    return s if len(s) <= width else s[: width - 1] + "…"


def _results(results: Sequence[Any], labels: Sequence[str] | None) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for r in results:
        if isinstance(r, Mapping):
            items += [(str(k), v) for k, v in r.items()]
        else:
            items.append(("", r))
    if not items:
        raise RiskBudgetError("plot_lec: give at least one SimulationResult")
    for _, r in items:
        if not hasattr(r, "column"):
            raise RiskBudgetError(f"plot_lec: expected SimulationResult objects, got {type(r).__name__}")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise RiskBudgetError(f"plot_lec: {len(labels)} labels for {len(items)} results")
        items = [(lab, r) for lab, (_, r) in zip(labels, items)]
    if len(items) == 1 and not items[0][0]:
        items = [("Simulated", items[0][1])]
    return [(lab or f"Result {i + 1}", r) for i, (lab, r) in enumerate(items)]


def plot_lec(
    *results: Any,
    labels: Sequence[str] | None = None,
    tolerance: Any = None,
    appetite: Any = None,
    scenario: str | None = None,
    band: bool = False,
    yscale: str = "linear",
    points: int = 200,
    breaches: bool = False,
    ax: Any = None,
) -> Any:
    """Loss exceedance curve(s): P(annual loss > x) against x on a log axis.

    Parameters
    ----------
    *results : SimulationResult or mapping of label -> SimulationResult
        One or several results to overlay (e.g. inherent and residual).
    labels : sequence of str, optional
        Legend labels, one per result.
    tolerance : ToleranceCurve, optional
        Drawn dashed; by default the appetite's tolerance curve, if any.
    appetite : Appetite, optional
        Limits to mark: ``VaR_q <= X`` and ``P(loss > x) <= p`` as points the
        curve must pass below, ``TVaR_q <= X`` as a vertical line.
    scenario : str, optional
        Plot one scenario instead of the portfolio total.
    band : bool, default False
        Shade +-2 Monte Carlo standard errors around each curve.
    yscale : {"linear", "log"}, default "linear"
        ``"log"`` (a log-probability axis) shows the far tail, where a linear
        axis squashes 1% and 0.5% onto the x-axis; the axis then reaches down
        to the smallest probability of the tolerance curve and the limits.
    points : int, default 200
        Grid points of each curve.
    breaches : bool, default False
        Shade, in each curve's colour, where it lies above the tolerance curve:
        the loss ranges :meth:`~riskbudget.Appetite.check` finds (at least 10
        simulated years on each side), so a breach in the tail is visible.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import riskbudget as rb
    >>> result = rb.simulate(rb.read_register(rb.io.example_path()), years=2_000, seed=1)
    >>> tolerance = rb.ToleranceCurve.from_points([(0.2, 4e6), (0.01, 2e7)])
    >>> ax = plot_lec(result, tolerance=tolerance, yscale="log", breaches=True)
    >>> ax.get_yscale(), bool(ax.get_ylim()[0] < 0.01)
    ('log', True)
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

    if yscale not in ("linear", "log"):
        raise RiskBudgetError(f"plot_lec: yscale ({yscale!r}) must be 'linear' or 'log'")
    items = _results(results, labels)
    if tolerance is None and appetite is not None:
        tolerance = getattr(appetite, "tolerance", None)
    ax = _axes(ax, (7.5, 4.8))

    positives = [r.column(scenario) for _, r in items]
    lows = [float(np.quantile(x[x > 0], 0.001)) for x in positives if np.any(x > 0)]
    highs = [float(x.max()) for x in positives if np.any(x > 0)]
    if not lows:
        ax.text(0.5, 0.5, "No simulated year has a loss", ha="center", va="center", transform=ax.transAxes)
        return ax
    lo, hi = min(lows), max(highs)
    if tolerance is not None:
        lo = min(lo, min(x for _, x in tolerance.points) / 2)
        hi = max(hi, max(x for _, x in tolerance.points) * 1.5)
    grid = np.geomspace(lo, hi, int(points)) if hi > lo else np.array([lo])
    smallest = 1.0
    for i, (label, r) in enumerate(items):
        curve = r.lec(grid, scenario=scenario)
        y = curve["exceedance"].to_numpy()
        keep = y > 0
        if yscale == "log":
            y_plot = np.where(keep, y, np.nan)
        else:
            y_plot = y
        ax.plot(grid, y_plot, color=f"C{i}", lw=2, label=_text(label))
        if band:
            se = curve["exceedance_se"].to_numpy()
            ax.fill_between(grid, np.clip(y - 2 * se, 0, 1), np.clip(y + 2 * se, 0, 1), color=f"C{i}", alpha=0.15, lw=0)
        if keep.any():
            smallest = min(smallest, float(y[keep].min()))
        if breaches and tolerance is not None:
            ranges = Appetite(tolerance=tolerance).check(r.column(scenario)).tolerance_breaches()
            inside = np.zeros(grid.size, dtype=bool)
            for low, high, _years in ranges:
                inside |= (grid >= low) & (grid <= high)
            tolerated = tolerance.prob_at(grid)
            if (inside & (y > tolerated)).any():
                ax.fill_between(grid, tolerated, y, where=inside & (y > tolerated), color=f"C{i}", alpha=0.45, lw=0,
                                label=_text(f"{label}: above the tolerance curve"))
    if tolerance is not None:
        ax.plot(grid, tolerance.prob_at(grid), ls="--", color="C3", lw=1.8, label="Tolerance curve")
        px = [x for _, x in tolerance.points]
        py = [p for p, _ in tolerance.points]
        ax.plot(px, py, ls="none", marker="o", ms=5, color="C3")
    if appetite is not None:
        for lim in getattr(appetite, "limits", ()):
            if lim.kind is LimitKind.VAR:
                ax.plot([lim.limit], [1.0 - lim.param], ls="none", marker="X", ms=9, color="black", zorder=5,
                        label=_text(f"{lim.label} ≤ {money(lim.limit)}"))
            elif lim.kind is LimitKind.EXCEEDANCE:
                ax.plot([lim.param], [lim.limit], ls="none", marker="D", ms=7, color="dimgray", zorder=5,
                        label=_text(f"{lim.label} ≤ {percent(lim.limit, digits=2)}"))
            else:
                ax.axvline(lim.limit, color="black", ls=":", lw=1.2, label=_text(f"{lim.label} ≤ {money(lim.limit)}"))
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    money_axis(ax, "x")
    ax.xaxis.set_minor_formatter(NullFormatter())
    if yscale == "log":
        floor = smallest
        if tolerance is not None:
            floor = min(floor, min(p for p, _ in tolerance.points))
        for lim in getattr(appetite, "limits", ()):
            if lim.kind is LimitKind.VAR:
                floor = min(floor, 1.0 - lim.param)
            elif lim.kind is LimitKind.EXCEEDANCE:
                floor = min(floor, lim.limit)
        ax.set_yscale("log")
        ax.set_ylim(max(floor / 2, 1e-7), 1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(_log_percent))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0.0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_xlabel("Annual loss")
    ax.set_ylabel("P(annual loss > x)")
    title = "Loss exceedance curve" + (f": {_text(_short(scenario))}" if scenario else "")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left" if yscale == "log" else "upper right", fontsize=8, framealpha=0.9)
    return ax


def plot_histogram(
    result: Any,
    *,
    q: float = 0.95,
    scenario: str | None = None,
    bins: int = 60,
    log_scale: bool = True,
    ax: Any = None,
) -> Any:
    """Histogram of simulated annual losses with the ALE and VaR_q marked.

    With ``log_scale`` (the default) the bins are spaced evenly in log loss
    and only years with a loss are drawn; the share of loss-free years is
    given in the title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from . import metrics

    x = result.column(scenario)
    ax = _axes(ax, (7.5, 4.2))
    ale = metrics.ale(x)
    v = metrics.var(x, q)
    t = metrics.tvar(x, q)
    positive = x[x > 0]
    p_zero = 1.0 - positive.size / x.size
    if positive.size == 0:
        ax.text(0.5, 0.5, "No simulated year has a loss", ha="center", va="center", transform=ax.transAxes)
        return ax
    if log_scale:
        lo, hi = float(positive.min()), float(positive.max())
        edges = np.geomspace(lo, hi * 1.0001, bins + 1) if hi > lo else np.array([lo * 0.9, lo * 1.1])
        weights = np.full(positive.size, 1.0 / x.size)
        ax.hist(positive, bins=edges, weights=weights, color="C0", alpha=0.75, edgecolor="white", lw=0.4)
        ax.set_xscale("log")
    else:
        ax.hist(x, bins=bins, weights=np.full(x.size, 1.0 / x.size), color="C0", alpha=0.75, edgecolor="white", lw=0.4)
    label_q = metrics.quantile_label(q)
    ax.axvline(ale, color="C1", lw=2, label=_text(f"ALE {money(ale)}"))
    if v > 0 or not log_scale:
        ax.axvline(v, color="C3", lw=2, label=_text(f"VaR{label_q} {money(v)}"))
    if t > 0 or not log_scale:
        ax.axvline(t, color="C3", lw=1.5, ls="--", label=_text(f"TVaR{label_q} {money(t)}"))
    money_axis(ax, "x")
    from matplotlib.ticker import NullFormatter, PercentFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_xlabel("Annual loss")
    ax.set_ylabel("Share of simulated years")
    what = _text(_short(scenario)) if scenario else "Annual loss"
    ax.set_title(f"{what}: {x.size:,} simulated years, {percent(p_zero)} with no loss")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def plot_contributions(result_or_table: Any, *, q: float = 0.95, top: int = 10, ax: Any = None) -> Any:
    """Scenarios ranked by their contribution to the portfolio TVaR, with their ALE.

    Parameters
    ----------
    result_or_table : SimulationResult or DataFrame
        A result, or the table from :func:`riskbudget.portfolio.contributions`.
    q : float, default 0.95
        Tail level (when a result is given).
    top : int, default 10
        Scenarios shown; the rest are summed into one bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .portfolio import contributions

    table = contributions(result_or_table, q=q) if hasattr(result_or_table, "losses") else result_or_table
    for col in ("ale", "tvar_contribution", "tvar_share"):
        if col not in table.columns:
            raise RiskBudgetError(f"plot_contributions: the table has no column {col!r}; pass a SimulationResult")
    if int(top) < 1:
        raise RiskBudgetError(f"plot_contributions: top ({top!r}) must be at least 1")
    table = table.sort_values("tvar_contribution", ascending=False, kind="stable")
    shown = table.head(int(top))
    rest = table.iloc[int(top):]
    names = [_text(_short(str(n))) for n in shown.index]
    tvar_c = list(shown["tvar_contribution"])
    ale = list(shown["ale"])
    share = list(shown["tvar_share"])
    if len(rest):
        names.append(f"Other ({len(rest)} scenarios)")
        tvar_c.append(float(rest["tvar_contribution"].sum()))
        ale.append(float(rest["ale"].sum()))
        share.append(float(rest["tvar_share"].sum()))
    ax = _axes(ax, (7.5, 0.45 * len(names) + 1.4))
    y = np.arange(len(names))
    h = 0.38
    level = table.attrs.get("q", q)
    from . import metrics

    label_q = metrics.quantile_label(level)
    ax.barh(y - h / 2, tvar_c, height=h, color="C3", label=f"Contribution to TVaR{label_q}")
    ax.barh(y + h / 2, ale, height=h, color="C0", label="ALE")
    for yi, c, s in zip(y, tvar_c, share):
        ax.text(c, yi - h / 2, f" {percent(s, digits=0)}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    money_axis(ax, "x")
    ax.set_xlabel("Annual loss")
    ax.set_title(f"Where the tail comes from: share of TVaR{label_q} by scenario")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_xlim(0, max(tvar_c + ale) * 1.15 if max(tvar_c + ale) > 0 else 1)
    return ax


def plot_tornado(tornado: Any, *, metric: str = "ale", top: int = 12, ax: Any = None) -> Any:
    """Tornado chart: the portfolio ALE (or VaR) with each input at its low and high percentile.

    Parameters
    ----------
    tornado : Tornado
        From :func:`riskbudget.portfolio.tornado`.
    metric : {"ale", "var"}, default "ale"
    top : int, default 12
        Inputs shown, largest swing first.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if metric not in ("ale", "var"):
        raise RiskBudgetError(f"plot_tornado: metric ({metric!r}) must be 'ale' or 'var'")
    if not hasattr(tornado, "table"):
        raise RiskBudgetError(f"plot_tornado: expected a Tornado (riskbudget.portfolio.tornado), not {type(tornado).__name__}")
    from . import metrics

    rows = tornado.top(int(top), by=metric)
    base = tornado.base_ale if metric == "ale" else tornado.base_var
    ax = _axes(ax, (7.5, 0.42 * max(len(rows), 1) + 1.5))
    label_metric = "ALE" if metric == "ale" else f"VaR{metrics.quantile_label(tornado.q)}"
    if not len(rows):
        ax.text(0.5, 0.5, "No uncertain inputs", ha="center", va="center", transform=ax.transAxes)
        return ax
    y = np.arange(len(rows))
    lo_vals = rows[f"{metric}_low"].to_numpy()
    hi_vals = rows[f"{metric}_high"].to_numpy()
    p_lo = f"P{tornado.low * 100:g}"
    p_hi = f"P{tornado.high * 100:g}"
    ax.barh(y, lo_vals - base, left=base, color="C0", height=0.6, label=f"input at its {p_lo}")
    ax.barh(y, hi_vals - base, left=base, color="C1", height=0.6, label=f"input at its {p_hi}")
    ax.axvline(base, color="black", lw=1)
    labels = [_text(f"{_short(s, 30)}: {inp}") for s, inp in zip(rows["scenario"], rows["input"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    money_axis(ax, "x")
    ax.set_xlabel(_text(f"Portfolio {label_metric} (base {money(base)})"))
    ax.set_title(f"Tornado: portfolio {label_metric}, each input from its {p_lo} to its {p_hi}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_frontier(frontier: Frontier, ax: Any = None, *, chosen: Plan | None = None) -> Any:
    """Expected net value against TVaR95 along the frontier; the best feasible split starred.

    Parameters
    ----------
    frontier : Frontier
    ax : matplotlib Axes, optional
    chosen : Plan, optional
        The plan decided on, marked with a black diamond at its own TVaR95 and
        expected net value and labelled with its share of spend on security
        (it need not lie on the frontier's grid of shares).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(frontier, Frontier):
        raise RiskBudgetError(f"plot_frontier: expected a Frontier, not {type(frontier).__name__}")
    if chosen is not None and not isinstance(chosen, Plan):
        raise RiskBudgetError(f"plot_frontier: chosen must be a Plan, not {type(chosen).__name__}")
    ax = _axes(ax, (7, 4.5))
    t = frontier.table
    ax.plot(t["tvar95"], t["expected_net_value"], "-", color="0.6", lw=1, zorder=1)
    ok = t["feasible"].to_numpy()
    ax.scatter(
        t.loc[ok, "tvar95"],
        t.loc[ok, "expected_net_value"],
        color="C0",
        zorder=2,
        label="within appetite" if frontier.appetite else "best plan at share",
    )
    if (~ok).any():
        ax.scatter(
            t.loc[~ok, "tvar95"],
            t.loc[~ok, "expected_net_value"],
            facecolors="none",
            edgecolors="C3",
            zorder=2,
            label="appetite not met" + (" (least-risk plan)" if frontier.appetite_mode == "constraint" else ""),
        )
    for i in range(0, len(t), max(1, len(t) // 5)):
        ax.annotate(
            f"{t['security_share'].iloc[i]:.0%}",
            (t["tvar95"].iloc[i], t["expected_net_value"].iloc[i]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    if frontier.best_index is not None:
        r = t.iloc[frontier.best_index]
        ax.scatter(
            [r["tvar95"]],
            [r["expected_net_value"]],
            marker="*",
            s=250,
            color="C2",
            zorder=3,
            label=f"best split: {r['security_share']:.0%} security",
        )
    if frontier.appetite is not None:
        for lim in frontier.appetite.limits:
            if lim.kind is LimitKind.TVAR and lim.param == 0.95:
                ax.axvline(lim.limit, color="C3", ls="--", lw=1, label="TVaR95 limit")
    if chosen is not None:
        share = chosen.security_spend / chosen.total_spend if chosen.total_spend > 0 else 0.0
        ax.scatter([chosen.tvar95], [chosen.expected_net_value], marker="D", s=90, facecolors="none",
                   edgecolors="black", linewidths=2, zorder=4,
                   label=f"the plan: {share:.0%} of its spend on security")
    money_axis(ax, "x")
    money_axis(ax, "y")
    ax.set_xlabel("TVaR95 of annual loss")
    ax.set_ylabel("Expected net value per year")

    ax.set_title(f"Efficient frontier, budget {money(frontier.budget)}")
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_insurance(result: Any, *, tolerance: Any = None, appetite: Any = None, ax: Any = None) -> Any:
    """Loss exceedance curves of an insured result: before insurance, retained, and transferred to the insurer.

    Parameters
    ----------
    result : SimulationResult
        Simulated with ``insurance=`` (``result.recoveries`` is set).
    tolerance, appetite : optional
        As for :func:`plot_lec`; the appetite applies to the retained loss.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        On a log-probability axis, so the tail where layers pay is visible.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if getattr(result, "recoveries", None) is None:
        raise RiskBudgetError("plot_insurance: the result was simulated without insurance (simulate(..., insurance=))")
    ax = _axes(ax, (7.5, 4.8))
    retained = result.annual_loss.to_numpy()
    recovered = result.recovered.to_numpy()
    ground = retained + recovered
    positive = ground[ground > 0]
    if positive.size == 0:
        ax.text(0.5, 0.5, "No simulated year has a loss", ha="center", va="center", transform=ax.transAxes)
        return ax
    lo, hi = float(np.quantile(positive, 0.001)), float(positive.max())
    grid = np.geomspace(lo, hi, 200)
    n = ground.size
    for label, x, style in (("Before insurance", ground, dict(color="0.45", lw=1.8, ls="-")),
                            ("Retained by the company", retained, dict(color="C0", lw=2.2, ls="-")),
                            ("Paid by the insurer", recovered, dict(color="C2", lw=1.8, ls="-."))):
        y = np.array([np.count_nonzero(x > g) for g in grid]) / n
        ax.plot(grid, np.where(y > 0, y, np.nan), label=label, **style)
    if tolerance is None and appetite is not None:
        tolerance = getattr(appetite, "tolerance", None)
    if tolerance is not None:
        ax.plot(grid, tolerance.prob_at(grid), ls="--", color="C3", lw=1.6, label="Tolerance curve")
    for p in result.insurance:
        if p.basis == "annual":
            ax.axvspan(p.retention, min(p.exhaustion, hi), color="C2", alpha=0.06)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(max(1.0 / n / 2, 1e-7), 1.0)
    money_axis(ax, "x")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(_log_percent))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("Annual loss")
    ax.set_ylabel("P(annual loss > x)")
    ax.set_title(_text(f"Risk transfer: premiums {money(result.premium)} a year"))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return ax


def plot_trend(
    trend: Any, *, metrics: Sequence[str] = ("ale", "var95", "tvar95", "total_spend"), ax: Any = None
) -> Any:
    """Metrics of saved plans across reviews (quarterly): one line per metric, the plans in order along x.

    Parameters
    ----------
    trend : pandas.DataFrame
        What :func:`riskbudget.review.trend` returns: one row per saved plan,
        indexed by its label, in order.
    metrics : sequence of str
        Columns to draw (money), among ``ale``, ``var95``, ``tvar95``,
        ``total_spend``, ``security_spend``, ``it_spend``, ``expected_value``
        and ``expected_net_value``. The ALE carries bars of ±2 Monte Carlo
        standard errors when ``ale_se`` is there.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        A plan outside its appetite is marked by a red ring on each line and
        ``(outside appetite)`` under its label.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"ale": [9e6, 8e6], "var95": [3e7, 2.8e7]}, index=["q1.json", "q2.json"])
    >>> ax = plot_trend(table, metrics=("ale", "var95"))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['ALE', 'VaR95']
    """
    import pandas as pd

    if not isinstance(trend, pd.DataFrame):
        raise RiskBudgetError(
            f"plot_trend: expected the DataFrame of riskbudget.review.trend(plans), not {type(trend).__name__}"
        )
    if trend.empty:
        raise RiskBudgetError("plot_trend: the trend has no plans; give at least one saved plan")
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown or not metrics:
        raise RiskBudgetError(f"plot_trend: metrics {unknown or list(metrics)} must be among {list(METRIC_LABELS)}")
    missing = [m for m in metrics if m not in trend.columns]
    if missing:
        raise RiskBudgetError(f"plot_trend: the trend lacks the column(s) {missing}; build it with "
                              "riskbudget.review.trend(plans)")
    ax = _axes(ax, (max(6.0, 1.2 * len(trend) + 3.0), 4.5))
    x = np.arange(len(trend))
    outside = np.zeros(len(trend), dtype=bool)
    if "appetite_ok" in trend.columns:
        outside = np.array([isinstance(v, (bool, np.bool_)) and not v for v in trend["appetite_ok"]], dtype=bool)
    handles, lowest = [], 0.0
    for i, m in enumerate(metrics):
        y = pd.to_numeric(trend[m], errors="coerce").to_numpy(dtype=float)
        if m == "ale" and "ale_se" in trend.columns:
            se = pd.to_numeric(trend["ale_se"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            handles.append(ax.errorbar(x, y, yerr=2 * se, fmt="o-", color=f"C{i}", capsize=3, label=METRIC_LABELS[m]))
        else:
            handles.extend(ax.plot(x, y, "o-", color=f"C{i}", label=METRIC_LABELS[m]))
        if outside.any():
            ax.scatter(x[outside], y[outside], s=140, facecolors="none", edgecolors="C3", linewidths=1.8, zorder=3)
        if np.isfinite(y).any():
            lowest = min(lowest, float(np.nanmin(y)))
    if lowest >= 0:
        ax.set_ylim(bottom=0.0)  # money per year from zero, so that changes are seen at their true size
    labels = [_text(str(lab) if len(str(lab)) <= 24 else "…" + str(lab)[-23:]) + ("\n(outside appetite)" if out else "")
              for lab, out in zip(trend.index, outside, strict=True)]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlim(-0.5, len(trend) - 0.5)
    money_axis(ax, "y")
    ax.set_ylabel("Per year")
    ax.set_title("Saved plans across reviews")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return ax


def plot_by_year(plan: Any, *, appetite: Any = None, ax: Any = None) -> Any:
    """Spend and risk by year of a multi-year plan: security and IT spend as bars, ALE and TVaR95 as lines.

    Parameters
    ----------
    plan : Plan
        A plan with ``by_year`` (``optimize(..., horizon=T)`` or ``evaluate(..., horizon=T)``).
    appetite : Appetite, optional
        Draws its TVaR95 limit, if it has one (default: the plan's appetite).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from .exceptions import RiskBudgetError

    table = getattr(plan, "by_year", None)
    if table is None:
        raise RiskBudgetError("plot_by_year: the plan has no year table; make it with optimize(..., horizon=T)")
    ax = _axes(ax, (7, 3.5))
    years = np.asarray(table.index, dtype=float)
    ax.bar(years - 0.2, table["security_spend"] / 1e6, width=0.4, label="security spend", color="#4c72b0")
    ax.bar(years + 0.2, table["it_spend"] / 1e6, width=0.4, label="IT spend", color="#dd8452")
    ax.plot(years, table["ale"] / 1e6, "o-", color="black", label="ALE")
    ax.plot(years, table["tvar95"] / 1e6, "s--", color="firebrick", label="TVaR95")
    app = appetite if appetite is not None else getattr(plan, "appetite_spec", None)
    for lim in getattr(app, "limits", ()) or ():
        if lim.label == "TVaR95":
            ax.axhline(lim.limit / 1e6, color="firebrick", lw=0.8, ls=":", label=_text(f"TVaR95 limit {lim.limit / 1e6:g}M"))
    ax.set_xticks(years)
    ax.set_xticklabels([str(int(t)) for t in years])
    ax.set_xlabel("year")
    ax.set_ylabel(_text("$M"))
    partial = [int(t) for t in table.index[table["partial_year"]]] if "partial_year" in table else []
    title = "Spend and risk by year"
    if partial:
        title += f" (year {', '.join(map(str, partial))}: tail approximate)"
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    return ax
