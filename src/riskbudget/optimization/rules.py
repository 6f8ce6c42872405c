"""The rules of a funding choice, in one place: budgets, shares, include/exclude, requires, exclusive.

:class:`Constraints` states the rules a plan must satisfy besides the
appetite; :func:`resolve_constraints` checks them against a
:class:`~riskbudget.optimization.DecisionProblem` and adds every control's and
project's own ``requires`` and ``excludes``; :class:`FundingRules` checks a
:class:`~riskbudget.optimization.Funding` against them and reports every rule
it breaks, in words (:class:`Violation`).

One checker serves every caller: the optimiser's checks after HiGHS (the
polish and the checked local search), the heuristic's moves,
:func:`~riskbudget.optimization.evaluate` (each broken rule becomes a note) and
the budget explorer (which funds a wanted item only when the rules allow it).
The mixed-integer program writes the same rules as linear rows
(:mod:`riskbudget.optimization.model`); the tests check both agree.

Money caps hold up to the solver's own tolerance, :func:`exceeds`: a relative
``1e-12`` plus a micro-dollar, the same for every cap and share.

Examples
--------
>>> import riskbudget as rb
>>> from riskbudget.optimization import Constraints, FundingRules, Funding, precompute
>>> reg = rb.Register([rb.Scenario("A", loss_event_frequency=2, primary_loss=rb.PERT(1e3, 2e3, 5e3), category="web")])
>>> waf = rb.Control("WAF", 500, applies_to="web", resistance=0.5, requires="MFA")
>>> mfa = rb.Control("MFA", 300, applies_to="web", resistance=0.2)
>>> problem = precompute(reg, [waf, mfa], years=200, seed=1)
>>> rules = FundingRules(problem, Constraints(budget=600))
>>> [v.message for v in rules.violations(Funding(controls=("WAF",)))]
["'WAF' requires 'MFA', which is not funded"]
>>> [v.message for v in rules.violations(Funding(controls=("WAF", "MFA")))]
['spend 800 exceeds the budget 600']
>>> rules.allows(Funding(controls=("MFA",)))
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from ..exceptions import RiskBudgetError
from .problem import DecisionProblem, Funding

__all__ = [
    "spend_violations",
    "Constraints",
    "Rule",
    "Violation",
    "FundingRules",
    "resolve_constraints",
    "exceeds",
    "money_value",
    "share_value",
    "RELATIVE_TOLERANCE",
    "ABSOLUTE_TOLERANCE",
]

#: A cap holds when the amount is at most ``cap (1 + RELATIVE_TOLERANCE) + ABSOLUTE_TOLERANCE``.
RELATIVE_TOLERANCE = 1e-12
#: Dollars: HiGHS stops within about a dollar on the scaled program; a micro-dollar is far below any cost.
ABSOLUTE_TOLERANCE = 1e-6


def exceeds(amount: float, cap: float) -> bool:
    """True when ``amount`` is above ``cap`` beyond the one tolerance every rule uses."""
    return amount > cap * (1.0 + RELATIVE_TOLERANCE) + ABSOLUTE_TOLERANCE



def _names(field_name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(str(v) for v in value)
    except TypeError:
        raise RiskBudgetError(
            f"Constraints: {field_name} ({value!r}) must be names of controls or projects, e.g. ['MFA']"
        ) from None


def _groups(field_name: str, value: Any) -> tuple[tuple[str, ...], ...]:
    if isinstance(value, str):
        value = (value,)
    try:
        return tuple(_names(field_name, g) for g in value)
    except TypeError:
        raise RiskBudgetError(
            f"Constraints: {field_name} ({value!r}) must be groups of names, e.g. [('EDR', 'Backups')]"
        ) from None


@dataclass(frozen=True)
class Constraints:
    """Everything a plan must satisfy besides the appetite.

    Parameters
    ----------
    budget : float, optional
        Total spend allowed (controls + projects + security-by-design options);
        ``None``: no cap on the total (the optimiser needs one).
    security_budget, it_budget : float, optional
        Caps on security spend (controls + security-by-design) and IT spend.
    min_security_share, max_security_share : float, optional
        Bounds on security spend as a share of the total spend.
    include, exclude : names
        Items that must (must not) be funded.
    requires : (A, B) pairs
        "A requires B", besides each item's own ``requires``.
    exclusive : groups of names
        At most one item of each group, besides each item's own ``excludes``.

    Name fields are kept as tuples; values are checked against a problem by
    :func:`resolve_constraints`.

    Examples
    --------
    >>> Constraints(budget=6e6, include=["MFA"], requires=[("WAF", "MFA")])
    Constraints(budget=6000000.0, security_budget=None, it_budget=None, min_security_share=None, max_security_share=None, include=('MFA',), exclude=(), requires=(('WAF', 'MFA'),), exclusive=())
    """

    budget: float | None = None
    security_budget: float | None = None
    it_budget: float | None = None
    min_security_share: float | None = None
    max_security_share: float | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    requires: tuple[tuple[str, ...], ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        for name in ("include", "exclude"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        for name in ("requires", "exclusive"):
            object.__setattr__(self, name, _groups(name, getattr(self, name)))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def money_value(where: str, name: str, value: Any, *, allow_zero: bool = True) -> float:
    """``value`` as an amount of money, or a :class:`RiskBudgetError` naming ``where`` and ``name``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"{where}: {name} ({value!r}) must be an amount of money") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise RiskBudgetError(f"{where}: {name} ({value!r}) must be a finite amount {'>= 0' if allow_zero else '> 0'}")
    return x


def share_value(where: str, name: str, value: Any) -> float | None:
    """``value`` as a share in [0, 1] (``None`` stays ``None``), or a :class:`RiskBudgetError`."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"{where}: {name} ({value!r}) must be a share in [0, 1]") from None
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise RiskBudgetError(f"{where}: {name} ({value!r}) must be a share in [0, 1], e.g. 0.15 for 15%")
    return x


def resolve_constraints(problem: DecisionProblem, constraints: Constraints, *, where: str = "optimize") -> Constraints:
    """Check ``constraints`` against ``problem`` and add each item's own ``requires`` and ``excludes``.

    Names must be controls or projects of the problem, ``requires`` pairs,
    money amounts finite and >= 0, shares in [0, 1] with the minimum at most
    the maximum. Each control's and project's ``requires`` become ``(item, B)``
    pairs after the given ones, its ``excludes`` two-item ``exclusive`` groups
    (duplicates dropped, first occurrence kept), so resolving twice changes
    nothing. Errors name ``where`` (the calling verb).
    """
    known = set(problem.control_index) | set(problem.project_index)

    def check(names: tuple[str, ...], what: str) -> tuple[str, ...]:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise RiskBudgetError(
                f"{where}: {what} names {unknown}, which are neither controls nor projects; known: {sorted(known)}"
            )
        return names

    inc, exc = check(constraints.include, "include"), check(constraints.exclude, "exclude")
    both = sorted(set(inc) & set(exc))
    if both:
        raise RiskBudgetError(f"{where}: {both} are both included and excluded")
    req: list[tuple[str, ...]] = []
    for pair in constraints.requires:
        if len(pair) != 2:
            raise RiskBudgetError(f"{where}: requires takes (A, B) pairs meaning 'A requires B', not {pair!r}")
        req.append(check(pair, "requires"))
    groups: list[tuple[str, ...]] = [check(g, "exclusive") for g in constraints.exclusive]
    for item in list(problem.controls) + list(problem.projects):
        for b in item.requires:
            req.append((item.name, b))
        for b in item.excludes:
            groups.append((item.name, b))
    smin = share_value(where, "min_security_share", constraints.min_security_share)
    smax = share_value(where, "max_security_share", constraints.max_security_share)
    if smin is not None and smax is not None and smin > smax:
        raise RiskBudgetError(f"{where}: min_security_share ({smin:g}) exceeds max_security_share ({smax:g})")

    def money(name: str) -> float | None:
        value = getattr(constraints, name)
        return None if value is None else money_value(where, name, value)

    return Constraints(
        budget=money("budget"),
        security_budget=money("security_budget"),
        it_budget=money("it_budget"),
        min_security_share=smin,
        max_security_share=smax,
        include=inc,
        exclude=exc,
        requires=tuple(dict.fromkeys(req)),
        exclusive=tuple(dict.fromkeys(groups)),
    )


class Rule(Enum):
    """The rules of a funding choice; each value is the :class:`Constraints` field that states it."""

    INCLUDE = "include"
    EXCLUDE = "exclude"
    REQUIRES = "requires"
    EXCLUSIVE = "exclusive"
    BUDGET = "budget"
    SECURITY_BUDGET = "security_budget"
    IT_BUDGET = "it_budget"
    MIN_SECURITY_SHARE = "min_security_share"
    MAX_SECURITY_SHARE = "max_security_share"


@dataclass(frozen=True)
class Violation:
    """One rule a funding choice breaks.

    Attributes
    ----------
    rule : Rule
    names : tuple of str
        The items concerned: the included item missing or the excluded item
        funded; ``(A, B)`` for "A requires B"; the funded members of an
        exclusive group. Empty for budgets and shares.
    value, limit : float
        For budgets, the spend and the cap; for shares, the security share of
        the spend and the bound. NaN for the other rules.
    group : tuple of str
        For an exclusive group, the whole group (``names`` are its funded members).
    message : str
        The rule in words, e.g. ``"'WAF' requires 'MFA', which is not funded"``.
    """

    rule: Rule
    names: tuple[str, ...] = ()
    value: float = math.nan
    limit: float = math.nan
    group: tuple[str, ...] = ()

    @property
    def excess(self) -> float:
        """How far a budget is exceeded (spend - cap) or a share missed (in share); NaN for the other rules."""
        return abs(self.value - self.limit)

    @property
    def message(self) -> str:
        r, n = self.rule, self.names
        if r is Rule.INCLUDE:
            return f"{n[0]!r} must be funded (include) but is not"
        if r is Rule.EXCLUDE:
            return f"{n[0]!r} is funded but excluded"
        if r is Rule.REQUIRES:
            return f"{n[0]!r} requires {n[1]!r}, which is not funded"
        if r is Rule.EXCLUSIVE:
            return f"at most one of {list(self.group)} may be funded, but {list(n)} are"
        if r is Rule.BUDGET:
            return f"spend {self.value:,.0f} exceeds the budget {self.limit:,.0f}"
        if r is Rule.SECURITY_BUDGET:
            return f"security spend {self.value:,.0f} exceeds the security budget {self.limit:,.0f}"
        if r is Rule.IT_BUDGET:
            return f"IT spend {self.value:,.0f} exceeds the IT budget {self.limit:,.0f}"
        bound = "below the minimum" if r is Rule.MIN_SECURITY_SHARE else "above the maximum"
        return f"security spend is {self.value:.1%} of the spend, {bound} security share {self.limit:.1%}"

    def __str__(self) -> str:
        return self.message

def spend_violations(cons: Constraints, sec: float, it: float, *, premium: float = 0.0) -> Iterator[Violation]:
    """The budget, the security and IT budgets and the security shares of ``cons`` that a spend breaks.

    ``sec`` and ``it``: the security and IT spend (a year's, or a year-1 spend with its one-off costs);
    ``premium``: insurance bought, spend that counts against the total budget only.
    """
    total = sec + it
    for rule, spend, cap in (
        (Rule.BUDGET, total + premium, cons.budget),  # an insured problem's premium is spend too
        (Rule.SECURITY_BUDGET, sec, cons.security_budget),
        (Rule.IT_BUDGET, it, cons.it_budget),
    ):
        if cap is not None and exceeds(spend, cap):
            yield Violation(rule, value=spend, limit=cap)
    share = sec / total if total > 0 else 0.0
    if cons.min_security_share is not None and exceeds(cons.min_security_share * total, sec):
        yield Violation(Rule.MIN_SECURITY_SHARE, value=share, limit=cons.min_security_share)
    if cons.max_security_share is not None and exceeds(sec, cons.max_security_share * total):
        yield Violation(Rule.MAX_SECURITY_SHARE, value=share, limit=cons.max_security_share)


class FundingRules:
    """The rules of funding choices on one problem, checked one choice at a time.

    Parameters
    ----------
    problem : DecisionProblem
    constraints : Constraints, optional
        Resolved on construction (:func:`resolve_constraints`), so each item's
        own ``requires`` and ``excludes`` are always among the rules.
    where : str
        The verb named in errors about the constraints themselves.

    Attributes
    ----------
    constraints : Constraints
        The resolved constraints.
    """

    def __init__(self, problem: DecisionProblem, constraints: Constraints | None = None, *, where: str = "rules") -> None:
        self.problem = problem
        self.constraints = resolve_constraints(problem, constraints or Constraints(), where=where)

    def violations(self, funding: Funding) -> list[Violation]:
        """Every rule ``funding`` breaks, in the order of :class:`Rule` (empty: allowed)."""
        return list(self._violations(funding))

    def allows(self, funding: Funding) -> bool:
        """True when ``funding`` breaks no rule (stops at the first broken one)."""
        return next(self._violations(funding), None) is None

    def _violations(self, funding: Funding) -> Iterator[Violation]:
        cons = self.constraints
        on = set(funding.names)
        yield from (Violation(Rule.INCLUDE, (n,)) for n in cons.include if n not in on)
        yield from (Violation(Rule.EXCLUDE, (n,)) for n in cons.exclude if n in on)
        yield from (Violation(Rule.REQUIRES, (a, b)) for a, b in cons.requires if a in on and b not in on)
        for group in cons.exclusive:
            funded = tuple(g for g in group if g in on)
            if len(funded) > 1:
                yield Violation(Rule.EXCLUSIVE, funded, group=group)
        yield from self._spend_violations(funding)

    def _spend_violations(self, funding: Funding) -> Iterator[Violation]:
        sec, it = self.problem.spend(funding)
        yield from spend_violations(self.constraints, sec, it, premium=self.problem.premium)

