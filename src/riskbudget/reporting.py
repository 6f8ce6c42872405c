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

With ``plan=`` :func:`report` renders the **decision pack** instead
(``templates/pack.html``, see ``docs/pack.md``): the plan on its own sample -
what it funds and what it costs, the risk that remains before and after with
Monte Carlo errors, whether it is within appetite, what it does not fund and
why (the first screen); every candidate with its reason and return on
control; the efficient frontier with the plan marked; the loss exceedance
curves on a log-probability axis against the tolerance curve; the appetite on
the sample and on fresh years; the insurance tower and the per-year table
when the plan has them; the assumptions. A plan saved as JSON is read back
and scored again; what was proven about it carries over only if its numbers
are reproduced.

The templates are rendered by jinja2 with autoescaping on, so names from a
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
import math
import os
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics, plotting
from ._options import merge_options
from ._version import __version__
from .appetite import Appetite, LimitKind, ToleranceCurve, read_appetite
from .controls import apply_controls, check_references, read_controls
from .distributions import PERT, Constant, LogNormal
from .exceptions import RiskBudgetError, missing_dependency
from .fair import LossForms, as_register
from .formatting import money, percent
from .io import atomic_write, read_register
from .metrics import Z95
from .optimization import (
    BudgetNeeded,
    Constraints,
    Frontier,
    Funding,
    ItemReason,
    Plan,
    PlanStatus,
    Reason,
    Robustness,
    SmallestValue,
    evaluate,
)
from .optimization import frontier as solve_frontier
from .optimization.robustness import LimitCheck
from .portfolio import compare, contributions
from .review import SavedPlan, load_plan
from .simulation import ALE_RSE_LIMIT, simulate

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
    return merge_options("report", given, keywords, "options")


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
        residual result's start with "with the controls: " ("with the plan: "
        in a decision pack). Shown in the report.
    plan : Plan or None
        The plan of a decision pack (``report(..., plan=)``), as shown: read
        back and scored again when it came from a file.
    frontier : Frontier or None
        The efficient frontier drawn in a decision pack.

    With ``plan=`` (a decision pack) the numbers are the plan's own sample:
    ``result`` is the register with nothing funded (today), ``residual_result``
    the register with the plan, ``comparison`` the two on common random
    numbers, ``appetite_status`` and ``residual_appetite_status`` the appetite
    checked on each, ``contributions`` the scenarios' shares of the risk that
    remains, and ``figures`` holds ``lec``, ``frontier`` (when drawn) and
    ``insurance`` (when the plan's result is insured).
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
    plan: Any = None
    frontier: Any = None

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
        what = "" if self.plan is None else "decision pack, "
        return f"BoardReport({what}{len(self.result.names)} scenarios, {self.result.years:,} years{where})"


# --------------------------------------------------------------------------- #
def _png(fig: Any, dpi: int = 110) -> bytes:
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
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
        appetite = Appetite(limits=limits, tolerance=tolerance,
                            revenue=None if appetite is None else appetite.revenue,
                            materiality=None if appetite is None else appetite.materiality)
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


def _retained_context(result: Any) -> dict[str, Any] | None:
    """What the report says about insurance when its losses are retained (None without insurance)."""
    if not result.insurance:
        return None
    return {"names": ", ".join(p.name for p in result.insurance), "premium": result.premium,
            "recovered": float(result.recovered.mean()), "ground_up_ale": float(result.ground_up.sum(axis=1).mean())}


def _simulate(inputs: _Inputs, years: int, seed: int | None, method: str, dependence: Any,
              progress: bool | None, insurance: Any = None) -> tuple[Any, Any]:
    """The register and, on the same seed (common random numbers), the residual register (retained losses with
    ``insurance``)."""
    result = simulate(inputs.register, years=years, seed=seed, method=method,  # type: ignore[arg-type]
                      dependence=dependence, progress=progress, insurance=insurance)
    residual_result = None
    if inputs.residual is not None:
        residual_result = simulate(inputs.residual, years=years, seed=result.seed, method=method,  # type: ignore[arg-type]
                                   dependence=dependence, progress=progress, insurance=insurance)
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
# The decision pack: a plan for the board
# --------------------------------------------------------------------------- #
#: Shares of the budget at which the decision pack solves the efficient frontier by default (one optimisation each).
PACK_FRONTIER_POINTS = 11
#: The pack's title when none is given.
PACK_TITLE = "Cyber security budget: decision pack"
#: The metrics a saved plan must reproduce, when scored again on its own sample, for its status to carry over.
_REPRODUCED = ("total_spend", "expected_value", "ale", "var95", "tvar95", "expected_net_value")

_KIND_WORDS = {"control": "security control", "project": "IT project", "security by design": "security by design"}


@dataclass(frozen=True, eq=False)
class _PlanSource:
    """A plan for the pack and what came with it: its reasons, the file it was read from, notes on reading it."""

    plan: Plan
    reasons: tuple[ItemReason, ...]
    path: str = ""
    notes: tuple[str, ...] = ()


def _num(v: Any, default: float = math.nan) -> float:
    return default if v is None else float(v)


def _limit_kind(label: str, appetite: Any) -> LimitKind:
    # a multi-year plan's checks are labelled by limit and years ("TVaR95 in years 2-3", confirm_years)
    label = re.sub(r" in years? [0-9, -]+$", "", label)
    for lim in getattr(appetite, "limits", ()):
        if lim.label == label:
            return LimitKind(lim.kind)
    return LimitKind.EXCEEDANCE if label.startswith("P(") else LimitKind.TVAR if label.startswith("TVaR") else LimitKind.VAR


def _saved_robustness(data: Mapping[str, Any] | None, appetite: Any) -> Robustness | None:
    """A saved plan's check on fresh years, as :class:`~riskbudget.optimization.Robustness`."""
    if not data:
        return None
    checks = tuple(
        LimitCheck(label=c["limit"], limit=_num(c["threshold"]), in_sample=_num(c["in_sample"]),
                   in_sample_se=_num(c["in_sample_se"]), fresh=_num(c["fresh"]), fresh_se=_num(c["fresh_se"]),
                   chance=_num(c["chance"]), margin=_num(c["margin"], 0.0), kind=_limit_kind(c["limit"], appetite))
        for c in data.get("limits", ())
    )
    return Robustness(checks, data.get("tolerance_ok_fresh"), int(data["years"]), data.get("seed"),
                      data.get("confidence"))


def _saved_reasons(items: Iterable[Mapping[str, Any]]) -> tuple[ItemReason, ...]:
    return tuple(
        ItemReason(item=d["item"], kind=d["kind"], funded=bool(d["funded"]), reason=Reason(d["reason"]),
                   detail=d["detail"], delta_net_value=_num(d.get("delta_net_value")),
                   delta_se=_num(d.get("delta_se")), limits=tuple(d.get("limits") or ()))
        for d in items
    )


def _plan_from_file(saved: SavedPlan, progress: bool | None) -> _PlanSource:
    """A saved plan scored again on its own sample (inputs, seed, years and horizon from the file).

    When the numbers are reproduced, what was proven about the plan (its
    status, gap, margins, the check on fresh years, the reasons) carries over
    from the file; otherwise the plan is shown as re-scored, with a note.
    """
    where = str(saved.path) if saved.path is not None else "the saved plan"
    names = Constraints.field_names()
    cons = Constraints(**{k: v for k, v in saved.constraints.items() if k in names})
    funded = saved.data["funded"]
    spec = saved.appetite()
    over: dict[str, Any] = {}
    if saved.horizon > 1:
        over = {"horizon": saved.horizon, "discount_rate": saved.discount_rate}
        table = saved.by_year()
        if table is not None and "budget" in table and table["budget"].notna().all():
            over["budget"] = [float(b) for b in table["budget"]]  # one budget per year
            cons = replace(cons, budget=None)
    plan = evaluate(saved.register(), saved.controls(), saved.projects(),
                    funded=[*funded["controls"], *funded["projects"]], security_by_design=funded["security_by_design"],
                    appetite=spec, constraints=cons, years=saved.years, seed=saved.seed, progress=progress,
                    insurance=saved.insurance() or None, **over)
    saved_metrics = {**saved.metrics, "npv": saved.npv}
    differ = [k for k in (*_REPRODUCED, "npv") if saved_metrics.get(k) is not None
              and not math.isclose(float(getattr(plan, k)), float(saved_metrics[k]), rel_tol=1e-9, abs_tol=1e-6)]
    if differ:
        k = differ[0]
        note = (f"{where} was scored again on its sample ({saved.years:,} years, seed {saved.seed}) and its numbers "
                f"were not reproduced ({k.replace('_', ' ')} {money(saved_metrics[k])} in the file, "
                f"{money(getattr(plan, k))} now), so what was proven about it does not carry over: it is shown as "
                f"re-scored")
        return _PlanSource(plan, tuple(plan.reasons), where, (note,))
    smallest = tuple(
        SmallestValue(label=v["limit"], limit=_num(v["threshold"]), value=_num(v["smallest"]),
                      lower_bound=_num(v["lower_bound"]), unit=v["unit"])
        for v in saved.smallest_values or ()
    )
    need = saved.budget_needed
    enforced = saved.data.get("optimised_for")
    plan = replace(
        plan,
        towers=saved.towers(),
        status=PlanStatus(saved.status),
        solver_gap=_num(saved.metrics.get("solver_gap")),
        bound=_num(saved.metrics.get("bound")),
        notes=saved.notes,
        confidence=saved.confidence,
        margins={k: _num(v) for k, v in saved.margins.items()},
        optimised_for=None if enforced is None else Appetite.from_dict(enforced),
        robustness=_saved_robustness(saved.robustness, spec),
        smallest_values=smallest,
        budget_needed=None if need is None else BudgetNeeded(need["budget"], _num(need["lower_bound"], math.inf)),
    )
    return _PlanSource(plan, _saved_reasons(saved.data["items"]), where)


def _plan_source(plan: Any, progress: bool | None) -> _PlanSource:
    if isinstance(plan, Plan):
        return _PlanSource(plan, tuple(plan.reasons))
    if isinstance(plan, (str, os.PathLike)):
        plan = load_plan(plan)
    if isinstance(plan, SavedPlan):
        return _plan_from_file(plan, progress)
    raise RiskBudgetError(
        f"report: plan must be a Plan (riskbudget.optimize) or the path of a saved plan, not {type(plan).__name__}"
    )


def _check_same_register(given: Any, plan: Plan) -> None:
    """The register given with a plan must be the one the plan was optimised on."""
    mine = {s.name: s.to_dict() for s in given}
    theirs = {s.name: s.to_dict() for s in plan.problem.register}
    if mine == theirs:
        return
    parts = []
    if set(mine) - set(theirs):
        parts.append("not in the plan's: " + ", ".join(repr(n) for n in mine if n not in theirs))
    if set(theirs) - set(mine):
        parts.append("missing: " + ", ".join(repr(n) for n in theirs if n not in mine))
    changed = [n for n in mine if n in theirs and mine[n] != theirs[n]]
    if changed:
        parts.append("estimated differently: " + ", ".join(repr(n) for n in changed))
    raise RiskBudgetError(
        f"report: the plan was optimised on another register (scenarios {'; '.join(parts)}); pass the register the "
        f"plan was made from (or leave it out), or optimise again on this one"
    )


def _pack_frontier(frontier_arg: Any, plan: Plan, progress: bool | None) -> tuple[Any, str]:
    """The efficient frontier for the pack (given, solved at ``frontier_arg`` points, or none) and why none."""
    if frontier_arg is None:
        return None, "The efficient frontier was not computed for this pack (frontier=None)."
    if isinstance(frontier_arg, Frontier):
        return frontier_arg, ""
    if isinstance(frontier_arg, bool) or not isinstance(frontier_arg, (int, np.integer)) or frontier_arg < 2:
        raise RiskBudgetError(
            f"report: frontier ({frontier_arg!r}) must be a Frontier, a number of points of at least 2 (e.g. "
            f"{PACK_FRONTIER_POINTS}) or None"
        )
    if plan.budget is None:
        return None, "The plan has no budget, so there is no efficient frontier of its split."
    if plan.insurance:
        return None, ("The efficient frontier is not drawn: the plan buys insurance, and a frontier of controls and "
                      "projects on losses before insurance would not be comparable with it (the insurance tower and "
                      "the options compared are shown instead).")
    cons = replace(plan.constraints or Constraints(), budget=plan.budget, security_budget=None, it_budget=None)
    options: dict[str, Any] = {"explain_infeasible": False}  # a share that cannot meet the appetite is only marked so
    if plan.confidence is not None:
        options["confidence"] = plan.confidence
    fr = solve_frontier(plan.problem, appetite=plan.appetite_spec, points=int(frontier_arg), constraints=cons,
                        progress=progress, **options)
    return fr, ""


def _interval(v: float, se: float, fmt: Any) -> dict[str, str]:
    """A figure and its 95% interval (``v +- 1.96 se``), formatted: ``{"value": ..., "range": ...}``."""
    if not math.isfinite(v):
        return {"value": "", "range": ""}
    if not math.isfinite(se) or se == 0:
        return {"value": fmt(v), "range": ""}
    return {"value": fmt(v), "range": f"{fmt(v - Z95 * se)} to {fmt(v + Z95 * se)}"}


def _roc(row: Any, label: str) -> dict[str, str]:
    """A control's return on control (alone or in the plan) and its 95% interval, as percentages."""
    v = row[f"roc_{label}"]
    if not np.isfinite(v):
        return {"value": "n/a (free)", "range": ""}
    pct = lambda x: percent(x, digits=0)  # noqa: E731
    return {"value": pct(v), "range": f"{pct(row[f'roc_{label}_low'])} to {pct(row[f'roc_{label}_high'])}"}


def _candidate_rows(src: _PlanSource) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every candidate with its decision, reason and return: (controls, projects and their security-by-design)."""
    plan = src.plan
    controls = {c.name: c for c in plan.problem.controls}
    projects = {p.name: p for p in plan.problem.projects}
    by_design = {f"{p.name} (security by design)": p for p in plan.problem.projects}
    control_rows, project_rows = [], []
    for r in src.reasons:
        row: dict[str, Any] = {
            "item": r.item, "kind": _KIND_WORDS.get(r.kind, r.kind), "funded": r.funded, "reason": str(r.reason),
            "detail": r.detail, "limits": ", ".join(r.limits),
            "net": _interval(r.delta_net_value, r.delta_se, money),
        }
        if r.kind == "control":
            c = controls.get(r.item)
            row["cost"] = None if c is None else c.cost_per_year
            returns = plan.returns.loc[r.item] if r.item in plan.returns.index else None
            none = {"value": "", "range": ""}
            row["roc_alone"] = none if returns is None else _roc(returns, "standalone")
            row["roc_plan"] = none if returns is None else _roc(returns, "marginal")
            if returns is not None and "roc_horizon_marginal" in returns.index:  # a multi-year plan
                row["roc_horizon"] = _roc(returns, "horizon_marginal")
            control_rows.append(row)
            continue
        p = projects.get(r.item) or by_design.get(r.item)
        sbd = r.kind == "security by design"
        row["cost"] = None
        row["value"] = None
        if p is not None and not sbd:
            row["cost"], row["value"] = p.cost_per_year, p.expected_value()
        elif p is not None and p.security_by_design is not None:
            row["cost"] = p.security_by_design.cost_per_year
            row["value"] = p.expected_value(security_by_design=True) - p.expected_value()
        project_rows.append(row)
    return control_rows, project_rows


def _item_costs(plan: Plan) -> dict[str, float]:
    """The cost a year of every candidate, by its name in the reasons (a project's option as "<name> (security by design)")."""
    costs = {c.name: c.cost_per_year for c in plan.problem.controls}
    for p in plan.problem.projects:
        costs[p.name] = p.cost_per_year
        if p.security_by_design is not None:
            costs[f"{p.name} (security by design)"] = p.security_by_design.cost_per_year
    return costs


def _funded_groups(src: _PlanSource) -> list[dict[str, Any]]:
    """What the plan funds, by kind (security controls, IT projects, security by design), with costs and subtotals."""
    costs = _item_costs(src.plan)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in src.reasons:
        if r.funded:
            groups.setdefault(r.kind, []).append({"item": r.item, "cost": costs.get(r.item)})
    titles = {"control": "Security controls", "project": "IT projects", "security by design": "Security by design"}
    return [{"title": titles.get(kind, kind), "entries": entries,
             "cost": sum(e["cost"] for e in entries if e["cost"] is not None)} for kind, entries in groups.items()]


def _not_funded(src: _PlanSource) -> list[dict[str, Any]]:
    """What the plan deliberately does not fund, grouped by reason, each item with its figure."""
    costs = _item_costs(src.plan)
    groups: dict[str, list[dict[str, str]]] = {}
    for r in src.reasons:
        if r.funded:
            continue
        if r.limits:
            why = "breaks " + ", ".join(r.limits)
        elif math.isfinite(r.delta_net_value):
            why = f"{money(r.delta_net_value)} \u00b1 {money(r.delta_se)}"
        elif r.reason is Reason.OVER_BUDGET and costs.get(r.item) is not None:
            why = f"costs {money(costs[r.item])} a year"
        else:
            why = r.detail
        groups.setdefault(str(r.reason), []).append({"item": r.item, "why": why, "detail": r.detail})
    heads = {str(Reason.DOES_NOT_PAY): "net value a year"}
    return [{"reason": k[:1].upper() + k[1:], "head": heads.get(k, ""), "entries": v} for k, v in groups.items()]


def _risk_rows(before: np.ndarray, after: np.ndarray, comparison: Any, q: float) -> list[dict[str, Any]]:
    """ALE, VaR and TVaR before and after the plan, with their Monte Carlo errors and the paired change."""
    label_q = metrics.quantile_label(q)
    rows = []
    for key, label, value, se in (
        ("ale", "Expected annual loss (ALE)", metrics.ale, metrics.ale_se),
        (f"var{label_q}", f"VaR{label_q}: a 1-in-{1 / (1 - q):g} year", lambda x: metrics.var(x, q),
         lambda x: metrics.var_se(x, q)),
        (f"tvar{label_q}", f"TVaR{label_q}: the average of the worst {percent(1 - q, digits=0)} of years",
         lambda x: metrics.tvar(x, q), lambda x: metrics.tvar_se(x, q)),
    ):
        rows.append({
            "key": key, "label": label, "before": value(before), "before_se": se(before),
            "after": value(after), "after_se": se(after),
            "change": -comparison.reduction(key), "change_se": comparison.reduction_se(key),
        })
    return rows


def _pack_lec_rows(before: np.ndarray, after: np.ndarray, levels: list[float], tolerance: Any) -> list[dict[str, Any]]:
    rows = []
    for level in levels:
        pb, pa = float(metrics.exceedance(before, level)), float(metrics.exceedance(after, level))
        tolerated = float(tolerance.prob_at(level)) if tolerance is not None else None
        rows.append({
            "loss": level, "before": pb, "after": pa, "after_se": float(metrics.exceedance_se(pa, after.size)),
            "return_period": float(metrics.return_period(pa)), "tolerated": tolerated,
            "ok": None if tolerated is None else pa <= tolerated,
        })
    return rows


def _pack_appetite_rows(status_before: Any, status_after: Any) -> list[dict[str, Any]]:
    """Each limit today and with the plan (values, standard errors, margins, whether it holds)."""
    if status_after is None:
        return []
    today = {r["limit"]: r for r in _appetite_rows(status_before)}
    return [{**r, "today": today[r["limit"]]["value"], "today_ok": today[r["limit"]]["ok"]}
            for r in _appetite_rows(status_after)]


def _robustness_rows(rob: Any) -> list[dict[str, Any]]:
    if rob is None:
        return []
    return [{"limit": c.label, "threshold": c.format(c.limit), "sample": c.format(c.in_sample),
             "fresh": c.format(c.fresh), "fresh_se": c.format(c.fresh_se), "holds": c.holds_fresh,
             "chance": percent(c.chance, digits=0), "margin": c.format(c.margin) if c.margin > 0 else ""}
            for c in rob.checks]


def _frontier_context(fr: Any, plan: Plan) -> dict[str, Any] | None:
    if fr is None:
        return None
    rows = [{"share": r["security_share"], "security_budget": r["security_budget"], "spend": r["total_spend"],
             "security_spend": r["security_spend"], "net": r["expected_net_value"], "ale": r["ale"],
             "tvar95": r["tvar95"], "feasible": bool(r["feasible"]), "best": bool(r["best"])}
            for r in fr.table.to_dict("records")]
    cons = plan.constraints
    budget_share = None
    if cons is not None and cons.security_budget is not None and plan.budget:
        budget_share = cons.security_budget / plan.budget
    return {"rows": rows, "best": None if fr.best_index is None else rows[fr.best_index],
            "points": len(rows), "budget": fr.budget, "has_appetite": fr.appetite is not None,
            "spend_share": plan.security_spend / plan.total_spend if plan.total_spend > 0 else 0.0,
            "budget_share": budget_share, "seconds": fr.seconds}


def _rules_lines(cons: Any, budget: float | None) -> list[str]:
    """The rules the plan was chosen under, in words."""
    if cons is None:
        return [f"Budget {money(budget)} a year"] if budget is not None else []
    lines = []
    if cons.budget is not None:
        lines.append(f"Budget {money(cons.budget)} a year (controls, projects and security-by-design options)")
    if cons.security_budget is not None:
        lines.append(f"Security spend at most {money(cons.security_budget)}")
    if cons.it_budget is not None:
        lines.append(f"IT spend at most {money(cons.it_budget)}")
    if cons.min_security_share is not None:
        lines.append(f"Security at least {percent(cons.min_security_share)} of the spend")
    if cons.max_security_share is not None:
        lines.append(f"Security at most {percent(cons.max_security_share)} of the spend")
    if cons.include:
        lines.append("Must be funded: " + ", ".join(cons.include))
    if cons.exclude:
        lines.append("Must not be funded: " + ", ".join(cons.exclude))
    lines += [f"{a} requires {', '.join(rest)}" for a, *rest in cons.requires]
    seen: set[frozenset[str]] = set()
    for group in cons.exclusive:  # each item's own excludes name the pair from both sides
        if frozenset(group) not in seen:
            seen.add(frozenset(group))
            lines.append("At most one of " + ", ".join(group))
    return list(dict.fromkeys(lines))


def _candidate_inputs(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """The candidates as entered: costs, targets, values, dependencies."""
    controls = [{"name": c.name, "cost": c.cost_per_year, "applies_to": ", ".join(c.applies_to),
                 "requires": ", ".join(c.requires), "excludes": ", ".join(c.excludes), "description": c.description}
                for c in plan.problem.controls]
    projects = [{"name": p.name, "cost": p.cost_per_year, "value": p.expected_value(),
                 "failure": p.probability_of_failure,
                 "by_design": None if p.security_by_design is None else p.security_by_design.cost_per_year,
                 "requires": ", ".join(p.requires), "excludes": ", ".join(p.excludes), "description": p.description}
                for p in plan.problem.projects]
    return {"controls": controls, "projects": projects}


def _insurance_context(result: Any, towers: Any = None) -> dict[str, Any] | None:
    """The insurance tower of the plan's result, and the towers the optimiser compared (None: neither)."""
    policies = tuple(result.insurance)
    options = None
    if towers is not None:
        options = [{"tower": str(name), "premium": r["premium"], "net": r["expected_net_value"],
                    "meets": r["meets_appetite"], "chosen": bool(r["chosen"]), "skipped": r["skipped"] or ""}
                   for name, r in towers.iterrows()]
    if not policies:
        return None if options is None else {"rows": [], "options": options, "premium": 0.0}
    rows = [{"name": p.name, "basis": p.basis.replace("_", " "), "retention": p.retention, "limit": p.limit,
             "exhaustion": p.exhaustion, "coinsurance": p.coinsurance, "premium": p.premium,
             "applies_to": ", ".join(p.applies_to)} for p in policies]
    recovered = result.recovered.to_numpy()
    return {"rows": rows, "premium": sum(p.premium for p in policies), "recovered": float(recovered.mean()),
            "recovered_se": metrics.ale_se(recovered), "options": options}


#: The per-year table's columns the pack shows (those the plan has), with their headings.
_YEAR_COLUMNS = (("spend", "Spend"), ("security_spend", "Security"), ("it_spend", "IT"), ("value", "Project value"),
                 ("ale", "ALE"), ("var95", "VaR95"), ("tvar95", "TVaR95"), ("net", "Net"),
                 ("discounted_net", "Discounted net"))


def _scorecard_context(plan: Plan, appetite: Any) -> dict[str, Any]:
    """The shared CIO/CISO scorecard (:func:`riskbudget.scorecard.scorecard`), with the appetite's revenue and
    materiality when it gives them."""
    from .scorecard import scorecard

    revenue = getattr(appetite, "revenue", None)
    materiality = getattr(appetite, "materiality", None) if revenue is not None else None
    card = scorecard(plan, revenue=revenue, materiality=materiality)
    return {"card": card, "lines": card.describe().splitlines(),
            "has_materiality": card.p_material_before is not None}


def _owner_context(plan: Plan, before_result: Any, after_result: Any, q: float) -> dict[str, Any]:
    """Risk, spend and project value per owner (the register's ``owner`` column), adding up to the totals.

    ALE and the Euler contributions to VaR and TVaR (with the plan) are those
    of :meth:`~riskbudget.SimulationResult.summary_by`; spend and value are
    the funded items whose ``owner`` is the group. A scenario a project adds,
    with no owner of its own, belongs to the project's owner.
    """
    problem = plan.problem
    project_owner = {s.name: p.owner for p in problem.projects for s in p.new_scenarios if p.owner}

    def owner_of(s: Any) -> str:
        return str(s.owner or project_owner.get(s.name, "")).strip() or "(no owner)"

    def groups(result: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for sc in result.register:
            out.setdefault(owner_of(sc), []).append(sc.name)
        return out

    label = metrics.quantile_label(q)
    g_after, g_before = groups(after_result), groups(before_result)
    t_after = after_result._summary_by_table("owner", g_after, after_result._group_matrix(g_after), q)
    t_before = before_result._summary_by_table("owner", g_before, before_result._group_matrix(g_before), q)
    spend: dict[str, dict[str, float]] = {}
    for name in plan.funded_controls:
        c = problem.controls[problem.control_index[name]]
        spend.setdefault(str(c.owner).strip() or "(no owner)", {}).setdefault("security", 0.0)
        spend[str(c.owner).strip() or "(no owner)"]["security"] += c.cost_per_year
    for name in plan.funded_projects:
        p = problem.projects[problem.project_index[name]]
        row = spend.setdefault(str(p.owner).strip() or "(no owner)", {})
        sbd = name in plan.security_by_design
        row["it"] = row.get("it", 0.0) + p.cost_per_year
        option = p.security_by_design if sbd else None
        row["security"] = row.get("security", 0.0) + (option.cost_per_year if option is not None else 0.0)
        row["value"] = row.get("value", 0.0) + p.expected_value(security_by_design=sbd)
    keys = [k for k in dict.fromkeys([*g_before, *g_after, *spend]) if k != "Total"]
    rows: list[dict[str, Any]] = []
    for k in keys:
        a = t_after.loc[k] if k in t_after.index else None
        b = t_before.loc[k] if k in t_before.index else None
        sp = spend.get(k, {})
        rows.append({
            "owner": k,
            "ale_before": float(b["ale"]) if b is not None else 0.0,
            "ale_after": float(a["ale"]) if a is not None else 0.0,
            "var": float(a[f"var{label}_contribution"]) if a is not None else 0.0,
            "var_share": float(a[f"var{label}_share"]) if a is not None else 0.0,
            "tvar": float(a[f"tvar{label}_contribution"]) if a is not None else 0.0,
            "tvar_share": float(a[f"tvar{label}_share"]) if a is not None else 0.0,
            "security": sp.get("security", 0.0), "it": sp.get("it", 0.0), "value": sp.get("value", 0.0),
        })
    rows.sort(key=lambda r: -float(r["tvar"]))
    total = {k: float(sum(r[k] for r in rows)) for k in ("ale_before", "ale_after", "var", "tvar", "security", "it", "value")}
    return {"rows": rows, "total": total, "label_q": label}


def _trend_context(history: Any, plan: Plan) -> tuple[Any, list[dict[str, Any]]]:
    """Saved plans of earlier reviews (oldest first) as a trend table, and its rows for the pack."""
    from .review import trend

    if history is None:
        return None, []
    items = [history] if isinstance(history, (str, os.PathLike, SavedPlan)) else list(history)
    if not items:
        return None, []
    table = trend(items)
    rows = [{"label": str(label), "status": r.get("status", ""), "ale": r.get("ale"), "tvar95": r.get("tvar95"),
             "total_spend": r.get("total_spend"), "appetite_ok": r.get("appetite_ok")}
            for label, r in table.iterrows()]
    return table, rows


def _by_year_context(plan: Plan) -> dict[str, Any] | None:
    """The per-year table of a multi-year plan (``plan.by_year``); ``None`` for a one-year plan."""
    table = plan.by_year
    if table is None or not len(table):
        return None
    columns = [(key, head) for key, head in _YEAR_COLUMNS if key in table]
    rows = []
    for year, r in table.iterrows():
        rows.append({"year": int(year), "cells": [float(r[key]) for key, _ in columns],
                     "ale_se": float(r["ale_se"]) if "ale_se" in table else None,
                     "partial": bool(r["partial_year"]) if "partial_year" in table else False})
    return {"columns": [head for _, head in columns], "keys": [key for key, _ in columns], "rows": rows,
            "horizon": plan.horizon, "discount_rate": plan.discount_rate, "npv": plan.npv,
            "partial": [r["year"] for r in rows if r["partial"]]}


def _pack_appetite(given: Any, plan: Plan) -> tuple[Any, bool]:
    """The appetite the pack checks (the one given, else the plan's) and whether it is the plan's own."""
    spec = plan.appetite_spec
    if given is None:
        return spec, True
    def limits(a: Any) -> dict[str, Any]:  # revenue and materiality are context, not limits
        return {k: v for k, v in a.to_dict().items() if k not in ("revenue", "materiality")}

    same = spec is not None and limits(given) == limits(spec)
    return given, same


def _with_current(table: Any, plan: Plan) -> Any:
    """The trend of earlier reviews with this plan appended as the last point ("this plan")."""
    import pandas as pd

    row = {k: getattr(plan, k) for k in ("ale", "ale_se", "var95", "tvar95", "total_spend", "security_spend",
                                         "it_spend", "expected_value", "expected_net_value", "appetite_ok")
           if k in table.columns}
    return pd.concat([table, pd.DataFrame([row], index=pd.Index(["this plan"], name=table.index.name))])


def _pack(env: Any, src: _PlanSource, inputs: _Inputs, appetite: Any, frontier_arg: Any, opts: ReportOptions,
          progress: bool | None, history: Any = None) -> tuple[str, dict[str, Any]]:
    """The decision pack's HTML and the numbers behind it."""
    plan = src.plan
    before_result = plan.problem.ground.result_for(Funding())  # today: no plan and no insurance
    after_result = plan.result
    before, after = before_result.annual_loss.to_numpy(), after_result.annual_loss.to_numpy()
    app, same_appetite = _pack_appetite(appetite, plan)
    status_before = app.check(before_result) if app else None
    status_after = (plan.appetite if same_appetite else app.check(after_result)) if app else None
    tol = app.tolerance if app is not None else None
    levels = _lec_levels(opts.thresholds, tol)
    comparison = compare(before_result, after_result, q=opts.q, thresholds=list(levels))
    fr, frontier_note = _pack_frontier(frontier_arg, plan, progress)
    figures: dict[str, bytes] = {}
    fig, ax = _figure((8.0, 5.0))
    plotting.plot_lec(before_result, after_result, labels=["Today (nothing funded)", "With the plan"], appetite=app,
                      yscale="log", breaches=True, ax=ax)
    if np.any(before > 0):  # the tail is the point: start where 90% of today's loss years are still to the right
        left = float(np.quantile(before[before > 0], 0.1))
        if tol is not None:
            left = min(left, min(x for _, x in tol.points) / 2)
        ax.set_xlim(left=max(left, ax.get_xlim()[0]))
    ax.set_title("How likely is a year this bad? Today and with the plan")
    figures["lec"] = _png(fig, dpi=150)
    if fr is not None:
        fig, ax = _figure((8.0, 4.6))
        plotting.plot_frontier(fr, ax=ax, chosen=plan)
        figures["frontier"] = _png(fig, dpi=150)
    insurance = _insurance_context(after_result, getattr(plan, "towers", None))
    if insurance is not None and insurance["rows"]:
        fig, ax = _figure((8.0, 4.6))
        plotting.plot_insurance(after_result, appetite=app, ax=ax)
        figures["insurance"] = _png(fig, dpi=150)
    by_year = _by_year_context(plan)
    if by_year is not None:
        fig, ax = _figure((8.0, 4.0))
        plotting.plot_by_year(plan, appetite=app, ax=ax)
        figures["by_year"] = _png(fig, dpi=150)
    trend_table, trend_rows = _trend_context(history, plan)
    if trend_table is not None:
        fig, ax = _figure((8.0, 4.0))
        plotting.plot_trend(_with_current(trend_table, plan), ax=ax)
        figures["trend"] = _png(fig, dpi=150)
    card = _scorecard_context(plan, app)
    owners = _owner_context(plan, before_result, after_result, opts.q)
    control_rows, project_rows = _candidate_rows(src)
    notes_before, notes_after = before_result.precision_notes(), after_result.precision_notes()
    pack_notes = list(src.notes)
    if appetite is not None and not same_appetite:
        pack_notes.append(
            "The plan was optimised " + ("without a risk appetite" if plan.appetite_spec is None else
                                         "under another risk appetite (" + "; ".join(plan.appetite_spec.describe())
                                         + ")")
            + "; it is checked here against the appetite given, and what is proven about it refers to the one it "
              "was optimised under"
        )
    a = _assumptions(inputs, before_result, None)
    a["years"], a["seed"] = plan.years, plan.seed
    if src.path:
        a["sources"].append(("Plan", src.path))
    core = plan.security_spend + plan.it_spend
    share = plan.security_spend / core if core > 0 else 0.0
    title = opts.title if opts.title != ReportOptions.title else PACK_TITLE
    html = env.get_template("pack.html").render(
        images={k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in figures.items()},
        title=title, organisation=opts.organisation, plan=plan, status_text=plan.status_text,
        security_share=share, candidates=len(src.reasons),
        funded=_funded_groups(src), not_funded=_not_funded(src), risk_rows=_risk_rows(before, after, comparison, opts.q),
        label_q=metrics.quantile_label(opts.q), q=opts.q,
        appetite=app, appetite_lines=app.describe() if app else [], status_before=status_before,
        status_after=status_after, same_appetite=same_appetite,
        appetite_rows=_pack_appetite_rows(status_before, status_after),
        breaches=status_after.breaches if status_after is not None else [],
        robustness=plan.robustness if same_appetite else None,
        robustness_rows=_robustness_rows(plan.robustness) if same_appetite else [],
        smallest=[v.describe() for v in plan.smallest_values],
        budget_needed=plan.budget_needed.describe() if plan.budget_needed is not None else "",
        margins=[f"{k} {_margin_text(k, v, app)}" for k, v in plan.margins.items() if v > 0],
        control_rows=control_rows, project_rows=project_rows,
        frontier=_frontier_context(fr, plan), frontier_note=frontier_note,
        lec_rows=_pack_lec_rows(before, after, levels, tol), has_tolerance=tol is not None,
        tolerance_text=str(tol) if tol is not None else "",
        crossings=status_after.crossing_losses() if status_after is not None else [],
        insurance=insurance, by_year=by_year, scorecard=card, owners=owners, trend=trend_rows,
        precision_before=notes_before, precision_after=notes_after, pack_notes=pack_notes,
        portfolio_imprecise=any(metrics.ale_se(x) > ALE_RSE_LIMIT * metrics.ale(x) for x in (before, after)),
        rules=_rules_lines(plan.constraints, plan.budget), candidate_inputs=_candidate_inputs(plan),
        plan_notes=list(plan.notes), a=a,
    )
    return html, {
        "result": before_result, "residual_result": after_result, "comparison": comparison,
        "appetite_status": status_before, "residual_appetite_status": status_after,
        "contributions": contributions(after_result, q=opts.q), "figures": figures, "frontier": fr,
        "notes": tuple(notes_before) + tuple(f"with the plan: {n}" for n in notes_after),
    }


def _margin_text(label: str, v: float, appetite: Any) -> str:
    kind = _limit_kind(label, appetite)
    return percent(v, digits=2) if kind is LimitKind.EXCEEDANCE else money(v)


# --------------------------------------------------------------------------- #
def report(
    register: Any = None,
    *,
    controls: Any = None,
    residual: Any = None,
    appetite: Any = None,
    tolerance: Any = None,
    dependence: Any = None,
    years: int | None = None,
    seed: int | None = None,
    method: str = "aggregate",
    layout: str = "riskbudget",
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    options: ReportOptions | None = None,
    plan: Any = None,
    frontier: Any = PACK_FRONTIER_POINTS,
    insurance: Any = None,
    history: Any = None,
    **keywords: Any,
) -> BoardReport:
    """Simulate a register and render the board report (one self-contained HTML file).

    With ``plan=`` it renders the **decision pack** instead: what the plan funds
    and what it costs (security and IT), the risk that remains (ALE, VaR and
    TVaR before and after, with their Monte Carlo errors), whether it is within
    appetite, what it deliberately does not fund and why; then every candidate
    with its reason and return on control, the efficient frontier with the
    plan marked, the loss exceedance curves before and after against the
    tolerance curve on a log-probability axis, the appetite in detail (and on
    fresh years), the insurance tower and the per-year table when the plan has
    them, and the assumptions. See ``docs/pack.md``.

    Parameters
    ----------
    register : Register, iterable of Scenario, or path
        The risk register (a path is read with :func:`riskbudget.read_register`).
        With ``plan=`` it may be left out; given, it must be the register the
        plan was optimised on.
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
        Simulated years (not with ``plan=``: the pack uses the plan's sample).
    seed : int, optional
        Seed (fresh entropy if None; the report records it). Not with ``plan=``.
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
    plan : Plan or path, optional
        Render the decision pack of this plan (from
        :func:`riskbudget.optimize`), or of a plan saved as JSON (read with
        :func:`riskbudget.review.load_plan` and scored again on its own inputs
        and sample; what was proven about it carries over only if its numbers
        are reproduced). ``appetite`` then defaults to the plan's.
    frontier : Frontier, int or None, default 11
        With ``plan=``: the efficient frontier to draw, or the number of
        security shares of the budget to solve it at (one optimisation each,
        on the plan's sample, under its rules and appetite), or None to leave
        it out.
    history : path, SavedPlan or sequence of them, optional
        With ``plan=``: the saved plans of earlier reviews, oldest first; the
        pack draws their metrics and this plan's as a trend
        (:func:`riskbudget.review.trend`).
    insurance : Insurance or sequence of Insurance, optional
        Without ``plan=``: layers bought; every loss figure is then what the
        organisation retains, and the report says so (the premium is not in
        the losses). A plan's own insurance is in its pack.
    **keywords
        Fields of :class:`ReportOptions` given loosely (``title="..."``,
        ``top=5``); an unknown keyword is an error listing them.

    Returns
    -------
    BoardReport
        The HTML, where it was written, and the numbers behind it.

    Examples
    --------
    >>> import riskbudget as rb
    >>> from riskbudget.controls import read_controls, read_projects
    >>> reg = rb.read_register(rb.io.example_path("register.csv"))
    >>> plan = rb.optimize(reg, read_controls(rb.io.example_path("controls.csv")),
    ...                    read_projects(rb.io.example_path("projects.csv")), budget=6e6,
    ...                    years=1_000, seed=7, progress=False)
    >>> pack = rb.report(plan=plan, frontier=None)
    >>> plan.status_text in pack.html, sorted(pack.figures)
    (True, ['lec'])
    """
    opts = _report_options(keywords, options)
    env = _environment()  # before simulating: a missing jinja2 is reported at once
    if plan is None and history is not None:
        raise RiskBudgetError("report: history= (saved plans of earlier reviews) goes with plan=, the decision pack")
    if plan is not None:
        if insurance is not None:
            raise RiskBudgetError("report: insurance= does not go with plan=: the pack shows the insurance the plan "
                                  "bought (optimize(..., insurance=...) chooses it)")
        return _report_plan(env, plan, register, controls, residual, appetite, tolerance, dependence, years, seed,
                            method, layout, out, progress, opts, frontier, history)
    if register is None:
        raise RiskBudgetError("report: give the risk register (a path or a Register), or plan= for a decision pack")
    years = 100_000 if years is None else years
    inputs = _load_inputs(register, controls, residual, appetite, tolerance, layout)
    appetite = inputs.appetite
    result, residual_result = _simulate(inputs, years, seed, method, dependence, progress, insurance)
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
        insurance=_retained_context(result),
    )
    path = atomic_write(out, html) if out is not None else None
    return BoardReport(html=html, path=path, result=result, residual_result=residual_result, comparison=comparison,
                       appetite_status=status, contributions=contrib, figures=figures,
                       residual_appetite_status=residual_status,
                       notes=tuple(precision_notes) + tuple(f"with the controls: {n}" for n in residual_notes))


def _report_plan(env: Any, plan: Any, register: Any, controls: Any, residual: Any, appetite: Any, tolerance: Any,
                 dependence: Any, years: Any, seed: Any, method: str, layout: str, out: Any, progress: bool | None,
                 opts: ReportOptions, frontier: Any, history: Any = None) -> BoardReport:
    """:func:`report` with ``plan=``: the decision pack, on the plan's own sample."""
    given = [name for name, value in (("controls", controls), ("residual", residual), ("dependence", dependence),
                                      ("years", years), ("seed", seed)) if value is not None]
    if method != "aggregate":
        given.append("method")
    if given:
        raise RiskBudgetError(
            f"report: {', '.join(given)} cannot be given with plan=: the decision pack shows the plan on its own "
            f"sample, with its own controls and projects"
        )
    src = _plan_source(plan, progress)
    reg = src.plan.problem.register
    if register is not None:
        reg = _load_register(register, layout)  # a file keeps its name for the assumptions
        _check_same_register(reg, src.plan)
    app, appetite_source = _load_appetite(appetite, tolerance)
    inputs = _Inputs(reg, None, app, appetite_source, [], "")
    html, parts = _pack(env, src, inputs, app, frontier, opts, progress, history)
    path = atomic_write(out, html) if out is not None else None
    return BoardReport(html=html, path=path, plan=src.plan, **parts)
