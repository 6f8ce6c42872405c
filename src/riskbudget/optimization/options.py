"""What the optimiser's verbs accept: :class:`SolverOptions`, keyword routing, the appetite and the sample.

:func:`optimize`, :func:`frontier` and :func:`evaluate` take their rules as a
:class:`~riskbudget.optimization.Constraints` and their solver settings as a
:class:`SolverOptions` (as PyPortfolioOpt groups constraints), and also as
loose keywords, which :func:`route_options` sends to the object holding a field
of that name: ``optimize(problem, budget=6e6, include=["MFA"], time_limit=30)``
is ``optimize(problem, constraints=Constraints(budget=6e6, include=("MFA",)),
solver=SolverOptions(time_limit=30))``. An unknown keyword is an error listing
the allowed ones.

Examples
--------
>>> from riskbudget.optimization import Constraints, SolverOptions
>>> from riskbudget.optimization.options import route_options
>>> cons, solver = route_options("optimize", {"budget": 6e6, "include": ["MFA"], "time_limit": 30})
>>> cons == Constraints(budget=6e6, include=("MFA",)), solver == SolverOptions(time_limit=30)
(True, True)
>>> route_options("optimize", {"budget": 6e6, "timelimit": 30})
Traceback (most recent call last):
...
riskbudget.exceptions.RiskBudgetError: optimize: unknown keyword 'timelimit'; ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .._options import merge_options
from ..appetite import Appetite
from ..exceptions import RiskBudgetError
from .cuts import VAR_METHODS
from .problem import DecisionProblem, precompute
from .rules import Constraints

__all__ = ["SolverOptions", "METHODS", "route_options", "appetite_of", "problem_of"]

#: How the optimiser solves: the exact program, the heuristic, or the program whenever it fits.
METHODS = ("auto", "milp", "heuristic")


@dataclass(frozen=True)
class SolverOptions:
    """How :func:`~riskbudget.optimization.optimize` solves (not what a plan must satisfy).

    Parameters
    ----------
    method : {"auto", "milp", "heuristic"}
        ``"milp"``: proven on the sample (HiGHS, cut rounds). ``"heuristic"``:
        greedy + local search, simulating lazily (for problems too large to
        enumerate); its plans meet every limit but are not proven optimal.
        ``"auto"``: the MILP whenever every scenario's combinations can be
        enumerated.
    var_method : {"exact", "cvar"}, default "exact"
        How VaR limits enter the program: exactly (the sample quantile, as
        :meth:`~riskbudget.Appetite.check` computes it), or through the mean of
        the same tail, a conservative stand-in (the plan's status is then
        ``"stand_in"``, with its gap to a valid bound). See
        :mod:`riskbudget.optimization.cuts`.
    time_limit : float, optional
        Seconds for the search. When it stops the search, the best plan found
        that meets every limit is returned with its proven gap (status
        ``"feasible_gap"``). The least-risk plan, a stand-in's bound and the
        report on an appetite that cannot be met each get up to this long again.
    mip_rel_gap : float, default 1e-6
        Relative optimality gap at which HiGHS stops.
    explain_infeasible : bool or None, default None
        When the appetite cannot be met, also find the smallest value of each
        limit any plan reaches and the budget that would meet the appetite
        (``plan.smallest_values``, ``plan.budget_needed``). ``None``: yes for
        :func:`~riskbudget.optimization.optimize`, no for each share of
        :func:`~riskbudget.optimization.frontier` (its table shows neither,
        and they are two more solves per share out of reach).
    confidence : float or None, default None
        Make each appetite limit hold on fresh years, not only on the sample:
        the plan meets every VaR, TVaR and P(loss > x) limit on the sample with
        a margin of ``z`` of its Monte Carlo standard errors, ``z = sqrt(2)
        Phi^-1(confidence)``, aiming at a fresh sample of the same size holding
        it with this chance (see :mod:`riskbudget.optimization.robustness`).
        A plan chosen on one sample looks better there than on fresh years,
        so the chance checked on fresh years (``plan.robustness``) can be
        lower. ``None`` (or 0.5): the limits as stated, on the sample only.
    """

    method: str = "auto"
    var_method: str = "exact"
    time_limit: float | None = None
    mip_rel_gap: float = 1e-6
    explain_infeasible: bool | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise RiskBudgetError(f"optimize: method {self.method!r} is not one of {list(METHODS)}")
        if self.var_method not in VAR_METHODS:
            raise RiskBudgetError(f"var_method ({self.var_method!r}) must be 'exact' or 'cvar'")
        if self.confidence is not None:
            c = self.confidence
            if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.5 <= float(c) < 1.0:
                raise RiskBudgetError(
                    f"optimize: confidence ({c!r}) must be a number in [0.5, 1), the chance each appetite limit "
                    "holds on fresh years (e.g. 0.95), or None for the limits on the sample only"
                )
            object.__setattr__(self, "confidence", float(c))

    @property
    def margin(self) -> bool:
        """True when the limits get a margin for fresh years (``confidence`` above 0.5)."""
        return self.confidence is not None and self.confidence > 0.5

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))




def route_options(
    where: str,
    options: Mapping[str, Any],
    *,
    constraints: Constraints | None = None,
    solver: SolverOptions | None = None,
    accept_solver: bool = True,
) -> tuple[Constraints, SolverOptions]:
    """Send loose keywords to the :class:`Constraints` or :class:`SolverOptions` field of that name.

    Parameters
    ----------
    where : str
        The verb, named in errors.
    options : mapping
        The loose keywords (``budget=``, ``include=``, ``time_limit=``...).
    constraints, solver : optional
        Objects given by the caller; keywords fill their fields.
    accept_solver : bool
        False for verbs that do not solve (:func:`evaluate`): solver keywords
        are then unknown.

    Raises
    ------
    RiskBudgetError
        For an unknown keyword (listing the allowed ones), an object of the
        wrong type, or a field given both ways with different values.
    """
    if constraints is not None and not isinstance(constraints, Constraints):
        raise RiskBudgetError(
            f"{where}: constraints must be a riskbudget.optimization.Constraints, not {type(constraints).__name__}"
        )
    if solver is not None and not isinstance(solver, SolverOptions):
        raise RiskBudgetError(
            f"{where}: solver must be a riskbudget.optimization.SolverOptions, not {type(solver).__name__}"
        )
    if solver is not None and not accept_solver:
        raise RiskBudgetError(f"{where}: takes no solver options")
    cons_names = Constraints.field_names()
    solver_names = SolverOptions.field_names() if accept_solver else ()
    unknown = [k for k in options if k not in cons_names and k not in solver_names]
    if unknown:
        allowed = ", ".join([*cons_names, *solver_names])
        which = f"keyword {unknown[0]!r}" if len(unknown) == 1 else f"keywords {unknown}"
        raise RiskBudgetError(f"{where}: unknown {which}; the options are {allowed}")
    cons = merge_options(where, constraints or Constraints(), {k: v for k, v in options.items() if k in cons_names},
                  "constraints")
    solv = merge_options(where, solver or SolverOptions(), {k: v for k, v in options.items() if k in solver_names}, "solver")
    return cons, solv


def appetite_of(where: str, appetite: Any) -> Appetite | None:
    """The appetite to enforce (``None`` for none or an empty one), or an error for anything else."""
    if appetite is None:
        return None
    if not isinstance(appetite, Appetite):
        raise RiskBudgetError(
            f"{where}: appetite must be a riskbudget.Appetite, e.g. Appetite(var95=20e6), not {type(appetite).__name__}"
        )
    return appetite if appetite else None


def problem_of(
    where: str,
    register: Any,
    controls: Iterable[Any],
    projects: Iterable[Any],
    *,
    years: int,
    seed: Any,
    n_jobs: int | None,
    progress: bool | None,
    lazy: bool = False,
) -> DecisionProblem:
    """A :class:`DecisionProblem` given as such, or precomputed from a register, controls and projects."""
    if isinstance(register, DecisionProblem):
        if tuple(controls) or tuple(projects):
            raise RiskBudgetError(
                f"{where}: give either a DecisionProblem or a register with controls and projects, not both"
            )
        return register
    return precompute(register, controls, projects, years=years, seed=seed, n_jobs=n_jobs, progress=progress, lazy=lazy)
