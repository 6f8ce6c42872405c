"""The board report: one self-contained HTML file for a board pack.

:func:`report` simulates a register (and, with controls, the residual risk on
the same seed), and renders a single HTML file with every figure embedded as
a base64 PNG: no scripts, no external files, printable. Sections:

1. **headline** - ALE, VaR and TVaR with their Monte Carlo standard errors,
   the range of a typical year, and a note on every ALE whose standard error
   exceeds 5% of it (:data:`~riskbudget.simulation.ALE_RSE_LIMIT`);
2. **lec** - the loss exceedance curve against the tolerance curve, with a
   table of exceedance probabilities and return periods;
3. **scenarios** - the top scenarios by their share of the tail (Euler
   contributions to TVaR) and of the ALE;
4. **appetite** - which limits hold, by how much, and where the curve
   crosses the tolerance curve;
5. **residual** - inherent vs residual risk on common random numbers, when
   controls (or a residual register) are given;
6. **distribution** - the histogram of annual loss;
7. **assumptions** - iterations, seed, method, dependence, data sources and
   the inputs of every scenario.

The template is rendered by jinja2 with autoescaping on, so names from a
register are shown as text, never as markup. The file is written atomically.

Examples
--------
>>> import tempfile, pathlib
>>> import riskbudget as rb
>>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
>>> board = rb.report(rb.io.example_path(), years=5_000, seed=7, out=out,
...                   appetite=rb.io.example_path("appetite.yaml"))
>>> board.path == out and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import base64
import datetime as _dt
import io as _io
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics, plotting
from ._version import __version__
from .appetite import Appetite, ToleranceCurve, read_appetite
from .controls import apply_controls, check_references, read_controls
from .distributions import PERT, Constant, LogNormal
from .exceptions import RiskBudgetError, missing_dependency
from .fair import LossForms, as_register
from .formatting import money, percent
from .io import atomic_write, read_register
from .portfolio import compare, contributions
from .simulation import simulate

__all__ = ["report", "BoardReport", "ReportOptions"]

#: Losses at which the LEC table reports P(annual loss > x), besides the tolerance points.
DEFAULT_THRESHOLDS = (1e6, 5e6, 10e6, 25e6, 50e6, 100e6)


@dataclass(frozen=True)
class ReportOptions:
    """How the board report reads: its title, the tail level and the size of its tables.

    Parameters
    ----------
    title, organisation : str
        Shown at the top.
    q : float, default 0.95
        Level of the headline VaR and TVaR and of the tail attribution.
    top : int, default 10
        Scenarios listed in the tail attribution (and in the reductions by scenario).
    thresholds : iterable of float
        Losses at which the report tabulates P(annual loss > x), besides the
        tolerance curve's points.

    Examples
    --------
    >>> ReportOptions(title="Q3 board pack", top=5).top
    5
    >>> ReportOptions(q=1.0)
    Traceback (most recent call last):
    ...
    riskbudget.exceptions.RiskBudgetError: report: q (1.0) must lie in (0, 1), e.g. 0.95
    """

    title: str = "Cyber risk: board report"
    organisation: str = ""
    q: float = 0.95
    top: int = 10
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        if int(self.top) < 1:
            raise RiskBudgetError(f"report: top ({self.top!r}) must be at least 1")
        if not 0.0 < float(self.q) < 1.0:
            raise RiskBudgetError(f"report: q ({self.q!r}) must lie in (0, 1), e.g. 0.95")
        object.__setattr__(self, "top", int(self.top))
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _report_options(keywords: Mapping[str, Any], options: ReportOptions | None) -> ReportOptions:
    """``options`` with the loose keywords set (each a :class:`ReportOptions` field); unknown or doubled ones refused.

    A keyword equal to the field's default leaves ``options`` as it is, as in
    :func:`riskbudget.optimization.options.route_options`.
    """
    if options is not None and not isinstance(options, ReportOptions):
        raise RiskBudgetError(f"report: options must be a riskbudget.reporting.ReportOptions, not {type(options).__name__}")
    given = options or ReportOptions()
    names = ReportOptions.field_names()
    unknown = [k for k in keywords if k not in names]
    if unknown:
        which = f"keyword {unknown[0]!r}" if len(unknown) == 1 else f"keywords {unknown}"
        raise RiskBudgetError(f"report: unknown {which}; the options are {', '.join(names)}")
    if not keywords:
        return given
    base = ReportOptions()
    loose = replace(base, **keywords)
    changes: dict[str, Any] = {}
    for name in keywords:
        value, mine, default = getattr(loose, name), getattr(given, name), getattr(base, name)
        if _same(value, default):
            continue
        if not _same(mine, default) and not _same(mine, value):
            raise RiskBudgetError(
                f"report: {name} is given twice, as {name}={value!r} and in options= ({mine!r}); give it once"
            )
        changes[name] = value
    return replace(given, **changes) if changes else given


@dataclass(frozen=True, eq=False)
class BoardReport:
    """A rendered board report and the numbers behind it.

    Attributes
    ----------
    html : str
        The complete, self-contained HTML document.
    path : pathlib.Path or None
        Where it was written (``out=``), if anywhere.
    result : SimulationResult
        The simulated register as given (inherent risk when controls are given).
    residual_result : SimulationResult or None
        The register with controls applied, on the same seed.
    comparison : Comparison or None
        Inherent vs residual (:func:`riskbudget.portfolio.compare`).
    appetite_status : AppetiteStatus or None
    contributions : pandas.DataFrame
        Euler contributions of each scenario (:func:`riskbudget.portfolio.contributions`).
    figures : dict of str to bytes
        The embedded PNG figures by name (``lec``, ``scenarios``,
        ``distribution`` and, with controls, ``residual``).
    residual_appetite_status : AppetiteStatus or None
        The appetite checked against the residual result.
    notes : tuple of str
        Every ALE (scenario or portfolio) whose Monte Carlo standard error
        exceeds 5% of it, said in words as in ``summary().attrs["notes"]``
        (:meth:`~riskbudget.simulation.SimulationResult.precision_notes`); the
        residual result's start with "with the controls: ". Shown in the report.
    """

    html: str
    path: Path | None
    result: Any
    residual_result: Any
    comparison: Any
    appetite_status: Any
    contributions: Any
    figures: dict[str, bytes] = field(default_factory=dict)
    residual_appetite_status: Any = None
    notes: tuple[str, ...] = ()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the HTML (atomically) and return the path."""
        return atomic_write(path, self.html)

    def save_figures(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write each figure as ``<name>.png`` in ``directory`` (atomically)."""
        return [atomic_write(Path(directory) / f"{name}.png", data) for name, data in self.figures.items()]

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f'<iframe srcdoc="{escape(self.html, quote=True)}" style="width:100%;height:720px;border:1px solid #ccc">'
            f"</iframe>"
        )

    def __repr__(self) -> str:
        where = f", written to {self.path}" if self.path else ""
        return f"BoardReport({len(self.result.names)} scenarios, {self.result.years:,} years{where})"


# --------------------------------------------------------------------------- #
def _png(fig: Any) -> bytes:
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_dependency("matplotlib", "report", "The board report") from None
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _load_register(register: Any, layout: str) -> Any:
    if isinstance(register, (str, os.PathLike)):
        return read_register(register, layout=layout)
    return as_register(register)


def _load_appetite(appetite: Any, tolerance: Any) -> tuple[Any, str]:
    source = ""
    if isinstance(appetite, (str, os.PathLike)):
        source = str(appetite)
        appetite = read_appetite(appetite)
    elif appetite is not None and not isinstance(appetite, Appetite):
        raise RiskBudgetError(f"report: appetite must be an Appetite or the path of an appetite file, not {type(appetite).__name__}")
    if tolerance is not None:
        if not isinstance(tolerance, ToleranceCurve):
            tolerance = ToleranceCurve.from_points(tolerance)
        limits = appetite.limits if appetite is not None else ()
        appetite = Appetite(limits=limits, tolerance=tolerance)
    return appetite, source


def _load_controls(controls: Any, register: Any) -> tuple[Any, list[dict[str, Any]], str]:
    """(residual register, control rows for the table, source) from a path or a sequence of controls."""
    source = ""
    if isinstance(controls, (str, os.PathLike)):
        source = str(controls)
        controls = read_controls(controls)
    controls = tuple(controls)
    check_references(controls)  # the optimiser's rule: requires/excludes name known items
    residual = apply_controls(register, controls)
    rows = []
    for c in controls:
        cost = None
        for attr in ("cost_per_year", "annual_cost", "cost"):
            value = getattr(c, attr, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cost = float(value)
                break
        rows.append({"name": str(getattr(c, "name", c)), "cost": cost, "description": str(getattr(c, "description", "") or "")})
    return residual, rows, source


def _estimate_text(d: Any, *, is_money: bool = False) -> str:
    """A calibrated estimate as a reader states it: "PERT 0.2 / 0.6 / 2", "90% in $500K-$12M"."""
    if d is None:
        return ""
    fmt = money if is_money else (lambda v: f"{v:.3g}")
    if isinstance(d, LossForms):
        return "; ".join(f"{k.replace('_', ' ')}: {_estimate_text(v, is_money=is_money)}" for k, v in d.items())
    if isinstance(d, Constant):
        return fmt(d.value)
    if isinstance(d, PERT) and d.lam == 4.0:
        return f"PERT {fmt(d.low)} / {fmt(d.mode)} / {fmt(d.high)}"
    if isinstance(d, LogNormal) and d.ci is not None:
        low, high, level = d.ci
        return f"{level * 100:g}% in {fmt(low)}\u2013{fmt(high)} (lognormal, mean {fmt(d.mean())})"
    return str(d)


def _frequency_text(s: Any) -> str:
    kind = s.frequency_kind
    if kind == "contact_frequency":
        text = (f"contacts/yr {_estimate_text(s.contact_frequency)} x P(action) "
                f"{_estimate_text(s.probability_of_action)}")
    else:
        label = {"threat_event_frequency": "threat events/yr", "loss_event_frequency": "loss events/yr",
                 "annual_probability": "annual probability"}[kind]
        text = f"{label} {_estimate_text(getattr(s, kind))}"
    if s.susceptibility is not None:
        text += f"; susceptibility {_estimate_text(s.susceptibility)}"
    elif s.threat_capability is not None:
        text += (f"; threat capability {_estimate_text(s.threat_capability)} vs resistance "
                 f"{_estimate_text(s.resistance_strength)}")
    return text


def _loss_text(s: Any) -> str:
    text = _estimate_text(s.primary_loss, is_money=True)
    if s.secondary_loss is not None:
        text += (f"; secondary {_estimate_text(s.secondary_loss, is_money=True)} in "
                 f"{_estimate_text(s.secondary_loss_probability)} of loss events")
    return text




# --------------------------------------------------------------------------- #
# Loading and simulating
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Inputs:
    """What the report is about, read and checked: the register, the residual register, the appetite."""

    register: Any
    residual: Any
    appetite: Any
    appetite_source: str
    control_rows: list[dict[str, Any]]
    controls_source: str


def _load_inputs(register: Any, controls: Any, residual: Any, appetite: Any, tolerance: Any, layout: str) -> _Inputs:
    reg = _load_register(register, layout)
    if controls is not None and residual is not None:
        raise RiskBudgetError("report: give controls= or residual=, not both")
    appetite, appetite_source = _load_appetite(appetite, tolerance)
    control_rows: list[dict[str, Any]] = []
    controls_source = ""
    if controls is not None:
        residual, control_rows, controls_source = _load_controls(controls, reg)
    if residual is not None:
        residual = as_register(residual)
    return _Inputs(reg, residual, appetite, appetite_source, control_rows, controls_source)


def _simulate(inputs: _Inputs, years: int, seed: int | None, method: str, dependence: Any,
              progress: bool | None) -> tuple[Any, Any]:
    """The register and, on the same seed (common random numbers), the residual register."""
    result = simulate(inputs.register, years=years, seed=seed, method=method,  # type: ignore[arg-type]
                      dependence=dependence, progress=progress)
    residual_result = None
    if inputs.residual is not None:
        residual_result = simulate(inputs.residual, years=years, seed=result.seed, method=method,  # type: ignore[arg-type]
                                   dependence=dependence, progress=progress)
    return result, residual_result


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
def _figures(result: Any, residual_result: Any, contrib: Any, appetite: Any, opts: ReportOptions) -> dict[str, bytes]:
    """The embedded PNGs: ``lec``, ``scenarios``, ``distribution`` and, with a residual, ``residual``."""
    figures: dict[str, bytes] = {}
    fig, ax = _figure((8.0, 4.8))
    plotting.plot_lec(result, labels=["Simulated annual loss" if residual_result is None else "Inherent (no controls)"],
                      appetite=appetite, ax=ax)
    figures["lec"] = _png(fig)
    n_bars = min(opts.top, len(contrib)) + (1 if len(contrib) > opts.top else 0)
    fig, ax = _figure((8.0, 0.45 * n_bars + 1.6))
    plotting.plot_contributions(contrib, top=opts.top, ax=ax)
    figures["scenarios"] = _png(fig)
    fig, ax = _figure((8.0, 4.0))
    plotting.plot_histogram(result, q=opts.q, ax=ax)
    figures["distribution"] = _png(fig)
    if residual_result is not None:
        fig, ax = _figure((8.0, 4.8))
        plotting.plot_lec(result, residual_result, labels=["Inherent (no controls)", "Residual (with controls)"],
                          appetite=appetite, ax=ax)
        figures["residual"] = _png(fig)
    return figures


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def _headline(x: np.ndarray, q: float) -> dict[str, Any]:
    """ALE, VaR and TVaR at ``q`` (and VaR99) with their standard errors, and the range of a typical year."""
    label_q = metrics.quantile_label(q)
    summary = metrics.describe(x, quantiles=(0.05, 0.5, 0.9, 0.95, 0.99), q=q)
    return {
        "ale": summary["ale"], "ale_se": summary["ale_se"],
        "var": summary[f"var{label_q}"], "var_se": summary[f"var{label_q}_se"],
        "tvar": summary[f"tvar{label_q}"], "tvar_se": summary[f"tvar{label_q}_se"],
        "var99": summary["p99"], "var99_se": metrics.var_se(x, 0.99),
        "p_loss": summary["p_loss"], "p5": summary["p5"], "p50": summary["p50"], "p95": summary["p95"],
        "label_q": label_q, "return_q": 1.0 / (1.0 - q),
    }


def _lec_levels(thresholds: Iterable[float], tolerance: Any) -> list[float]:
    """The losses the LEC table reports: the thresholds and the tolerance curve's points."""
    points = {x_ for _, x_ in tolerance.points} if tolerance is not None else set()
    return sorted({float(t) for t in thresholds} | points)


def _lec_rows(x: np.ndarray, levels: list[float], tolerance: Any) -> list[dict[str, Any]]:
    """P(annual loss > level), its standard error, return period and what the tolerance curve allows."""
    rows = []
    for level in levels:
        p = float(metrics.exceedance(x, level))
        tolerated = float(tolerance.prob_at(level)) if tolerance is not None else None
        rows.append({
            "loss": level, "p": p, "se": float(metrics.exceedance_se(p, x.size)),
            "return_period": float(metrics.return_period(p)),
            "tolerated": tolerated,
            "ok": None if tolerated is None else p <= tolerated,
        })
    return rows


def _scenario_rows(contrib: Any, register: Any, top: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None, float]:
    """The top scenarios by contribution to TVaR, the rest summed, and the top three's share of the tail."""
    ranked = contrib.sort_values("tvar_contribution", ascending=False, kind="stable")
    rows = []
    for name, row in ranked.head(top).iterrows():
        s = register[name]
        rows.append({
            "name": name, "category": s.category, "owner": s.owner,
            "ale": row["ale"], "ale_share": row["ale_share"], "tvar": row["tvar_contribution"],
            "tvar_share": row["tvar_share"], "standalone_var": row["standalone_var"],
        })
    rest = ranked.iloc[top:]
    rest_row = None
    if len(rest):
        rest_row = {"count": len(rest), "ale": float(rest["ale"].sum()), "ale_share": float(rest["ale_share"].sum()),
                    "tvar": float(rest["tvar_contribution"].sum()), "tvar_share": float(rest["tvar_share"].sum())}
    return rows, rest_row, float(ranked.head(3)["tvar_share"].sum())


def _appetite_rows(status: Any) -> list[dict[str, Any]]:
    """Each appetite limit, formatted: threshold, value, its standard error, whether it holds, the margin."""
    rows: list[dict[str, Any]] = []
    if status is None:
        return rows
    for _, row in status.table.iterrows():
        is_p = row["kind"] == "exceedance"
        fmt = (lambda v: percent(v, digits=2)) if is_p else money
        rows.append({
            "limit": row["limit"], "threshold": fmt(row["threshold"]), "value": fmt(row["value"]),
            "se": fmt(row["se"]), "ok": bool(row["ok"]),
            "margin": (("" if row["margin"] < 0 else "+") + fmt(row["margin"])) if not is_p else
                      f"{'+' if row['margin'] >= 0 else '-'}{percent(abs(row['margin']), digits=2)}",
        })
    return rows


def _comparison_rows(comparison: Any) -> list[dict[str, Any]]:
    """Inherent vs residual for each headline figure, formatted, with whether the reduction is significant."""
    rows = []
    for key, row in comparison.table.iterrows():
        is_p = key.startswith("p_")
        fmt = (lambda v: percent(v, digits=2)) if is_p else money
        rows.append({
            "label": row["label"], "inherent": fmt(row["inherent"]), "residual": fmt(row["residual"]),
            "reduction": fmt(row["reduction"]), "se": fmt(row["reduction_se"]),
            "share": percent(row["reduction_share"]) if np.isfinite(row["reduction_share"]) else "n/a",
            "significant": abs(row["reduction"]) > 2 * row["reduction_se"] if np.isfinite(row["reduction_se"]) else False,
        })
    return rows


def _residual_context(comparison: Any, residual_status: Any, inputs: _Inputs, top: int,
                      residual_notes: list[str]) -> dict[str, Any]:
    """The inherent-vs-residual section: the comparison, reductions by scenario, the controls and their cost."""
    by = comparison.by_scenario.sort_values("reduction", ascending=False, kind="stable")
    by_rows = [
        {"name": name, "inherent": r["inherent"], "residual": r["residual"], "reduction": r["reduction"],
         "se": r["reduction_se"]}
        for name, r in by.head(top).iterrows() if r["reduction"] != 0 or r["inherent"] != r["residual"]
    ]
    control_rows = inputs.control_rows
    total_cost = sum(c["cost"] for c in control_rows if c["cost"] is not None) if control_rows else None
    return {
        "rows": _comparison_rows(comparison), "by_scenario": by_rows, "controls": control_rows,
        "total_cost": total_cost if control_rows and any(c["cost"] is not None for c in control_rows) else None,
        "ale_reduction": comparison.reduction("ale"), "ale_reduction_se": comparison.reduction_se("ale"),
        "status_ok": None if residual_status is None else residual_status.ok,
        "precision_notes": residual_notes,
        "breaches": [] if residual_status is None else residual_status.breaches,
        "source": inputs.controls_source,
    }


def _assumptions(inputs: _Inputs, result: Any, dependence: Any) -> dict[str, Any]:
    """Iterations, seed, method, dependence, data sources, versions and every scenario's inputs."""
    reg = inputs.register
    sources = []
    if getattr(reg, "source", ""):
        sources.append(("Risk register", str(reg.source)))
    if inputs.appetite_source:
        sources.append(("Risk appetite", inputs.appetite_source))
    if inputs.controls_source:
        sources.append(("Controls", inputs.controls_source))
    scenario_inputs = []
    for s in reg:
        # Common shocks raise a scenario's mean frequency by 1 - p + p E[M] per shock.
        shock = dependence.expected_frequency_multiplier(s.name) if dependence is not None else 1.0
        scenario_inputs.append({
            "name": s.name, "category": s.category, "frequency": _frequency_text(s),
            "loss": _loss_text(s),
            "events": s.expected_loss_event_frequency() * shock, "ale": s.expected_annual_loss() * shock,
            "adjustments": ", ".join(f"{a.source} on {a.factor}" for a in s.adjustments),
        })
    return {
        "years": result.years, "seed": result.seed, "method": result.method, "scenarios": len(reg),
        "dependence": dependence.describe() if dependence is not None else ["Scenarios are independent."],
        "sources": sources, "inputs": scenario_inputs,
        "exact_ale": sum(row["ale"] for row in scenario_inputs),
        "version": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


# --------------------------------------------------------------------------- #
# Rendering
# --------------------------------------------------------------------------- #
def _environment() -> Any:
    """jinja2's environment for ``templates/``: autoescaping on, undefined names an error, the report's filters."""
    try:
        import jinja2
    except ImportError:
        raise missing_dependency("jinja2", "report", "The board report") from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("riskbudget", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["percent"] = percent
    env.filters["pct2"] = lambda v: percent(v, digits=2)
    env.filters["pct0"] = lambda v: percent(v, digits=0)
    env.filters["years"] = lambda v: "never" if not np.isfinite(v) else f"1 in {v:,.0f}" if v >= 10 else f"1 in {v:.1f}"
    return env


def _render(env: Any, figures: Mapping[str, bytes], **context: Any) -> str:
    """The template ``report.html`` rendered with ``context``, the figures embedded as base64 PNGs."""
    images = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    return env.get_template("report.html").render(images=images, **context)


# --------------------------------------------------------------------------- #
def report(
    register: Any,
    *,
    controls: Any = None,
    residual: Any = None,
    appetite: Any = None,
    tolerance: Any = None,
    dependence: Any = None,
    years: int = 100_000,
    seed: int | None = None,
    method: str = "aggregate",
    layout: str = "riskbudget",
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    options: ReportOptions | None = None,
    **keywords: Any,
) -> BoardReport:
    """Simulate a register and render the board report (one self-contained HTML file).

    Parameters
    ----------
    register : Register, iterable of Scenario, or path
        The risk register (a path is read with :func:`riskbudget.read_register`).
    controls : path or sequence of Control, optional
        Controls in place or proposed (:mod:`riskbudget.controls`); the report
        then compares inherent and residual risk on common random numbers.
    residual : Register, optional
        Instead of ``controls``: the residual register itself (the scenarios
        with the controls' :class:`~riskbudget.Adjustment` objects applied).
    appetite : Appetite or path, optional
        The board's limits and tolerance curve (a path is read with
        :func:`riskbudget.read_appetite`).
    tolerance : ToleranceCurve or list of (probability, loss), optional
        A tolerance curve, replacing the appetite's.
    dependence : Dependence, optional
        Dependence between scenarios.
    years : int, default 100_000
        Simulated years.
    seed : int, optional
        Seed (fresh entropy if None; the report records it).
    method : {"aggregate", "lef_x_lm"}
    layout : str, default "riskbudget"
        Layout of a register file.
    out : path, optional
        Write the HTML there (atomically: never half-written).
    progress : bool, optional
        Progress bars of the simulations.
    options : ReportOptions, optional
        ``title``, ``organisation``, ``q`` (level of the headline VaR and TVaR
        and of the tail attribution, default 0.95), ``top`` (scenarios listed,
        default 10) and ``thresholds`` (losses at which P(annual loss > x) is
        tabulated); see :class:`ReportOptions`.
    **keywords
        Fields of :class:`ReportOptions` given loosely (``title="..."``,
        ``top=5``); an unknown keyword is an error listing them.

    Returns
    -------
    BoardReport
        The HTML, where it was written, and the numbers behind it.
    """
    opts = _report_options(keywords, options)
    env = _environment()  # before simulating: a missing jinja2 is reported at once
    inputs = _load_inputs(register, controls, residual, appetite, tolerance, layout)
    appetite = inputs.appetite
    result, residual_result = _simulate(inputs, years, seed, method, dependence, progress)
    x = result.annual_loss.to_numpy()
    contrib = contributions(result, q=opts.q)
    figures = _figures(result, residual_result, contrib, appetite, opts)
    tol = appetite.tolerance if appetite is not None else None
    levels = _lec_levels(opts.thresholds, tol)
    scenario_rows, rest_row, top_share = _scenario_rows(contrib, inputs.register, opts.top)
    status = appetite.check(result) if appetite else None
    residual_status = appetite.check(residual_result) if (appetite and residual_result is not None) else None
    comparison = None
    if residual_result is not None:
        comparison = compare(result, residual_result, q=opts.q, thresholds=list(levels))
    # ALEs whose standard error exceeds 5% of them, said as summary() says them
    precision_notes = result.precision_notes()
    residual_notes = residual_result.precision_notes() if residual_result is not None else []
    html = _render(
        env, figures,
        title=opts.title, organisation=opts.organisation, headline=_headline(x, opts.q),
        lec_rows=_lec_rows(x, levels, tol), has_tolerance=tol is not None, tolerance_text=str(tol) if tol is not None else "",
        scenarios=scenario_rows, rest=rest_row, top_share=top_share, q=opts.q, label_q=metrics.quantile_label(opts.q),
        tail_years=int(contrib.attrs["tail_years"]),
        appetite=appetite, appetite_lines=appetite.describe() if appetite else [], appetite_rows=_appetite_rows(status),
        status=status, breaches=status.breaches if status is not None else [],
        crossings=status.crossing_losses() if status is not None else [],
        precision_notes=precision_notes,
        residual=None if comparison is None else _residual_context(comparison, residual_status, inputs, opts.top,
                                                                    residual_notes),
        a=_assumptions(inputs, result, dependence),
    )
    path = atomic_write(out, html) if out is not None else None
    return BoardReport(html=html, path=path, result=result, residual_result=residual_result, comparison=comparison,
                       appetite_status=status, contributions=contrib, figures=figures,
                       residual_appetite_status=residual_status,
                       notes=tuple(precision_notes) + tuple(f"with the controls: {n}" for n in residual_notes))
