"""The board report: one self-contained HTML file for a board pack.

:func:`report` simulates a register (and, with controls, the residual risk on
the same seed), and renders a single HTML file with every figure embedded as
a base64 PNG: no scripts, no external files, printable. Sections:

1. **headline** - ALE, VaR and TVaR with their Monte Carlo standard errors,
   and the range of a typical year;
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import RiskBudgetError, missing_dependency
from .formatting import money, percent

__all__ = ["report", "BoardReport"]

#: Losses at which the LEC table reports P(annual loss > x), besides the tolerance points.
DEFAULT_THRESHOLDS = (1e6, 5e6, 10e6, 25e6, 50e6, 100e6)


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

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the HTML (atomically) and return the path."""
        from .io import atomic_write

        return atomic_write(path, self.html)

    def save_figures(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write each figure as ``<name>.png`` in ``directory`` (atomically)."""
        from .io import atomic_write

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
    from .fair import as_register
    from .io import read_register

    if isinstance(register, (str, os.PathLike)):
        return read_register(register, layout=layout)
    return as_register(register)


def _load_appetite(appetite: Any, tolerance: Any) -> tuple[Any, str]:
    from .appetite import Appetite, ToleranceCurve, read_appetite

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
    try:
        from . import controls as controls_module
    except ImportError:
        raise RiskBudgetError(
            "report: controls= needs riskbudget.controls, which this installation lacks; pass residual= (a register "
            "with the controls' Adjustments applied) instead"
        ) from None
    source = ""
    if isinstance(controls, (str, os.PathLike)):
        source = str(controls)
        controls = controls_module.read_controls(controls)
    controls = tuple(controls)
    controls_module.check_references(controls)  # the optimiser's rule: requires/excludes name known items
    residual = controls_module.apply_controls(register, controls)
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
    from .distributions import PERT, Constant, LogNormal
    from .fair import LossForms

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
def report(
    register: Any,
    *,
    controls: Any = None,
    residual: Any = None,
    years: int = 100_000,
    seed: int | None = None,
    appetite: Any = None,
    tolerance: Any = None,
    dependence: Any = None,
    q: float = 0.95,
    method: str = "aggregate",
    title: str = "Cyber risk: board report",
    organisation: str = "",
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    top: int = 10,
    layout: str = "riskbudget",
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
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
    years : int, default 100_000
        Simulated years.
    seed : int, optional
        Seed (fresh entropy if None; the report records it).
    appetite : Appetite or path, optional
        The board's limits and tolerance curve (a path is read with
        :func:`riskbudget.read_appetite`).
    tolerance : ToleranceCurve or list of (probability, loss), optional
        A tolerance curve, replacing the appetite's.
    dependence : Dependence, optional
        Dependence between scenarios.
    q : float, default 0.95
        Level of the headline VaR and TVaR and of the tail attribution.
    method : {"aggregate", "lef_x_lm"}
    title, organisation : str
        Shown at the top.
    thresholds : iterable of float
        Losses at which the report tabulates P(annual loss > x).
    top : int, default 10
        Scenarios listed in the tail attribution.
    layout : str, default "riskbudget"
        Layout of a register file.
    out : path, optional
        Write the HTML there (atomically: never half-written).
    progress : bool, optional
        Progress bars of the simulations.

    Returns
    -------
    BoardReport
        The HTML, where it was written, and the numbers behind it.
    """
    try:
        import jinja2
    except ImportError:
        raise missing_dependency("jinja2", "report", "The board report") from None
    from . import __version__, metrics, plotting
    from .portfolio import compare, contributions
    from .simulation import simulate

    reg = _load_register(register, layout)
    if controls is not None and residual is not None:
        raise RiskBudgetError("report: give controls= or residual=, not both")
    appetite, appetite_source = _load_appetite(appetite, tolerance)
    control_rows: list[dict[str, Any]] = []
    controls_source = ""
    if controls is not None:
        residual, control_rows, controls_source = _load_controls(controls, reg)
    if residual is not None:
        from .fair import as_register

        residual = as_register(residual)
    if int(top) < 1:
        raise RiskBudgetError(f"report: top ({top!r}) must be at least 1")
    if not 0.0 < float(q) < 1.0:
        raise RiskBudgetError(f"report: q ({q!r}) must lie in (0, 1), e.g. 0.95")

    result = simulate(reg, years=years, seed=seed, method=method, dependence=dependence, progress=progress)  # type: ignore[arg-type]
    seed_used = result.seed
    residual_result = None
    if residual is not None:
        residual_result = simulate(residual, years=years, seed=seed_used, method=method,  # type: ignore[arg-type]
                                   dependence=dependence, progress=progress)

    x = result.annual_loss.to_numpy()
    label_q = metrics.quantile_label(q)
    summary = metrics.describe(x, quantiles=(0.05, 0.5, 0.9, 0.95, 0.99), q=q)
    headline = {
        "ale": summary["ale"], "ale_se": summary["ale_se"],
        "var": summary[f"var{label_q}"], "var_se": summary[f"var{label_q}_se"],
        "tvar": summary[f"tvar{label_q}"], "tvar_se": summary[f"tvar{label_q}_se"],
        "var99": summary["p99"], "var99_se": metrics.var_se(x, 0.99),
        "p_loss": summary["p_loss"], "p5": summary["p5"], "p50": summary["p50"], "p95": summary["p95"],
        "label_q": label_q, "return_q": 1.0 / (1.0 - q),
    }

    # Figures ------------------------------------------------------------ #
    figures: dict[str, bytes] = {}
    fig, ax = _figure((8.0, 4.8))
    plotting.plot_lec(result, labels=["Simulated annual loss" if residual is None else "Inherent (no controls)"],
                      appetite=appetite, ax=ax)
    figures["lec"] = _png(fig)
    contrib = contributions(result, q=q)
    n_bars = min(int(top), len(contrib)) + (1 if len(contrib) > int(top) else 0)
    fig, ax = _figure((8.0, 0.45 * n_bars + 1.6))
    plotting.plot_contributions(contrib, top=int(top), ax=ax)
    figures["scenarios"] = _png(fig)
    fig, ax = _figure((8.0, 4.0))
    plotting.plot_histogram(result, q=q, ax=ax)
    figures["distribution"] = _png(fig)

    # LEC table ----------------------------------------------------------- #
    tol = appetite.tolerance if appetite is not None else None
    levels = sorted({float(t) for t in thresholds} | ({x_ for _, x_ in tol.points} if tol is not None else set()))
    n = x.size
    lec_rows = []
    for level in levels:
        p = float(metrics.exceedance(x, level))
        tolerated = float(tol.prob_at(level)) if tol is not None else None
        lec_rows.append({
            "loss": level, "p": p, "se": float(metrics.exceedance_se(p, n)),
            "return_period": float(metrics.return_period(p)),
            "tolerated": tolerated,
            "ok": None if tolerated is None else p <= tolerated,
        })

    # Scenario table ------------------------------------------------------ #
    ranked = contrib.sort_values("tvar_contribution", ascending=False, kind="stable")
    scen_rows = []
    for name, row in ranked.head(int(top)).iterrows():
        s = reg[name]
        scen_rows.append({
            "name": name, "category": s.category, "owner": s.owner,
            "ale": row["ale"], "ale_share": row["ale_share"], "tvar": row["tvar_contribution"],
            "tvar_share": row["tvar_share"], "standalone_var": row["standalone_var"],
        })
    rest = ranked.iloc[int(top):]
    rest_row = None
    if len(rest):
        rest_row = {"count": len(rest), "ale": float(rest["ale"].sum()), "ale_share": float(rest["ale_share"].sum()),
                    "tvar": float(rest["tvar_contribution"].sum()), "tvar_share": float(rest["tvar_share"].sum())}
    top_share = float(ranked.head(3)["tvar_share"].sum())

    # Appetite ----------------------------------------------------------- #
    status = appetite.check(result) if appetite else None
    appetite_rows = []
    if status is not None:
        for _, row in status.table.iterrows():
            is_p = row["kind"] == "exceedance"
            fmt = (lambda v: percent(v, digits=2)) if is_p else money
            appetite_rows.append({
                "limit": row["limit"], "threshold": fmt(row["threshold"]), "value": fmt(row["value"]),
                "se": fmt(row["se"]), "ok": bool(row["ok"]),
                "margin": (("" if row["margin"] < 0 else "+") + fmt(row["margin"])) if not is_p else
                          f"{'+' if row['margin'] >= 0 else '-'}{percent(abs(row['margin']), digits=2)}",
            })
    residual_status = appetite.check(residual_result) if (appetite and residual_result is not None) else None

    # Inherent vs residual ---------------------------------------------- #
    comparison = None
    residual_ctx = None
    if residual_result is not None:
        comparison = compare(result, residual_result, q=q, thresholds=[t for t in levels])
        fig, ax = _figure((8.0, 4.8))
        plotting.plot_lec(result, residual_result, labels=["Inherent (no controls)", "Residual (with controls)"],
                          appetite=appetite, ax=ax)
        figures["residual"] = _png(fig)
        cmp_rows = []
        for key, row in comparison.table.iterrows():
            is_p = key.startswith("p_")
            fmt = (lambda v: percent(v, digits=2)) if is_p else money
            cmp_rows.append({
                "label": row["label"], "inherent": fmt(row["inherent"]), "residual": fmt(row["residual"]),
                "reduction": fmt(row["reduction"]), "se": fmt(row["reduction_se"]),
                "share": percent(row["reduction_share"]) if np.isfinite(row["reduction_share"]) else "n/a",
                "significant": abs(row["reduction"]) > 2 * row["reduction_se"] if np.isfinite(row["reduction_se"]) else False,
            })
        by = comparison.by_scenario.sort_values("reduction", ascending=False, kind="stable")
        by_rows = [
            {"name": name, "inherent": r["inherent"], "residual": r["residual"], "reduction": r["reduction"],
             "se": r["reduction_se"]}
            for name, r in by.head(int(top)).iterrows() if r["reduction"] != 0 or r["inherent"] != r["residual"]
        ]
        total_cost = sum(c["cost"] for c in control_rows if c["cost"] is not None) if control_rows else None
        residual_ctx = {
            "rows": cmp_rows, "by_scenario": by_rows, "controls": control_rows,
            "total_cost": total_cost if control_rows and any(c["cost"] is not None for c in control_rows) else None,
            "ale_reduction": comparison.reduction("ale"), "ale_reduction_se": comparison.reduction_se("ale"),
            "status_ok": None if residual_status is None else residual_status.ok,
            "breaches": [] if residual_status is None else residual_status.breaches,
            "source": controls_source,
        }

    # Assumptions ------------------------------------------------------- #
    dep_lines = dependence.describe() if dependence is not None else ["Scenarios are independent."]
    sources = []
    if getattr(reg, "source", ""):
        sources.append(("Risk register", str(reg.source)))
    if appetite_source:
        sources.append(("Risk appetite", appetite_source))
    if controls_source:
        sources.append(("Controls", controls_source))
    inputs = []
    for s in reg:
        # Common shocks raise a scenario's mean frequency by 1 - p + p E[M] per shock.
        shock = dependence.expected_frequency_multiplier(s.name) if dependence is not None else 1.0
        inputs.append({
            "name": s.name, "category": s.category, "frequency": _frequency_text(s),
            "loss": _loss_text(s),
            "events": s.expected_loss_event_frequency() * shock, "ale": s.expected_annual_loss() * shock,
            "adjustments": ", ".join(f"{a.source} on {a.factor}" for a in s.adjustments),
        })
    assumptions = {
        "years": result.years, "seed": seed_used, "method": result.method, "scenarios": len(reg),
        "dependence": dep_lines, "sources": sources, "inputs": inputs,
        "exact_ale": sum(row["ale"] for row in inputs),
        "version": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }

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
    images = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    html = env.get_template("report.html").render(
        title=title, organisation=organisation, headline=headline, images=images, lec_rows=lec_rows,
        has_tolerance=tol is not None, tolerance_text=str(tol) if tol is not None else "",
        scenarios=scen_rows, rest=rest_row, top_share=top_share, q=q, label_q=label_q,
        tail_years=int(contrib.attrs["tail_years"]),
        appetite=appetite, appetite_lines=appetite.describe() if appetite else [], appetite_rows=appetite_rows,
        status=status, breaches=status.breaches if status is not None else [],
        crossings=status.crossing_losses() if status is not None else [],
        residual=residual_ctx, a=assumptions,
    )
    path = None
    if out is not None:
        from .io import atomic_write

        path = atomic_write(out, html)
    return BoardReport(html=html, path=path, result=result, residual_result=residual_result, comparison=comparison,
                       appetite_status=status, contributions=contrib, figures=figures,
                       residual_appetite_status=residual_status)
