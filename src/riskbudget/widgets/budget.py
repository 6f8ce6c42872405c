"""BudgetExplorer: the joint CIO/CISO view of one budget, security controls and IT projects."""

from __future__ import annotations

import html
import math
from dataclasses import replace
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.ticker import FuncFormatter

from .. import metrics, optimization
from ..appetite import LimitKind
from ..exceptions import RiskBudgetError
from ..formatting import money, percent
from ._common import (
    BEFORE,
    LIMIT,
    NOW,
    _Chart,
    _exceedance_on,
    _Explorer,
    _html_table,
    _metric_table,
    _money_log_axis,
    _nice_range,
    _notes_html,
    _percent_axis,
    _precision_note,
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
        the best plan at each security share of the budget, under the
        appetite) and show the current plan against it: expected net value
        against TVaR95. It is re-solved by "Optimise" after the budget or the
        appetite changed.
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
    ) -> None:
        super().__init__()
        self.confidence = confidence
        self.plan: Any = None
        self._plan_key: Any = None
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
        self.total_budget = W.FloatText(value=budget, description="Total budget ($/yr)", continuous_update=False,
                                        style={"description_width": "130px"}, layout=W.Layout(width="300px"))
        self.total_budget.add_class("rb-total-budget")
        self.security_share = W.FloatSlider(value=security_share, min=0.0, max=1.0, step=0.01,
                                            description="Security share", readout_format=".0%", continuous_update=False,
                                            style={"description_width": "130px"}, layout=W.Layout(width="420px"))
        self.security_share.add_class("rb-security-share")
        self.split = W.HTML()

    def _build_threshold_boxes(self, appetite: Any) -> list[W.Widget]:
        """One box per appetite limit (by its label) and per tolerance point."""
        self.thresholds: dict[str, W.FloatText] = {}
        if appetite is None:
            return []
        for lim in appetite.limits:
            label = lim.label
            if lim.kind is LimitKind.EXCEEDANCE:
                box = W.FloatText(value=100.0 * lim.limit, description=f"{label} ≤ (%)", continuous_update=False)
            else:
                box = W.FloatText(value=lim.limit, description=f"{label} ≤ ($)", continuous_update=False)
            self.thresholds[label] = box
        if appetite.tolerance is not None:
            for p, x in appetite.tolerance.points:
                self.thresholds[f"tolerance P={100 * p:g}%"] = W.FloatText(
                    value=x, description=f"1-in-{1 / p:.0f}-yr loss ≤ ($)", continuous_update=False
                )
        for box in self.thresholds.values():
            box.style.description_width = "170px"
            box.layout.width = "300px"
            box.add_class("rb-threshold")
        return list(self.thresholds.values())

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
        self.chart = _Chart(10.0, 3.6, ncols=2)

    def _layout(self, threshold_rows: list[W.Widget], control_rows: list[W.Widget],
                project_rows: list[W.Widget]) -> W.Widget:
        budget_box = W.VBox([W.HTML("<b>Budget</b>"), self.total_budget, self.security_share, self.split])
        appetite_box = W.VBox([W.HTML("<b>Risk appetite</b>")] + threshold_rows)
        appetite_box.layout.margin = "0 0 0 32px"
        widget = W.VBox(
            [
                W.HBox([budget_box, appetite_box], layout=W.Layout(align_items="flex-start")),
                W.HBox([self.optimise_button, self.all_button, self.clear_button]),
                self.message,
                W.HBox([self.metrics, self.funded_html], layout=W.Layout(align_items="flex-start")),
                self.plan_html,
                self.chart.image,
                W.HBox([W.VBox(control_rows, layout=W.Layout(width="50%")),
                        W.VBox(project_rows, layout=W.Layout(width="50%"))]),
                self.reasons_html,
            ]
        )
        widget.add_class("rb-budget-explorer")
        self.funded_html.layout.margin = "0 0 0 32px"
        return widget

    def _connect(self) -> None:
        """Every box, slider and toggle re-runs :meth:`update` when its value changes."""
        for w in [self.total_budget, self.security_share, *self.thresholds.values(), *self.toggles.values(),
                  *self.design_toggles.values()]:
            self._observe(w, self.update)

    def _start(self, *, frontier: bool, frontier_points: int, time_limit: float | None) -> None:
        """Want everything, solve the frontier once, draw the first view (an error here is raised)."""
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
        from ..appetite import Appetite, Limit, ToleranceCurve

        base = self._appetite0
        if base is None:
            return None
        limits = []
        for lim in base.limits:
            v = float(self.thresholds[lim.label].value)
            if lim.kind is LimitKind.EXCEEDANCE:
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
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        funding, status = self.fit(sec_budget, it_budget)
        score = self.problem.score(funding)
        losses = self.problem.total_losses(funding)
        check = appetite.check(losses) if appetite is not None else None
        self.appetite, self.funding, self.score = appetite, funding, score
        current = self.plan is not None and self._plan_key == self._state(funding)
        if current:
            status = self._with_reasons(status, self.plan)
        self._render(total, sec_budget, it_budget, score, check, status, losses)
        self.plan_html.value = "" if self.plan is None else _plan_view(self.plan, current)
        self.reasons_html.value = "" if self.plan is None else _reasons_view(self.plan, current)

    def _state(self, funding: Any) -> tuple[Any, ...]:
        """What the optimiser's plan was solved for and set: budget, split, appetite and the funded plan."""
        return (float(self.total_budget.value), float(self.security_share.value), self.current_appetite(), funding)

    def optimise(self) -> Any:
        """Solve for the best plan within the budget, split and appetite; set the toggles to it."""
        total, sec_budget, it_budget = self.budgets()
        appetite = self.current_appetite()
        self._say("Solving for the best plan within this budget, split and appetite...", "info")
        plan = optimization.optimize(
            self.problem,
            appetite=appetite,
            constraints=optimization.Constraints(budget=total, security_budget=sec_budget, it_budget=it_budget),
            solver=optimization.SolverOptions(time_limit=self.time_limit, confidence=self.confidence),
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
        it; the Optimise button does that for the current split.)
        """
        total, appetite = self._frontier_state()
        self._frontier_key = (total, appetite)
        if total <= 0:
            return None
        front = optimization.frontier(self.problem, budget=total, points=self.frontier_points,
                                      solver=optimization.SolverOptions(time_limit=self.time_limit), progress=False)
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
                if lim.kind is LimitKind.VAR:
                    xs.append(lim.limit)
                    ys.append(1.0 - lim.param)
                elif lim.kind is LimitKind.EXCEEDANCE:
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
