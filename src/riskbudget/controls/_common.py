"""Shared pieces of the controls package: errors, FAIR-CAM functions and value checks."""

from __future__ import annotations

from typing import Any

from .._parse import parse_money, parse_number
from ..distributions import Distribution, as_distribution
from ..exceptions import MONEY, Ceiling, RiskBudgetError, check_text
from ..fair import ADJUSTABLE_FACTORS, ALL_SCENARIOS, FORMS_OF_LOSS, check_reach

#: FAIR-CAM functions of a control and the factor each one lowers by default.
FUNCTIONS: dict[str, str] = {
    "avoidance": "frequency",
    "deterrence": "frequency",
    "resistance": "susceptibility",
    "detection": "loss",
    "response": "loss",
}
#: Wildcard in ``applies_to`` / ``adds_risk_to``: every scenario.
ALL = ALL_SCENARIOS


class ControlError(RiskBudgetError):
    """A control, or a row of a controls file, breaks a rule."""


class ProjectError(RiskBudgetError):
    """A project, or a row of a projects file, breaks a rule."""


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _number(owner: str, name: str, value: Any, err: type[RiskBudgetError], ceiling: Ceiling | None = None) -> float:
    """A number; an amount of money (``ceiling=MONEY``) also as typed ("250K", "$250,000"), its sign checked later."""
    if ceiling is MONEY:
        return parse_money(value, where=owner, name=name, allow_negative=True, error=err)
    return parse_number(value, where=owner, name=name, ceiling=ceiling, error=err)


def _in_unit(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> float:
    x = _number(owner, name, value, err)
    if not 0.0 <= x <= 1.0:
        raise err(f"{owner}: {name} ({x:g}) must lie in [0, 1]", field=name)
    return x


def _nonnegative(owner: str, name: str, value: Any, err: type[RiskBudgetError], ceiling: Ceiling | None = None) -> float:
    x = _number(owner, name, value, err, ceiling)
    if x < 0:
        raise err(f"{owner}: {name} ({x:g}) must be >= 0", field=name)
    return x


def _name_and_cost(item: Any, kind: str, err: type[RiskBudgetError]) -> str:
    """Check and normalise a control's or project's name and yearly cost; return "<Kind> '<name>'"."""
    if not isinstance(item.name, str) or not item.name.strip():
        raise err(f"{kind} name must be a non-empty string, not {item.name!r}", field="name")
    object.__setattr__(item, "name", check_text(kind, "name", item.name.strip(), err))
    who = f"{kind} {item.name!r}"
    object.__setattr__(item, "cost_per_year", _nonnegative(who, "cost_per_year", item.cost_per_year, err, MONEY))
    return who


def _text_fields(item: Any, who: str, err: type[RiskBudgetError]) -> None:
    """Check and normalise a control's or project's category, owner and description."""
    for f in ("category", "owner", "description"):
        object.__setattr__(item, f, check_text(who, f, getattr(item, f), err, multiline=f == "description"))


def _relations(item: Any, who: str, err: type[RiskBudgetError]) -> None:
    """Check and normalise ``requires`` and ``excludes``: names, not the item itself, not both at once."""
    for rel in ("requires", "excludes"):
        object.__setattr__(item, rel, _checked_names(who, rel, getattr(item, rel), err))
    if item.name in item.requires or item.name in item.excludes:
        raise err(f"{who}: a {who.split()[0].lower()} cannot require or exclude itself", field="requires")
    both = [n for n in item.requires if n in item.excludes]
    if both:
        raise err(
            f"{who}: requires and excludes both name {both}; an item cannot need something and rule it out: "
            f"remove it from one of them", field="requires"
        )


def _money_estimate(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> Distribution:
    """An estimate of an amount of money: a distribution within :data:`~riskbudget.exceptions.MONEY`."""
    try:
        d = as_distribution(value, what=f"{owner}: {name}")
    except RiskBudgetError as exc:
        raise err(str(exc), field=name) from None
    check_reach(owner, name, d, MONEY, err)
    return d


def _share_estimate(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> Distribution:
    try:
        d = as_distribution(value, what=f"{owner}: {name}")
    except RiskBudgetError as exc:
        raise err(str(exc), field=name) from None
    low, high = d.support()
    if low < 0 or high > 1:
        raise err(f"{owner}: {name} ({d}) takes values in [{low:g}, {high:g}]; a share removed must lie in [0, 1]", field=name)
    return d


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";")]
        return tuple(p for p in parts if p)
    return tuple(str(v).strip() for v in value if str(v).strip())


def _checked_names(owner: str, field: str, value: Any, err: type[RiskBudgetError]) -> tuple[str, ...]:
    """:func:`_names`, refusing what is not a name or a list of names, and names with control characters."""
    if value is not None and not isinstance(value, str):
        try:
            value = list(value)
        except TypeError:
            raise err(f"{owner}: {field} must be names separated by ';' or a list of names, not {value!r}", field=field) from None
        for v in value:
            check_text(owner, field, v, err)
    return tuple(check_text(owner, field, n, err) for n in _names(value))


def _check_factor(owner: str, factor: str, err: type[RiskBudgetError]) -> str:
    factor = str(factor).strip()
    base, _, form = factor.partition(".")
    if base not in ADJUSTABLE_FACTORS or (
        form and (base not in ("primary_loss", "secondary_loss") or form not in FORMS_OF_LOSS)
    ):
        raise err(
            f"{owner}: factor {factor!r} is not adjustable; use one of {list(ADJUSTABLE_FACTORS)} or "
            f"'primary_loss.<form>' / 'secondary_loss.<form>' with a form in {list(FORMS_OF_LOSS)}", field="factor"
        )
    return factor


def live_share(year: int, lead_time_months: float) -> float:
    """The share of simulated year ``year`` (1, 2, ...) an item is live after a lead time: ``clamp(t - L / 12, 0, 1)``."""
    return min(max(float(year) - lead_time_months / 12.0, 0.0), 1.0)


def _multi_year(item: Any, who: str, err: type[RiskBudgetError]) -> None:
    """Check and normalise ``one_off_cost`` (money, paid in year 1) and ``lead_time_months`` (>= 0)."""
    object.__setattr__(item, "one_off_cost", _nonnegative(who, "one_off_cost", item.one_off_cost, err, MONEY))
    lead = _nonnegative(who, "lead_time_months", item.lead_time_months, err)
    if lead > 1200:
        raise err(f"{who}: lead_time_months ({lead:g}) must be at most 1200 (a century)", field="lead_time_months")
    object.__setattr__(item, "lead_time_months", lead)
