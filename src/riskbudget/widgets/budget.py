"""BudgetExplorer: the joint CIO/CISO view of one budget, security controls and IT projects."""

from __future__ import annotations

import html
import math
import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.ticker import FuncFormatter

from .. import metrics, optimization, review
from ..appetite import LimitKind
from ..exceptions import RiskBudgetError
from ..formatting import money, percent
from ._common import (
    BEFORE,
    LIMIT,
    NO_MIDWORD_BREAKS,
    NOW,
    _AmountField,
    _Chart,
    _exceedance_on,
    _Explorer,
    _html_table,
    _log_probability_axis,
    _metric_table,
    _money_log_axis,
    _nice_range,
    _notes_html,
    _positive_or_nan,
    _precision_note,
    exact_money_label,
    log,
)


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

    Every change is scored on a :class:`~riskbudget.optimization.DecisionProblem`:
    each scenario was simulated once for every combination of the decisions
    touching it, on common random numbers, so scoring a plan only adds columns
    year by year (well under a millisecond on the bundled example) and gives
    the same numbers as simulating the funded register from scratch. The
    "Optimise" button solves for the plan with the best expected net value
    within the budget, the split and the appetite
    (:func:`riskbudget.optimization.optimize`) and sets the toggles to it. It
    then shows what is proven about that plan in words (``plan.status_text``:
    "optimal" only when proven optimal for the limits as stated; a time limit,
    a stand-in or a heuristic is said so), why each item is funded or not
    (``plan.reasons``), each appetite limit on fresh years with the chance it
    holds there (``plan.robustness``) and, when no plan meets the appetite, the
    nearest limits reachable and the budget that would meet them
    (``plan.smallest_values``, ``plan.budget_needed``). An ALE whose Monte
    Carlo standard error exceeds 5% of it is said to be imprecise.

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
        A precomputation to reuse (from :func:`riskbudget.optimization.precompute`).
    frontier : bool, default True
        Solve the efficient frontier once (:func:`riskbudget.optimization.frontier`:
        the best plan at each security share of the budget) and show the
        current plan against it on the share axis: expected net value at each
        share, with the best plan solved at the plan's own share, so the plan
        is always on or below it. It is re-solved by "Optimise" after the
        budget or the appetite changed.
    frontier_points : int, default 11
        Security shares on the frontier (every 10%).
    time_limit : float, default 30
        Seconds the solver may take per plan (then the best plan found, with
        its gap, and a status that says so).
    confidence : float, optional
        Passed to :func:`~riskbudget.optimization.optimize` by "Optimise": each
        VaR, TVaR and P(loss > x) limit gets a margin of its Monte Carlo
        standard errors aiming at this chance of holding on fresh years.
        ``None`` (the default): the limits as stated on the sample, with no
        margin; the plan is still checked on fresh years.
    preview : True, False or "background", default True
        Say what Optimise would change at each budget and share before it is
        pressed (:meth:`best_at_share`, solved once per budget and share).
        ``"background"`` solves in a thread so a change returns at once and
        the sentence follows (the dashboard's choice).
    plans_dir : path, optional
        Where "Save this plan" writes ``<name>.json`` and "Load" / "Compare"
        read (default: ``$RISKBUDGET_PLANS_DIR`` or ``saved_plans``).

    Attributes
    ----------
    total_budget : ipywidgets.Text
        Takes money as people type it (``"6M"``, ``"$6,000,000"``, ``"6e6"``,
        ``"6 000 000"``, or a number) and shows it in full once read; nonsense
        or an absurd amount gets a message next to it.
    security_share : ipywidgets.FloatSlider
        In [0, 1], shown as a percentage.
    thresholds : dict of str -> ipywidgets.Text
        One box per appetite limit (by its label, e.g. ``"VaR95"``) and per
        tolerance point (``"tolerance P=20%"``), typed like the budget (the
        P(loss > x) limit in percent); an empty box sets no limit.
    guidance : ipywidgets.HTML
        What Optimise would change (``data-metric='guidance'``).
    progress, progress_text : ipywidgets.IntProgress, ipywidgets.HTML
        Shown while Optimise runs: the step and what it is doing.
    plan_name, save_button, saved, load_button, compare_old, compare_new, compare_button, comparison
        Saved plans: :meth:`save_plan`, :meth:`load_plan`, :meth:`compare_plans`.
    toggles : dict of str -> ipywidgets.Checkbox
        One per control and project.
    design_toggles : dict of str -> ipywidgets.Checkbox
        Security by design, one per project that offers it.
    optimise_button, clear_button : ipywidgets.Button
    funding : Funding
        What is funded now.
    plan : Plan or None
        The optimiser's last plan ("Optimise"), None before.
    plan_html : ipywidgets.HTML
        What the optimiser says about it, under the metrics: its status in
        words (``data-metric='status'``), the nearest limits and the budget
        needed when the appetite cannot be met (``'nearest'``) and each limit
        on fresh years (``'robustness'``).
    reasons_html : ipywidgets.HTML
        Why each item of the optimiser's plan is funded or not
        (``data-metric='reasons'``, a row per control, project and
        security-by-design option), under the toggles; while the plan is on
        screen each toggle's status line gives its reason too. Both are marked
        out of date once the budget, the split, the appetite or the toggles
        change.
    values, shown : dict
        ``"ALE"``, ``"VaR95"``, ``"TVaR95"``, ``"Expected net value"``,
        ``"Expected project value"``, ``"Security spend"``, ``"IT spend"``,
        ``"Security budget"``, ``"IT budget"``, ``"Appetite"``, ``"ALE standard
        error"``; ``values`` also holds ``"funded"`` (the funded names),
        ``"within appetite"`` and ``"notes"`` (e.g. an imprecise ALE, shown
        under the metrics).
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
        confidence: float | None = None,
        preview: bool | str = True,
        plans_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.confidence = confidence
        if preview not in (True, False, "background"):
            raise RiskBudgetError(f"BudgetExplorer: preview ({preview!r}) must be True, False or 'background'")
        self.preview = preview
        self._lock = threading.RLock()
        self._solving: set[tuple[float, float]] = set()
        self.plans_dir = Path(plans_dir if plans_dir is not None else os.environ.get("RISKBUDGET_PLANS_DIR",
                                                                                      "saved_plans"))
        self.plan: Any = None
        self._plan_key: Any = None
        self._best: dict[tuple[float, float], Any] = {}
        self._meets_cache: dict[tuple[int, str], bool] = {}
        self._snapshots: list[Snapshot] = []
        self.seconds = math.nan
        self.time_limit = time_limit
        self._load(problem or optimization.precompute(register, controls, projects, years=years, seed=seed,
                                                       progress=False), appetite)
        if budget is None:
            budget = 0.5 * (sum(c.cost_per_year for c in self.controls) + sum(p.cost_per_year for p in self.projects))
        self._build_budget_boxes(float(budget), float(security_share))
        threshold_rows = self._build_threshold_boxes(appetite)
        control_rows, project_rows = self._build_item_rows()
        self._build_buttons()
        self._build_outputs()
        self.widget = self._layout(threshold_rows, control_rows, project_rows)
        self._connect()
        self._start(frontier=frontier, frontier_points=frontier_points, time_limit=time_limit)

    # -- construction --------------------------------------------------- #
    @classmethod
    def example(cls, *, years: int = 20_000, seed: int = 7, budget: float = 6_000_000, security_share: float = 0.25,
                **kwargs: Any) -> BudgetExplorer:
        """The explorer on the bundled example: register, controls, projects and appetite."""
        from ..appetite import read_appetite
        from ..controls import read_controls, read_projects
        from ..io import example_path, read_register

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

    def _load(self, problem: Any, appetite: Any) -> None:
        """The precomputed sample, the status quo and the order in which wanted items are funded."""
        self.problem = problem
        self.register = problem.register
        self.controls = tuple(problem.controls)
        self.projects = tuple(problem.projects)
        self._items: dict[str, Any] = {c.name: c for c in self.controls}
        self._items.update({p.name: p for p in self.projects})
        self.years = problem.years
        self.seed = problem.seed
        self._appetite0 = appetite
        self.appetite = appetite
        self._nothing = problem.total_losses(optimization.Funding())
        self._nothing_sorted = np.sort(self._nothing)
        self._nothing_tvar = metrics.tvar(self._nothing, 0.95)
        self._rank_items()

    def _build_budget_boxes(self, budget: float, security_share: float) -> None:
        self._budget_field = _AmountField(budget, "Budget ($/yr)", name="The total budget",
                                          width="270px", description_width="120px")
        self.total_budget = self._budget_field.box
        self.total_budget.add_class("rb-total-budget")
        self._budget_field.row.add_class("rb-total-budget-row")
        self.security_share = W.FloatSlider(value=security_share, min=0.0, max=1.0, step=0.01,
                                            description="Security share", readout_format=".0%", continuous_update=False,
                                            style={"description_width": "120px"}, layout=W.Layout(width="380px"))
        self.security_share.add_class("rb-security-share")
        self.split = W.HTML()

    def _build_threshold_boxes(self, appetite: Any) -> list[W.Widget]:
        """One box per appetite limit (by its label) and per tolerance point; an empty box sets no limit."""
        self.thresholds: dict[str, W.Text] = {}
        self._fields: dict[str, _AmountField] = {}
        if appetite is None:
            return []
        for lim in appetite.limits:
            label = lim.label
            if lim.kind is LimitKind.EXCEEDANCE:
                field = _AmountField(100.0 * lim.limit, f"{label} ≤", name=label, kind="percent", optional=True)
            else:
                field = _AmountField(lim.limit, f"{label} ≤", name=f"The {label} limit", optional=True)
            self._fields[label] = field
        if appetite.tolerance is not None:
            for p, x in appetite.tolerance.points:
                self._fields[f"tolerance P={100 * p:g}%"] = _AmountField(
                    x, f"1-in-{1 / p:.0f}-yr loss ≤", name=f"The tolerated 1-in-{1 / p:.0f}-year loss", optional=True)
        for key, field in self._fields.items():
            field.box.layout.width = "250px"
            field.box.style.description_width = "140px"
            field.box.add_class("rb-threshold")
            self.thresholds[key] = field.box
        return [f.row for f in self._fields.values()]

    def _build_item_rows(self) -> tuple[list[W.Widget], list[W.Widget]]:
        """A toggle per control and project, and per security-by-design option, each with its status line."""
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
                project_rows.append(self._design_row(p))
        return control_rows, project_rows

    def _toggle_row(self, name: str, label: str) -> W.Widget:
        # The label is an HTML widget: a checkbox description would typeset "$...$" as mathematics.
        box = W.Checkbox(value=False, description="", indent=False, layout=W.Layout(width="22px"))
        box.add_class("rb-toggle")
        self.toggles[name] = box
        status = W.HTML(layout=W.Layout(margin="0 0 0 8px"))
        self._status[name] = status
        return W.HBox([box, W.HTML(html.escape(label)), status], layout=W.Layout(align_items="center"))

    def _design_row(self, project: Any) -> W.Widget:
        sbd = project.security_by_design
        box = W.Checkbox(value=False, indent=False, description="", layout=W.Layout(width="22px"))
        box.add_class("rb-design-toggle")
        self.design_toggles[project.name] = box
        months = f"{sbd.delay_months:g} month{'' if sbd.delay_months == 1 else 's'}"
        label = f"security by design (+{money(sbd.cost_per_year)}, {months} later)"
        return W.HBox([box, W.HTML(f"<i>{html.escape(label)}</i>")],
                      layout=W.Layout(margin="0 0 0 28px", align_items="center"))

    def _build_buttons(self) -> None:
        self.optimise_button = W.Button(description="Optimise", icon="magic", button_style="primary",
                                        tooltip="Set the toggles to the plan with the best expected net value "
                                                "within the budget, the split and the appetite")
        self.optimise_button.add_class("rb-optimise")
        self.all_button = W.Button(description="Want everything", icon="check-square")
        self.clear_button = W.Button(description="Fund nothing", icon="square")
        self.all_button.add_class("rb-want-all")
        self.clear_button.add_class("rb-fund-nothing")
        for b in (self.optimise_button, self.all_button, self.clear_button):
            b.layout.width = "auto"
        self.optimise_button.on_click(lambda _b: self._run(self.optimise))
        self.all_button.on_click(lambda _b: self._run(lambda: self._set_all(True)))
        self.clear_button.on_click(lambda _b: self._run(lambda: self._set_all(False)))

    def _build_outputs(self) -> None:
        self.metrics = W.HTML()
        self.metrics.add_class("rb-budget-metrics")
        self.funded_html = W.HTML()
        self.funded_html.add_class("rb-funded")
        self.plan_html = W.HTML()
        self.plan_html.add_class("rb-plan")
        self.reasons_html = W.HTML()
        self.reasons_html.add_class("rb-reasons")
        self.guidance = W.HTML()
        self.guidance.add_class("rb-guidance")
        self.progress = W.IntProgress(value=0, min=0, max=2, description="", bar_style="info",
                                      layout=W.Layout(width="200px", display="none"))
        self.progress.add_class("rb-progress")
        self.progress_text = W.HTML()
        self.progress_text.add_class("rb-progress-text")
        self.chart = _Chart(11.0, 3.3, ncols=2)
        self._build_saved_plans()

    # -- saved plans ----------------------------------------------------------- #
    def _build_saved_plans(self) -> None:
        """Save the plan on screen under a name, load one back, compare two side by side."""
        self.plan_name = W.Text(value="", placeholder="a name, e.g. Q3 proposal", description="Name",
                                style={"description_width": "50px"}, layout=W.Layout(width="260px"))
        self.plan_name.add_class("rb-plan-name")
        self.save_button = W.Button(description="Save this plan", icon="save", layout=W.Layout(width="auto"))
        self.save_button.add_class("rb-save")
        self.saved = W.Dropdown(options=[], description="Saved", style={"description_width": "50px"},
                                layout=W.Layout(width="260px"))
        self.saved.add_class("rb-saved")
        self.load_button = W.Button(description="Load", icon="folder-open", layout=W.Layout(width="auto"))
        self.load_button.add_class("rb-load")
        self.compare_old = W.Dropdown(options=[], description="Compare", style={"description_width": "60px"},
                                      layout=W.Layout(width="270px"))
        self.compare_old.add_class("rb-compare-old")
        self.compare_new = W.Dropdown(options=[], description="with", style={"description_width": "35px"},
                                      layout=W.Layout(width="245px"))
        self.compare_new.add_class("rb-compare-new")
        self.compare_button = W.Button(description="Compare", icon="columns", layout=W.Layout(width="auto"))
        self.compare_button.add_class("rb-compare")
        self.comparison = W.HTML()
        self.comparison.add_class("rb-comparison")
        self.save_button.on_click(lambda _b: self._run(lambda: self.save_plan(self.plan_name.value)))
        self.load_button.on_click(lambda _b: self._run(lambda: self.load_plan(self.saved.value)))
        self.compare_button.on_click(
            lambda _b: self._run(lambda: self.compare_plans(self.compare_old.value, self.compare_new.value)))
        self._list_saved()

    def _layout(self, threshold_rows: list[W.Widget], control_rows: list[W.Widget],
                project_rows: list[W.Widget]) -> W.Widget:
        # One screen (1366 x 768): the controls and the headline numbers on the left, the two charts and
        # what Optimise would change on the right; the details, the toggles and saved plans below.
        budget_box = W.VBox([W.HTML("<b>Budget</b>"), self._budget_field.row, self.security_share, self.split])
        budget_box.add_class("rb-budget-box")
        appetite_box = W.VBox([W.HTML("<b>Risk appetite</b> <span style='color:#777;font-size:90%'>"
                                      "(empty box: no limit)</span>")] + threshold_rows)
        appetite_box.add_class("rb-appetite-box")
        buttons = W.HBox([self.optimise_button, self.all_button, self.clear_button],
                         layout=W.Layout(flex_flow="row wrap"))
        left = W.VBox([budget_box, appetite_box, buttons, W.HBox([self.progress, self.progress_text]),
                       self.message, self.metrics],
                      layout=W.Layout(width="430px", min_width="430px", margin="0 16px 0 0"))
        left.add_class("rb-controls")
        right = W.VBox([self.chart.image, self.guidance, self.funded_html],
                       layout=W.Layout(flex="1 1 auto", min_width="0"))
        right.add_class("rb-views")
        saved = W.VBox([
            W.HTML("<b>Saved plans</b> <span style='color:#777;font-size:90%'>(the saved-plan JSON of "
                   "<code>plan.save</code>; <code>rb.load_plan</code> and <code>riskbudget report --plan</code> "
                   "read them)</span>"),
            W.HBox([self.plan_name, self.save_button, self.saved, self.load_button],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            W.HBox([self.compare_old, self.compare_new, self.compare_button],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.comparison,
        ], layout=W.Layout(margin="12px 0 0 0"))
        saved.add_class("rb-saved-plans")
        widget = W.VBox(
            [
                W.HTML(NO_MIDWORD_BREAKS),
                W.HBox([left, right], layout=W.Layout(align_items="flex-start", width="100%")),
                self.plan_html,
                W.HBox([W.VBox(control_rows, layout=W.Layout(width="50%")),
                        W.VBox(project_rows, layout=W.Layout(width="50%"))]),
                self.reasons_html,
                saved,
            ]
        )
        widget.add_class("rb-budget-explorer")
        widget.add_class("rb-explorer")
        return widget

    def _connect(self) -> None:
        """Every box, slider and toggle re-runs :meth:`update` when its value changes."""
        for w in [self.total_budget, self.security_share, *self.thresholds.values(), *self.toggles.values(),
                  *self.design_toggles.values()]:
            self._observe(w, self.update)
        self._observe(self.saved, self._pick_saved)

    def _start(self, *, frontier: bool, frontier_points: int, time_limit: float | None) -> None:
        """Want everything, solve the frontier once, draw the first view (an error here is raised)."""
        self._updating += 1
        try:
            self._set_all(True)
        finally:
            self._updating -= 1
        self.time_limit = time_limit
        self.frontier_points = int(frontier_points) if frontier else 0
        self._frontier_key: Any = None
        self.frontier = self._compute_frontier() if frontier else None
        self._setup_axes()
        ok = self._run(self.update)
        if not ok:
            raise RiskBudgetError(f"BudgetExplorer: {self._error}")

    def _rank_items(self) -> None:
        """Order in which wanted items are funded: best standalone return per dollar first.

        A control's is its standalone return on control against the status quo,
        as the plan's ``returns`` compute it (:func:`~riskbudget.optimization.return_on_controls`);
        a project's is its value net of cost and added risk per dollar; a
        security-by-design option's, the risk it removes net of cost and lost
        value per dollar. Free items come first.
        """
        F = optimization.Funding
        problem = self.problem
        base = float(self._nothing.mean())

        def ale(f: Any) -> float:
            return float(problem.total_losses(f).mean())

        returns = optimization.return_on_controls(problem, F())["roc_standalone"]
        control_rank = [(float(returns[c.name]) if c.cost_per_year > 0 else math.inf, c.name) for c in self.controls]
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
        total = self._budget_field.read()
        share = self.security_share.value
        if total is None or not math.isfinite(float(total)):
            raise RiskBudgetError("The total budget must be a number")
        total = float(total)
        if total < 0:
            text = f"The total budget ({money(total)}) cannot be negative"
            self._budget_field.refuse(text)
            raise RiskBudgetError(text)
        if not (0.0 <= share <= 1.0):
            raise RiskBudgetError(f"The security share ({percent(share)}) must lie between 0% and 100%")
        return total, total * share, total - total * share

    def current_appetite(self) -> Any:
        """The appetite with the thresholds in the boxes (raises on nonsense)."""
        from ..appetite import Appetite, Limit, ToleranceCurve

        base = self._appetite0
        if base is None:
            return None
        limits = []
        for lim in base.limits:
            field = self._fields[lim.label]
            v = field.read()
            if v is None:  # an empty box: no limit
                continue
            if lim.kind is LimitKind.EXCEEDANCE:
                limits.append(Limit(lim.kind, lim.param, v / 100.0))
            else:
                if not (math.isfinite(v) and v > 0):
                    text = f"The {lim.label} limit ({money(v)}) must be a positive amount of money"
                    field.refuse(text)
                    raise RiskBudgetError(text)
                limits.append(Limit(lim.kind, lim.param, v))
        tolerance = None
        if base.tolerance is not None:
            points = []
            for p, _x in base.tolerance.points:
                field = self._fields[f"tolerance P={100 * p:g}%"]
                v = field.read()
                if v is None:
                    continue
                if not (math.isfinite(v) and v > 0):
                    text = f"The tolerated 1-in-{1 / p:.0f}-year loss ({money(v)}) must be a positive amount"
                    field.refuse(text)
                    raise RiskBudgetError(text)
                points.append((p, v))
            if len(points) == len(base.tolerance.points):  # an emptied point: no tolerance curve
                tolerance = ToleranceCurve.from_points(points)
        if not limits and tolerance is None:
            return None
        # the base appetite's revenue and materiality are context, not limits: they carry over unchanged
        return Appetite(limits=limits, tolerance=tolerance, revenue=base.revenue, materiality=base.materiality)

    def wanted(self) -> tuple[set[str], set[str]]:
        """(wanted controls and projects, projects wanting security by design)."""
        want = {n for n, box in self.toggles.items() if box.value}
        design = {n for n, box in self.design_toggles.items() if box.value}
        return want, design

    def rules(self, security_budget: float, it_budget: float) -> Any:
        """The rules a funded plan meets here: the two budgets and what each item requires or excludes."""
        cons = optimization.Constraints(security_budget=security_budget, it_budget=it_budget)
        return optimization.FundingRules(self.problem, cons, where="BudgetExplorer")

    def fit(self, security_budget: float, it_budget: float) -> tuple[Any, dict[str, str]]:
        """The funded plan: wanted items the rules allow, best return first; and a status line per item.

        Projects are taken before controls, each in order of standalone return,
        until nothing more can be funded (an item funded late can unlock one
        that requires it); then the wanted security-by-design options of the
        funded projects. An item is funded only when the plan with it breaks
        no rule (:class:`~riskbudget.optimization.FundingRules`: its
        ``requires`` and ``excludes``, the security and IT budgets); otherwise
        its status line says which rule stops it.
        """
        want, design = self.wanted()
        rules = self.rules(security_budget, it_budget)
        funded: list[str] = []
        blocked: dict[str, str] = {}
        changed = True
        while changed:  # a fixpoint, so an item funded late can unlock one that requires it
            changed = False
            for name in (*self._project_order, *self._control_order):
                if name not in want or name in funded:
                    continue
                refusal = self._refusal(rules, name, funded + [name], [])
                if refusal:
                    blocked[name] = refusal
                    continue
                funded.append(name)
                blocked.pop(name, None)
                changed = True
        design_funded: list[str] = []
        for name in self._design_order:
            if name not in design or name not in funded:
                continue
            refusal = self._refusal(rules, name, funded, design_funded + [name])
            if refusal:
                blocked[f"{name}/design"] = f"security by design {refusal}"
                continue
            design_funded.append(name)
        status = self._status_lines(want, funded, design_funded, blocked)
        controls_f = tuple(c.name for c in self.controls if c.name in funded)
        projects_f = tuple(p.name for p in self.projects if p.name in funded)
        design_f = tuple(p.name for p in self.projects if p.name in design_funded)
        return optimization.Funding(controls_f, projects_f, design_f), status

    def _refusal(self, rules: Any, name: str, names: list[str], design: list[str]) -> str:
        """Why the rules refuse the plan ``names`` (with ``design`` options) that adds ``name``; "" if they allow it."""
        index = self.problem.control_index
        candidate = optimization.Funding(tuple(n for n in names if n in index),
                                         tuple(n for n in names if n not in index), tuple(design))
        broken = rules.violations(candidate)
        if not broken:
            return ""
        Rule = optimization.Rule
        missing = [v.names[1] for v in broken if v.rule is Rule.REQUIRES and v.names[0] == name]
        if missing:
            return f"needs {', '.join(missing)}"
        clashing = {n for v in broken if v.rule is Rule.EXCLUSIVE and name in v.names for n in v.names if n != name}
        if clashing:
            return f"cannot go with {next(n for n in names if n in clashing)}"
        for v in broken:
            if v.rule in (Rule.SECURITY_BUDGET, Rule.IT_BUDGET):
                pool = "IT" if v.rule is Rule.IT_BUDGET else "security"
                return f"over the {pool} budget by {money(v.value - v.limit)}"
        return "; ".join(v.message for v in broken)

    def _status_lines(self, want: set[str], funded: list[str], design_funded: list[str],
                      blocked: dict[str, str]) -> dict[str, str]:
        status: dict[str, str] = {n: "" for n in self._items}
        for name in self._items:
            if name in funded:
                status[name] = "funded" + (" with security by design" if name in design_funded else "")
                if f"{name}/design" in blocked:
                    status[name] += f"; {blocked[f'{name}/design']}"
            elif name in want:
                status[name] = f"not funded: {blocked.get(name, 'does not fit')}"
        return status

    def _with_reasons(self, status: dict[str, str], plan: Any) -> dict[str, str]:
        """The status lines with the optimiser's reason for each control and project (its plan is on screen)."""
        out = dict(status)
        for r in plan.reasons:
            if r.item in out:
                out[r.item] = f"{'funded' if r.funded else 'not funded'}: {r.reason}"
        return out

    def update(self) -> None:
        """Recombine the precomputed losses for the current choices and refresh the view."""
        with self._lock:  # a preview solved in the background may refresh the view too
            self._update()

    def _update(self) -> None:
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        self._tidy_fields()
        funding, status = self.fit(sec_budget, it_budget)
        score = self.problem.score(funding)
        losses = self.problem.total_losses(funding)
        check = appetite.check(losses) if appetite is not None else None
        self.appetite, self.funding, self.score = appetite, funding, score
        current = self.plan is not None and self._plan_key == self._state(funding)
        if current:
            status = self._with_reasons(status, self.plan)
        guidance = self._guidance(total, funding, score, appetite, current)  # solves the best plan at this share
        self._render(total, sec_budget, it_budget, score, check, status, losses)
        self.plan_html.value = "" if self.plan is None else _plan_view(self.plan, current)
        self.reasons_html.value = "" if self.plan is None else _reasons_view(self.plan, current)
        self.guidance.value = guidance
        for snap in self._snapshots:
            snap.mark()

    def _snapshot_key(self) -> tuple[Any, ...]:
        return (self._values.get("Total budget"), float(self.security_share.value), repr(self.appetite), self.funding,
                self._plan_key)

    def snapshot(self, kind: str = "plan") -> Snapshot:
        """A table or chart of the explorer's state now, labelled as a snapshot, with a Refresh button.

        ``kind``: ``"plan"`` (the headline numbers and what is funded),
        ``"returns"`` (return on each control of the plan on screen, a chart)
        or ``"frontier"`` (the best plan at each security share solved at this
        budget, a chart). Its label says when the explorer has moved on.
        """
        if kind == "frontier" and self.frontier_points and self._frontier_key != self._frontier_state():
            self.frontier = self._compute_frontier()
        return Snapshot(self, kind)

    def _tidy_fields(self) -> None:
        """Show every amount read in full (``6M`` becomes ``$6,000,000``) without re-running the update."""
        self._updating += 1
        try:
            for field in (self._budget_field, *self._fields.values()):
                field.tidy()
        finally:
            self._updating -= 1

    def _state(self, funding: Any) -> tuple[Any, ...]:
        """What the optimiser's plan was solved for and set: budget, split, appetite and the funded plan."""
        return (self._budget_field.amount, float(self.security_share.value), self.current_appetite(), funding)

    # -- what Optimise would change ------------------------------------------ #
    def best_at_share(self, total: float | None = None, share: float | None = None) -> Any:
        """The best plan by expected net value at this budget and security share, without the appetite.

        Solved once per (budget, share) and kept (about 50 ms on the bundled
        example); the frontier's points are the same plans. Its status says
        whether it is proven best (``plan.status_text``).
        """
        if total is None:
            total = float(self._budget_field.amount or 0.0)
        if share is None:
            share = float(self.security_share.value)
        key = (float(total), round(float(share), 6))
        plan = self._best.get(key)
        if plan is None:
            front = optimization.frontier(self.problem, budget=float(total), shares=[key[1]],
                                          solver=optimization.SolverOptions(time_limit=self.time_limit),
                                          progress=False)
            plan = self._best[key] = front.plans[0]
        return plan

    def _solve_in_background(self, key: tuple[float, float]) -> None:
        """Solve the best plan at (budget, share) in a thread; then refresh the view if it still shows that pair.

        The change that asked for it returns at once (well under 100 ms); the
        sentence on what Optimise would change follows when the solve is done.
        """
        if key in self._solving:
            return
        self._solving.add(key)

        def work() -> None:
            try:
                try:
                    self.best_at_share(*key)
                except Exception:  # the view says nothing rather than something wrong
                    log.exception("riskbudget explorer: the preview solve failed")
                    return
                with self._lock:
                    now = (float(self._budget_field.amount or 0.0), round(float(self.security_share.value), 6))
                    if now == key and not self._updating:
                        try:  # the message line is left alone: it may say something about the last change
                            self.update()
                        except Exception:  # an input the main path has already said is nonsense
                            log.debug("riskbudget explorer: no refresh after the preview", exc_info=True)
            finally:  # only once the view shows it (wait_for_preview relies on this)
                self._solving.discard(key)

        threading.Thread(target=work, name="riskbudget-preview", daemon=True).start()

    def wait_for_preview(self, timeout: float = 60.0) -> None:
        """Block until no background preview solve is running (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._solving and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            pass

    def _meets(self, plan: Any, appetite: Any) -> bool:
        if appetite is None:
            return True
        key = (id(plan), repr(appetite))
        ok = self._meets_cache.get(key)
        if ok is None:
            ok = self._meets_cache[key] = bool(appetite.check(self.problem.total_losses(plan.funding)).ok)
        return ok

    def _guidance(self, total: float, funding: Any, score: Any, appetite: Any, current: bool) -> str:
        """What pressing Optimise would change, said before it is pressed (``data-metric='guidance'``)."""
        lines: list[str] = []
        costs = [float(i.cost_per_year) for i in self._items.values() if i.cost_per_year > 0]
        if costs and 0 < total < min(costs):
            guess = total * 1e6 if total < 1e4 else None
            lines.append(f"A budget of {money(total)} funds nothing: the cheapest item costs {money(min(costs))}."
                         + (f" Did you mean {money(guess)}? Type {total:g}M." if guess else ""))
        share = float(self.security_share.value)
        key = (float(total), round(share, 6))
        if self.preview == "background" and total > 0 and key not in self._best:
            self._solve_in_background(key)
            lines.append("Working out what Optimise would change at this budget and share...")
        elif self.preview and total > 0:
            best = self.best_at_share(total, share)
            proven = optimization.PlanStatus(best.status) is optimization.PlanStatus.OPTIMAL
            what = "the best plan" if proven else f"the best plan the solver found ({best.status_text})"
            meets = self._meets(best, appetite)
            if best.funding == funding:
                if meets and (self.confidence is None or appetite is None):
                    lines.append(f"This is {what} for this budget and split{' within the appetite' if appetite else ''}:"
                                 " Optimise would change nothing.")
                elif not meets:
                    lines.append(f"This is {what} for this budget and split, but it is outside the appetite: "
                                 "Optimise would look for the best plan within it and, if none fits, show the nearest "
                                 "limits it can reach and the budget that would meet them.")
            elif meets and (self.confidence is None or appetite is None):
                names = set(funding.names) | {f"{n} (security by design)" for n in funding.security_by_design}
                best_names = set(best.funding.names) | {f"{n} (security by design)" for n in best.security_by_design}
                order = [*self._items, *(f"{p.name} (security by design)" for p in self.projects)]
                add = [n for n in order if n in best_names - names]
                drop = [n for n in order if n in names - best_names]
                change = "; ".join(part for part in (
                    ("fund " + ", ".join(add)) if add else "",
                    ("drop " + ", ".join(drop)) if drop else "") if part)
                lines.append(f"Optimise would {change}: expected net value {money(score.expected_net_value)} → "
                             f"{money(best.expected_net_value)} ({what} for this budget and split"
                             f"{', within the appetite' if appetite else ''}).")
            else:
                lines.append("The best plan for this budget and split by expected net value is outside the appetite: "
                             "Optimise would look for the best plan within it and, if none fits, show the nearest "
                             "limits it can reach and the budget that would meet them.")
        if self.plan is not None and not current:
            lines.append("The optimiser's plan below was for other choices: press Optimise to refresh it.")
        if not lines:
            return ""
        items = "".join(f"<li>{html.escape(t)}</li>" for t in lines)
        return (f"<div data-metric='guidance' style='margin:4px 0;padding:4px 8px;background:#f5f8fb;"
                f"border-left:3px solid #31708f'><ul style='margin:0 0 0 14px;padding:0'>{items}</ul></div>")

    def _step(self, k: int, text: str) -> None:
        """Show the optimisation's progress: step ``k`` of the bar and what it is doing."""
        self.progress_text.value = ("" if k >= self.progress.max else
                                    f"<span style='color:#31708f;font-size:90%'>{html.escape(text)}</span>")
        self.progress.layout.display = "" if k < self.progress.max else "none"
        self.progress.value = k

    def optimise(self) -> Any:
        """Solve for the best plan within the budget, split and appetite; set the toggles to it.

        While it runs, a progress bar and a line say which step it is at
        (solving the plan, checking it, re-solving the frontier), and the
        buttons are disabled.
        """
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        limit = "" if self.time_limit is None else f" (at most {self.time_limit:g} s per solve)"
        self._say("Solving for the best plan within this budget, split and appetite...", "info")
        buttons = (self.optimise_button, self.all_button, self.clear_button, self.load_button)
        for b in buttons:
            b.disabled = True
        started = time.perf_counter()
        try:
            self._step(1, f"Step 1 of 2: solving the plan and checking it on fresh years{limit}...")
            plan = optimization.optimize(
                self.problem,
                appetite=appetite,
                constraints=optimization.Constraints(budget=total, security_budget=sec_budget, it_budget=it_budget),
                solver=optimization.SolverOptions(time_limit=self.time_limit, confidence=self.confidence),
                progress=False,
            )
            if self.frontier_points and self._frontier_key != self._frontier_state():
                self._step(2, f"Step 2 of 2: solving the frontier at {self.frontier_points} shares of "
                              f"{money(total)}...")
                self.frontier = self._compute_frontier()
        finally:
            for b in buttons:
                b.disabled = False
            self._step(self.progress.max, "")
        self.seconds = time.perf_counter() - started
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
        self._plan_key = self._state(plan.funding)
        self.update()
        self._say(_status_message(plan), "info")
        return plan

    # -- frontier ---------------------------------------------------------- #
    def _frontier_state(self) -> tuple[float, Any]:
        total, _sec, _it = self.budgets()
        return total, self.current_appetite()

    def _compute_frontier(self) -> Any:
        """The best plan at each security share of the current budget (solved once, then reused).

        The plans maximise expected net value within each split
        (:func:`riskbudget.optimization.frontier`); each is then checked against
        the appetite, and those outside it are marked. (Solving every split
        under the appetite as well is slower and fails where no plan meets
        it; the Optimise button does that for the current split.) The plans
        join those kept for :meth:`best_at_share`, so the chart's frontier
        and "best at this share" are the same solves.
        """
        total, appetite = self._frontier_state()
        self._frontier_key = (total, appetite)
        if total <= 0:
            return None
        front = optimization.frontier(self.problem, budget=total, points=self.frontier_points,
                                      solver=optimization.SolverOptions(time_limit=self.time_limit), progress=False)
        for share, plan in zip(front.table["security_share"], front.plans):
            self._best.setdefault((float(total), round(float(share), 6)), plan)
        table = front.table.copy()
        if appetite is not None:
            table["feasible"] = [bool(appetite.check(p.result.annual_loss.to_numpy()).ok) for p in front.plans]
        return replace(front, table=table)

    # -- saved plans --------------------------------------------------------- #
    def _plan_path(self, name: str) -> Path:
        name = str(name or "").strip()
        if name.lower().endswith(".json"):
            name = name[:-5]
        if not name or not _NAME.fullmatch(name):
            raise RiskBudgetError(f"The plan's name ({name!r}) must be letters, digits, spaces, '-', '_' or '.' "
                                  "(at most 80), e.g. 'Q3 proposal'")
        return self.plans_dir / f"{name}.json"

    def _list_saved(self) -> list[str]:
        names = sorted(p.stem for p in self.plans_dir.glob("*.json")) if self.plans_dir.is_dir() else []
        for dd in (self.saved, self.compare_old, self.compare_new):
            keep = dd.value
            self._updating += 1
            try:
                dd.options = names
                dd.value = keep if keep in names else (names[-1] if names and dd is self.compare_new else
                                                        (names[0] if names else None))
            finally:
                self._updating -= 1
        return names

    def _pick_saved(self) -> None:
        """Choosing a saved plan in the list loads nothing yet (Load does); the list is re-read."""

    def current_plan(self) -> Any:
        """The plan on screen as a :class:`~riskbudget.optimization.Plan`: the optimiser's when it is on screen,
        else the funded items evaluated on the explorer's sample (status "evaluated")."""
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        funding, _status = self.fit(sec_budget, it_budget)
        if self.plan is not None and self._plan_key == self._state(funding):
            return self.plan
        return optimization.evaluate(
            self.problem, funded=list(funding.controls) + list(funding.projects),
            security_by_design=funding.security_by_design, appetite=appetite,
            constraints=optimization.Constraints(budget=total, security_budget=sec_budget, it_budget=it_budget),
            progress=False)

    def save_plan(self, name: str) -> Path:
        """Save the plan on screen under ``name`` (``<plans_dir>/<name>.json``, the saved-plan JSON)."""
        path = self._plan_path(name)
        plan = self.current_plan()
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        plan.save(path)
        self._list_saved()
        self._updating += 1
        try:
            self.saved.value = path.stem
        finally:
            self._updating -= 1
        self._say(f"Saved the plan on screen as '{path.stem}' ({path.name}"
                  f"{', replacing the earlier one' if existed else ''}): {plan.status_text}.", "ok")
        return path

    def load_plan(self, name: str | None) -> Any:
        """Set the budget, split, appetite and toggles to a saved plan's; returns the :class:`~riskbudget.review.SavedPlan`."""
        if not name:
            raise RiskBudgetError("No saved plan is chosen: save one first, or pick one in the list")
        saved = review.load_plan(self._plan_path(name))
        f = saved.data["funded"]
        unknown = [n for n in (*f["controls"], *f["projects"]) if n not in self.toggles]
        unknown += [n for n in f["security_by_design"] if n not in self.design_toggles]
        if unknown:
            raise RiskBudgetError(f"The saved plan '{name}' funds {', '.join(unknown)}, which this explorer does not "
                                  "offer: it was made with other controls or projects")
        budget = saved.budget
        cons = saved.constraints
        self._updating += 1
        try:
            if budget is not None:
                self._budget_field.amount = float(budget)
                self.total_budget.value = self._budget_field.format(float(budget))
                if budget > 0 and cons.get("security_budget") is not None:
                    self.security_share.value = round(float(cons["security_budget"]) / float(budget), 2)
            appetite = saved.appetite()
            if self._fields:
                limits = {lim.label: lim for lim in (appetite.limits if appetite is not None else ())}
                for lim in (self._appetite0.limits if self._appetite0 is not None else ()):
                    field = self._fields[lim.label]
                    got = limits.get(lim.label)
                    value = None if got is None else (100.0 * got.limit if got.kind is LimitKind.EXCEEDANCE else got.limit)
                    field.amount = value
                    field.box.value = field.format(value)
                tol = appetite.tolerance if appetite is not None else None
                points = dict(tol.points) if tol is not None else {}
                if self._appetite0 is not None and self._appetite0.tolerance is not None:
                    for p, _x in self._appetite0.tolerance.points:
                        field = self._fields[f"tolerance P={100 * p:g}%"]
                        value = points.get(p)
                        field.amount = value
                        field.box.value = field.format(value)
            on = {*f["controls"], *f["projects"]}
            for n, box in self.toggles.items():
                box.value = n in on
            for n, box in self.design_toggles.items():
                box.value = n in f["security_by_design"]
        finally:
            self._updating -= 1
        self.update()
        same_sample = saved.seed == self.seed and saved.years == self.years
        ale = saved.metrics.get("ale")
        if same_sample and ale is not None and math.isclose(float(ale), self._values["ALE"], rel_tol=1e-9):
            check = "its figures on screen are the saved ones (same sample)"
        elif ale is not None:
            check = (f"saved ALE {money(ale)} (seed {saved.seed}, {saved.years:,} years); on this explorer's "
                     f"sample {money(self._values['ALE'])}")
        else:
            check = "the file holds no ALE to check against"
        self._say(f"Loaded '{name}' ({saved.status_text}; saved {saved.created[:16]}): {check}.", "ok")
        return saved

    def compare_plans(self, old: str | None, new: str | None) -> Any:
        """Two saved plans side by side (:func:`riskbudget.compare`): each metric, what is funded, what changed."""
        if not old or not new:
            raise RiskBudgetError("Pick two saved plans to compare (save at least one first)")
        cmp = review.compare(self._plan_path(old), self._plan_path(new), progress=False)
        self.comparison.value = _comparison_html(cmp, old, new)
        self._say("", "ok")
        return cmp

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
            "ALE standard error": metrics.ale_se(losses),
            "notes": [n for n in (_precision_note(losses, "the plan's ALE"),
                                  _precision_note(self._nothing, "the ALE with nothing funded")) if n],
        }
        shown = {k: (v if isinstance(v, str) else money(v)) for k, v in values.items()
                 if k not in ("within appetite", "funded", "security by design", "notes")}
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
        ) + _notes_html(values["notes"])
        funded_items = [html.escape(n) + (" <i>(security by design)</i>" if n in score.funding.security_by_design else "")
                        for n in values["funded"]]
        self.funded_html.value = (
            f"<div style='font-weight:600;margin-bottom:4px'>Funded ({len(funded_items)})</div>"
            + ("<ul data-metric='funded' style='margin:0 0 0 16px;padding:0'>"
               + "".join(f"<li>{i}</li>" for i in funded_items) + "</ul>" if funded_items else
               "<div data-metric='funded'>nothing</div>")
        )
        funded = set(score.funding.names)
        for name, text in status.items():
            colour = "#3c763d" if name in funded else "#a94442"
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
        _log_probability_axis(lec, self.years)  # the tail, where appetite limits live, gets room
        lec.grid(True, alpha=0.3)
        lec.set_title("Loss exceedance curve", fontsize=10)
        lec.set_ylabel("P(annual loss > x), log scale")
        lec.set_xlabel("annual loss x")
        lec.plot(self._grid, _positive_or_nan(_exceedance_on(base, self._grid)), color=BEFORE, lw=1.5, ls="--",
                 label="nothing funded")
        (self._lec_now,) = lec.plot(self._grid, _positive_or_nan(_exceedance_on(base, self._grid)), color=NOW, lw=2,
                                    label="this plan")
        (self._tolerance_line,) = lec.plot(self._grid, np.full(self._grid.size, np.nan), color=LIMIT, lw=1.5, ls=":",
                                           label="tolerance curve")
        (self._limit_marks,) = lec.plot([], [], ls="none", marker="X", ms=8, color="black", label="limit met")
        (self._limit_broken,) = lec.plot([], [], ls="none", marker="X", ms=9, color=LIMIT, label="limit broken")
        lec.set_xlim(self._grid[0], self._grid[-1])
        lec.legend(fontsize=7, frameon=False, loc="lower left")

        self.chart.reset(front)
        front.set_xlabel("security share of the budget")
        front.set_ylabel("expected net value ($/yr)")
        front.grid(True, alpha=0.3)
        front.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.0f}%"))
        front.yaxis.set_major_formatter(FuncFormatter(exact_money_label))
        (self._front_line,) = front.plot([], [], color=BEFORE, lw=1.2, marker="o", ms=4,
                                         label="best plan at each share solved")
        (self._front_bad,) = front.plot([], [], ls="none", marker="x", ms=7, color=LIMIT, label="outside appetite")
        (self._front_share,) = front.plot([], [], ls="none", marker="s", ms=9, mfc="none", color="black",
                                          label="best at this share")
        (self._point,) = front.plot([], [], ls="none", marker="o", ms=8, color=NOW, label="this plan")
        front.legend(fontsize=7, frameon=False, loc="lower left")
        front.set_xlim(-0.03, 1.03)
        self._front_note = front.text(0.98, 0.97, "", transform=front.transAxes, ha="right", va="top", fontsize=8,
                                      color=LIMIT)
        self.chart.animate(self._lec_now, self._tolerance_line, self._limit_marks, self._limit_broken,
                           self._front_line, self._front_bad, self._front_share, self._point, self._front_note)

    def _limit_points(self, losses_sorted: np.ndarray) -> tuple[list[float], list[float], list[float], list[float]]:
        """Where each VaR and P(loss > x) limit sits on the LEC, split into met and broken (TVaR has no point)."""
        met_x: list[float] = []
        met_y: list[float] = []
        bad_x: list[float] = []
        bad_y: list[float] = []
        appetite = self.appetite
        if appetite is None:
            return met_x, met_y, bad_x, bad_y
        n = losses_sorted.size
        for lim in appetite.limits:
            if lim.kind is LimitKind.VAR:
                x, y = lim.limit, 1.0 - lim.param
                ok = metrics.var(losses_sorted, lim.param) <= lim.limit
            elif lim.kind is LimitKind.EXCEEDANCE:
                x, y = lim.param, lim.limit
                ok = (n - np.searchsorted(losses_sorted, lim.param, side="right")) / n <= lim.limit
            else:
                continue
            (met_x if ok else bad_x).append(x)
            (met_y if ok else bad_y).append(y)
        return met_x, met_y, bad_x, bad_y

    def _draw(self, losses_sorted: np.ndarray, score: Any) -> None:
        lec, front = self.chart.axes
        self._lec_now.set_ydata(_positive_or_nan(_exceedance_on(losses_sorted, self._grid)))
        appetite = self.appetite
        if appetite is not None and appetite.tolerance is not None:
            self._tolerance_line.set_ydata(appetite.tolerance.prob_at(self._grid))
        else:
            self._tolerance_line.set_ydata(np.full(self._grid.size, np.nan))
        met_x, met_y, bad_x, bad_y = self._limit_points(losses_sorted)
        self._limit_marks.set_data(met_x, met_y)
        self._limit_broken.set_data(bad_x, bad_y)

        # The frontier on the share axis: the best plan at every share solved at this budget (the grid and
        # every share visited), so "this plan" is compared with the best plan at its own share.
        total, share = self._values["Total budget"], float(self.security_share.value)
        px, py = [share], [score.expected_net_value]
        self._point.set_data(px, py)
        solved = sorted((s, p) for (b, s), p in list(self._best.items()) if b == total) if self.frontier_points else []
        if solved:
            xs = [s for s, _ in solved]
            ys = [float(p.expected_net_value) for _, p in solved]
            bad = [(s, float(p.expected_net_value)) for s, p in solved if not self._meets(p, appetite)]
            self._front_line.set_data(xs, ys)
            self._front_bad.set_data([b[0] for b in bad], [b[1] for b in bad])
            here = self._best.get((total, round(share, 6)))
            self._front_share.set_data(([share], [float(here.expected_net_value)]) if here is not None else ([], []))
            ylim = _nice_range(ys + py + [-float(self._nothing.mean())], pad=0.1)
            title = "Best plan at each security share of the budget"
            partial = len(solved) < self.frontier_points
            self._front_note.set_text("shares solved so far at this budget; Optimise solves them all" if partial else "")
        else:
            for artist in (self._front_line, self._front_bad, self._front_share):
                artist.set_data([], [])
            ylim = _nice_range(py + [-float(self._nothing.mean())], pad=0.1)
            title = "Best plan at each security share of the budget" if self.frontier_points else \
                "This plan: expected net value at its security share"
            self._front_note.set_text("")
        self.chart.set_title(front, title, fontsize=10)
        self.chart.set_limits(front, y=_steady(front.get_ylim(), ylim))
        self.chart.refresh()


def _steady(current: tuple[float, float], needed: tuple[float, float]) -> tuple[float, float]:
    """Keep the current axis limits while they hold what is needed and are at most twice as wide.

    Redrawing the axes costs most of a change; limits that jump with every
    new budget would redraw them every time.
    """
    lo, hi = current
    if lo <= needed[0] and needed[1] <= hi and (hi - lo) <= 2.0 * (needed[1] - needed[0]):
        return (lo, hi)
    return needed


#: What a saved plan's name may hold (it becomes the file name).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,79}")


def _comparison_html(cmp: Any, old: str, new: str) -> str:
    """Two saved plans side by side: status, budget, each metric with its change, and what is funded."""
    o, n = cmp.old, cmp.new
    e = html.escape

    def signed(v: Any) -> str:
        return "" if v is None else ("+" if v >= 0 else "-") + money(abs(float(v)))

    rows = [["Status", e(o.status_text), e(n.status_text), ""],
            ["Budget", e(money(o.budget)), e(money(n.budget)),
             e(signed(None if o.budget is None or n.budget is None else n.budget - o.budget))]]
    for k in review.METRICS:
        a, b = o.metrics.get(k), n.metrics.get(k)
        rows.append([e(review.METRIC_LABELS[k]), e(money(a)), e(money(b)), e(signed(cmp.delta.get(k)))])
    rows.append(["Funded only here", e(", ".join(cmp.funded_removed) or "-"), e(", ".join(cmp.funded_added) or "-"), ""])
    rows.append(["Sample", e(f"seed {o.seed}, {o.years:,} years"), e(f"seed {n.seed}, {n.years:,} years"), ""])
    table = _html_table(["", e(old), e(new), "change"], rows, key="comparison")
    a = cmp.attribution
    split = ""
    if a.get("ale_change") is not None:
        split = (f"<div style='margin-top:4px'>ALE change {e(signed(a['ale_change']))} = {e(signed(a['from_inputs']))} "
                 f"from changed inputs {e(signed(a['from_plan']))} from the changed plan.</div>")
    changed = cmp.inputs.get("changed") or []
    inputs = f"<div>Inputs changed: {e(', '.join(changed) or 'none')}.</div>"
    notes = "".join(f"<div style='color:#8a6d3b'>{e(t)}</div>" for t in cmp.notes)
    return (f"<div style='margin-top:6px'><div style='font-weight:600'>{e(old)} against {e(new)}</div>"
            f"{table}{split}{inputs}{notes}</div>")


# --------------------------------------------------------------------------- #
# What the optimiser says about its plan, as HTML
# --------------------------------------------------------------------------- #
def _status_message(plan: Any) -> str:
    """The message line after "Optimise": nothing for a proven optimum, else what is (not) proven, in the plan's words."""
    status = optimization.PlanStatus(plan.status)
    if status is optimization.PlanStatus.OPTIMAL:
        return ""
    text = f"Optimiser's plan — {plan.status_text}."
    if status is optimization.PlanStatus.INFEASIBLE:
        text += " Below: the nearest limits reachable and the budget that would meet them."
    return text


_STALE = ("<div class='rb-plan-stale' style='color:#8a6d3b'>You changed the budget, the split, the appetite or the "
          "toggles since <b>Optimise</b>: this is about the optimiser's plan, not the plan on screen. Press "
          "<b>Optimise</b> again to refresh it.</div>")


def _wrap(parts: list[str], current: bool) -> str:
    style = "margin-top:6px" + ("" if current else ";opacity:0.6")
    return f"<div class='rb-plan-view' style='{style}'>" + ("" if current else _STALE) + "".join(parts) + "</div>"


def _plan_view(plan: Any, current: bool) -> str:
    """What the optimiser says about ``plan``: status in words, imprecision, nearest limits, fresh years, notes."""
    parts = ["<div style='font-weight:600;margin:6px 0 2px 0'>The optimiser's plan</div>",
             f"<div>Status: <span data-metric='status'>{html.escape(plan.status_text)}</span>"
             f" <span style='color:#777'>({plan.years:,} simulated years, seed {plan.seed})</span></div>"]
    note = _precision_note(plan.result.annual_loss.to_numpy(), "the plan's ALE")
    if note:
        parts.append(_notes_html([note]))
    parts.append(_nearest_html(plan))
    parts.append(_robustness_html(plan))
    if plan.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in plan.notes)
        parts.append(f"<details style='font-size:90%;color:#555'><summary>How the optimiser handled each limit "
                     f"({len(plan.notes)} notes)</summary><ul style='margin:0 0 0 16px;padding:0'>{items}</ul>"
                     "</details>")
    return _wrap(parts, current)


def _reasons_view(plan: Any, current: bool) -> str:
    return _wrap([_reasons_html(plan)], current)


def _nearest_html(plan: Any) -> str:
    """When the appetite cannot be met: the smallest value of each limit and the budget that would meet them."""
    lines = [v.describe() for v in plan.smallest_values]
    if plan.budget_needed is not None:
        lines.append(plan.budget_needed.describe())
    if lines:
        items = "".join(f"<li>{html.escape(t)}</li>" for t in lines)
        return ("<div data-metric='nearest' style='margin-top:4px'>Nearest reachable at this budget and split "
                f"(each limit on its own):<ul style='margin:0 0 0 16px;padding:0'>{items}</ul></div>")
    if plan.status == optimization.PlanStatus.UNMET:
        return ("<div data-metric='nearest' style='margin-top:4px'>The solver stopped before it could tell how close "
                "the appetite can be met at this budget; a longer time limit (<code>time_limit=</code>) tells.</div>")
    return ""


def _robustness_html(plan: Any) -> str:
    """Each appetite limit on the plan's sample and on fresh years, with the chance it holds there."""
    rob = plan.robustness
    if rob is None:
        return ("<div data-metric='robustness' style='margin-top:4px;color:#777'>No appetite set: nothing to check on "
                "fresh years.</div>")
    if plan.margins:
        margins = ", ".join(f"{c.label} {c.format(c.margin)}" for c in rob.checks if c.margin > 0)
        head = (f"Each limit met on the sample with a margin ({margins}) aiming at a "
                f"{percent(plan.confidence or 0.5, digits=0)} chance that it holds on fresh years; checked on "
                f"{rob.years:,} fresh years (seed {rob.seed}):")
    else:
        head = (f"Checked on {rob.years:,} fresh years (seed {rob.seed}), no margin: the limits were enforced as "
                "stated on the sample only.")
    rows = []
    for c in rob.checks:
        rows.append([
            html.escape(f"{c.label} ≤ {c.format(c.limit)}"),
            html.escape(c.format(c.in_sample)),
            html.escape(f"{c.format(c.fresh)} ± {c.format(c.fresh_se)}") + ("" if c.holds_fresh else " <b>missed</b>"),
            html.escape(percent(c.chance, digits=0)),
        ])
    if rob.tolerance_ok_fresh is not None:
        on_sample = plan.appetite is not None and plan.appetite.tolerance_ok
        rows.append(["tolerance curve", "holds" if on_sample else "<b>missed</b>",
                     "holds" if rob.tolerance_ok_fresh else "<b>missed</b>", ""])
    table = _html_table(["Limit", "On the sample", "On fresh years", "Chance it holds on fresh years"], rows,
                        key="robustness")
    return f"<div style='margin-top:4px'>{html.escape(head)}{table}</div>"


def _reasons_html(plan: Any) -> str:
    """Why each control, project and security-by-design option is funded or not (checked on the sample)."""
    reasons = plan.reasons
    rows = [[html.escape(r.item), "funded" if r.funded else "not funded", html.escape(str(r.reason)),
             f"<span style='color:#666'>{html.escape(r.detail)}</span>"] for r in reasons]
    table = _html_table(["Item", "", "Why", "Checked on the sample"], rows, key="reasons",
                        row_keys=[r.item for r in reasons])
    return (f"<div style='margin-top:8px'><div style='font-weight:600'>Why each item is funded or not in the "
            f"optimiser's plan</div>{table}</div>")


# --------------------------------------------------------------------------- #
# Snapshots: a table or chart of the explorer's state, labelled as such, with a refresh
# --------------------------------------------------------------------------- #
class Snapshot:
    """A table or chart taken from a :class:`BudgetExplorer` at one moment, said to be one, with a Refresh button.

    The label names what the snapshot was taken for (budget, split, number
    funded); once the explorer's budget, split, appetite or funded plan change,
    the label says the snapshot is out of date until **Refresh** is pressed.
    Made by :meth:`BudgetExplorer.snapshot`.

    Attributes
    ----------
    kind : {"plan", "returns", "frontier"}
    text : str
        The snapshot as plain text (also its ``text/plain`` output).
    stale : bool
    """

    KINDS = {
        "plan": "the plan on screen",
        "returns": "return on each control of the plan on screen",
        "frontier": "the best plan at each security share",
    }

    def __init__(self, explorer: BudgetExplorer, kind: str) -> None:
        if kind not in self.KINDS:
            raise RiskBudgetError(f"snapshot kind ({kind!r}) must be one of {', '.join(self.KINDS)}")
        self.explorer, self.kind = explorer, kind
        self.label = W.HTML()
        self.label.add_class("rb-snapshot-label")
        self.button = W.Button(description="Refresh", icon="refresh", layout=W.Layout(width="auto"))
        self.button.add_class("rb-refresh")
        self.body: W.Widget = W.Image(format="png", layout=W.Layout(max_width="880px", height="auto")) \
            if kind != "plan" else W.HTML()
        self.widget = W.VBox([W.HBox([self.label, self.button], layout=W.Layout(align_items="center")), self.body])
        self.widget.add_class("rb-snapshot")
        self.widget.add_class("rb-explorer")
        self.text = ""
        self.stale = False
        self.button.on_click(lambda _b: explorer._run(self.refresh))
        explorer._snapshots.append(self)
        self.refresh()

    def _taken_for(self) -> str:
        v = self.explorer._values
        return (f"budget {money(v['Total budget'])}, {percent(self.explorer.security_share.value, digits=0)} for "
                f"security, {len(v['funded'])} items funded")

    def refresh(self) -> None:
        ex = self.explorer
        self._key = ex._snapshot_key()
        self._taken = self._taken_for()
        getattr(self, f"_{self.kind}")()
        self.mark()

    def mark(self) -> None:
        """Say whether the explorer still shows what the snapshot was taken from."""
        self.stale = self._key != self.explorer._snapshot_key()
        what = html.escape(self.KINDS[self.kind])
        if self.stale:
            self.label.value = (f"<span class='rb-snapshot-stale' style='color:#8a6d3b'><b>Snapshot</b> of {what} "
                                f"({html.escape(self._taken)}), <b>out of date</b>: the explorer has changed since. "
                                "Press Refresh.</span>")
        else:
            self.label.value = (f"<span style='color:#555'><b>Snapshot</b> of {what} ({html.escape(self._taken)}); "
                                "it does not follow the explorer by itself: Refresh after a change.</span>")

    # -- the three kinds ------------------------------------------------------ #
    def _plan(self) -> None:
        ex = self.explorer
        keys = ["ALE (nothing funded)", "ALE", "ALE standard error", "VaR95", "TVaR95", "Expected project value",
                "Expected net value", "Security spend", "IT spend", "Appetite"]
        shown = ex.shown
        f = ex.funding
        projects = [p + (" (secure by design)" if p in f.security_by_design else "") for p in f.projects]
        self.body.value = (_metric_table([(k, k, shown[k]) for k in keys])
                           + f"<div>Controls funded: {html.escape(', '.join(f.controls) or 'none')}</div>"
                           + f"<div>Projects funded: {html.escape(', '.join(projects) or 'none')}</div>")
        self.text = "\n".join([*(f"{k:<24} {shown[k]}" for k in keys), "",
                               "Controls funded: " + (", ".join(f.controls) or "none"),
                               "Projects funded: " + (", ".join(projects) or "none")])

    def _returns(self) -> None:
        from matplotlib.figure import Figure

        r = self.explorer.current_plan().returns.sort_values("roc_standalone", ascending=True)
        fig = Figure(figsize=(10, 0.3 * len(r) + 1.0), dpi=80)
        ax = fig.add_subplot(1, 1, 1)
        y = np.arange(len(r))
        ax.barh(y + 0.2, r["roc_standalone"], height=0.4, color=NOW, label="alone")
        ax.barh(y - 0.2, r["roc_marginal"], height=0.4, color="#ff7f0e", label="at the margin of the plan")
        ax.errorbar(r["roc_standalone"], y + 0.2,
                    xerr=[r["roc_standalone"] - r["roc_standalone_low"], r["roc_standalone_high"] - r["roc_standalone"]],
                    fmt="none", ecolor="black", lw=0.8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{n}{' (funded)' if f else ''}" for n, f in zip(r.index, r["funded"])], fontsize=8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.0f}%"))
        ax.set_xlabel("return on control: (ALE reduction - cost) / cost; bars: 95% interval")
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.subplots_adjust(left=0.4, right=0.97, top=1 - 0.15 / fig.get_figheight(), bottom=0.6 / fig.get_figheight())
        self.body.value = _png(fig)
        rows = r.iloc[::-1]
        self.text = "\n".join(
            f"{n[:44]:<44} alone {a:+.0%}, at the margin {m:+.0%}{' (funded)' if f else ''}"
            for n, a, m, f in zip(rows.index, rows["roc_standalone"], rows["roc_marginal"], rows["funded"]))

    def _frontier(self) -> None:
        from matplotlib.figure import Figure

        ex = self.explorer
        total = ex._values["Total budget"]
        # The frontier's shares and the plan's own share (solved now if need be): the same points on every run.
        points = {}
        if ex.frontier is not None and ex.frontier.budget == total:
            points = {round(float(s), 6): p for s, p in zip(ex.frontier.table["security_share"], ex.frontier.plans)}
        share = round(float(ex.security_share.value), 6)
        points[share] = ex.best_at_share(total, share)
        solved = sorted(points.items())
        fig = Figure(figsize=(9, 3.4), dpi=80)
        value_ax, risk_ax = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        xs = [s for s, _ in solved]
        ok = [ex._meets(p, ex.appetite) for _, p in solved]
        for ax, key, label in ((value_ax, "expected_net_value", "expected net value ($/yr)"),
                               (risk_ax, "tvar95", "TVaR95 of annual loss")):
            ys = [float(getattr(p, key)) for _, p in solved]
            ax.plot(xs, ys, color=BEFORE, lw=1.2, marker="o", ms=4, label="best plan at the share")
            bad = [(x, y) for x, y, k in zip(xs, ys, ok) if not k]
            if bad:
                ax.plot(*zip(*bad), ls="none", marker="x", ms=8, color=LIMIT, label="outside appetite")
            here = ex.values["Expected net value"] if key == "expected_net_value" else ex.values["TVaR95"]
            ax.plot([ex.security_share.value], [here], ls="none", marker="o", ms=8, color=NOW, label="this plan")
            ax.set_xlabel("security share of the budget")
            ax.set_ylabel(label)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.0f}%"))
            ax.yaxis.set_major_formatter(FuncFormatter(exact_money_label))
            ax.grid(True, alpha=0.3)
        value_ax.legend(fontsize=7, frameon=False, loc="lower center")
        fig.suptitle(f"Best plan at each security share of {money(total)} (no appetite limit while solving; "
                     "those outside it marked)", fontsize=9)
        fig.subplots_adjust(left=0.1, right=0.98, wspace=0.35, bottom=0.16, top=0.88)
        self.body.value = _png(fig)
        self.text = "\n".join(
            f"{s:>4.0%}: expected net value {money(p.expected_net_value)}, TVaR95 {money(p.tvar95)}, "
            f"{'within appetite' if k else 'outside appetite'}" for (s, p), k in zip(solved, ok))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = self.text
        return bundle

    def __repr__(self) -> str:
        return self.text


def _png(fig: Any) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()
