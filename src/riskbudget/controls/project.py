"""IT projects: their value, the risk they add and the security-by-design option."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, overload

import numpy as np

from .._random import project_stream_name
from ..distributions import as_distribution
from ..distributions import from_dict as distribution_from_dict
from ..exceptions import MONEY, RiskBudgetError, shown
from ..fair import Scenario, SharedMultiplier
from ._common import (
    ProjectError,
    _check_factor,
    _checked_names,
    _in_unit,
    _money_estimate,
    _multi_year,
    _name_and_cost,
    _nonnegative,
    _relations,
    _share_estimate,
    _text_fields,
    live_share,
)


# --------------------------------------------------------------------------- #
# Projects
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class RiskChange:
    """Risk a project adds to existing scenarios: ``factor`` x (1 + ``increase``).

    Parameters
    ----------
    targets : str or sequence of str
        Scenario names, ids or categories (``"*"``: all).
    increase : Distribution
        Relative increase, >= 0 (``PERT(0.1, 0.3, 0.6)`` is +10% to +60%).
    factor : str, default "frequency"
        ``"frequency"`` (new attack surface), ``"loss"``, ``"primary_loss"``,
        ``"secondary_loss"`` or a form. Susceptibility cannot be raised.
    """

    targets: tuple[str, ...]
    increase: Any
    factor: str = "frequency"

    def __post_init__(self) -> None:
        targets = _checked_names("RiskChange", "targets", self.targets, ProjectError)
        if not targets:
            raise ProjectError("RiskChange: targets is empty; name the scenarios or categories whose risk rises")
        object.__setattr__(self, "targets", targets)
        try:
            d = as_distribution(self.increase, what="RiskChange: increase")
        except RiskBudgetError as exc:
            raise ProjectError(str(exc)) from None
        if d.support()[0] < 0:
            raise ProjectError(f"RiskChange: increase ({d}) can be negative; a project's added risk must be >= 0")
        object.__setattr__(self, "increase", d)
        factor = _check_factor("RiskChange", self.factor, ProjectError)
        if factor == "susceptibility":
            raise ProjectError(
                "RiskChange: susceptibility can only be lowered; raise 'frequency' to model new attack surface"
            )
        object.__setattr__(self, "factor", factor)


@dataclass(frozen=True)
class SecurityByDesign:
    """A project's security-by-design option.

    Parameters
    ----------
    cost_per_year : float
        Extra cost in the budget year (counted as security spend).
    delay_months : float
        Go-live delay; the project delivers ``delay_months / 12`` less of its
        first year's value.
    risk_removed : Distribution
        Share of the project's added risk removed, in [0, 1]: each increase
        becomes ``increase x (1 - removed)`` and each new scenario's frequency
        is multiplied by ``1 - removed``.
    """

    cost_per_year: float
    delay_months: float = 0.0
    risk_removed: Any = 0.5

    def __post_init__(self) -> None:
        who = "SecurityByDesign"
        object.__setattr__(
            self, "cost_per_year", _nonnegative(who, "cost_per_year", self.cost_per_year, ProjectError, MONEY)
        )
        delay = _nonnegative(who, "delay_months", self.delay_months, ProjectError)
        if delay > 12:
            raise ProjectError(f"{who}: delay_months ({delay:g}) must be at most 12 (the budget year)")
        object.__setattr__(self, "delay_months", delay)
        object.__setattr__(self, "risk_removed", _share_estimate(who, "risk_removed", self.risk_removed, ProjectError))


@dataclass(frozen=True)
class Project:
    """An IT project competing for the budget.

    Parameters
    ----------
    name : str
        Unique name (also among controls); it keys the project's random stream.
    cost_per_year : float
        Spend in the budget year.
    value_per_year : Distribution or float
        Business value delivered in a year if the project succeeds.
    probability_of_failure : float, default 0
        Chance it fails to deliver (the cost is spent, no value comes).
    risk_changes : sequence of RiskChange
        Risk it adds to existing scenarios (applies whenever it is funded,
        delivered or not).
    new_scenarios : sequence of Scenario
        Scenarios that exist only if the project is funded.
    security_by_design : SecurityByDesign, optional
        The option to buy; whether to buy it is a decision.
    requires, excludes : sequence of str
        Names of projects or controls it needs, or cannot go with.

    Examples
    --------
    >>> import riskbudget as rb
    >>> p = rb.Project("Customer portal", 900_000, value_per_year=rb.PERT(1e6, 2e6, 4e6),
    ...                probability_of_failure=0.2,
    ...                risk_changes=[RiskChange("web_application", rb.PERT(0.2, 0.5, 1.0))],
    ...                security_by_design=SecurityByDesign(150_000, delay_months=2, risk_removed=rb.PERT(0.5, 0.7, 0.9)))
    >>> p.expected_value(), round(p.expected_value(security_by_design=True))
    (1733333.3333333333, 1444444)
    """

    name: str
    cost_per_year: float
    value_per_year: Any = 0.0
    probability_of_failure: float = 0.0
    risk_changes: tuple[RiskChange, ...] = ()
    new_scenarios: tuple[Scenario, ...] = ()
    security_by_design: SecurityByDesign | None = None
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    category: str = ""
    owner: str = ""
    description: str = ""
    one_off_cost: float = 0.0
    lead_time_months: float = 0.0

    def __post_init__(self) -> None:
        who = _name_and_cost(self, "Project", ProjectError)
        _multi_year(self, who, ProjectError)
        value = _money_estimate(who, "value_per_year", self.value_per_year, ProjectError)
        if value.support()[0] < 0:
            raise ProjectError(f"{who}: value_per_year ({value}) can be negative; state a value >= 0")
        object.__setattr__(self, "value_per_year", value)
        object.__setattr__(
            self,
            "probability_of_failure",
            _in_unit(who, "probability_of_failure", self.probability_of_failure, ProjectError),
        )
        for field in ("risk_changes", "new_scenarios"):
            value = getattr(self, field)
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise ProjectError(f"{who}: {field} must be a sequence, not {shown(value)}")
        changes = tuple(self.risk_changes)
        for rc in changes:
            if not isinstance(rc, RiskChange):
                raise ProjectError(f"{who}: risk_changes must be RiskChange objects, not {rc!r}")
        object.__setattr__(self, "risk_changes", changes)
        scenarios = tuple(self.new_scenarios)
        for s in scenarios:
            if not isinstance(s, Scenario):
                raise ProjectError(f"{who}: new_scenarios must be Scenario objects, not {s!r}")
            if s.adjustments:
                raise ProjectError(f"{who}: new scenario {s.name!r} must not carry adjustments")
        if len({s.name for s in scenarios}) != len(scenarios):
            raise ProjectError(f"{who}: new scenario names must be unique")
        object.__setattr__(self, "new_scenarios", scenarios)
        if self.security_by_design is not None and not isinstance(self.security_by_design, SecurityByDesign):
            raise ProjectError(
                f"{who}: security_by_design must be a SecurityByDesign, not {type(self.security_by_design).__name__}"
            )
        _relations(self, who, ProjectError)
        _text_fields(self, who, ProjectError)

    # ------------------------------------------------------------------ #
    @property
    def has_security_by_design(self) -> bool:
        return self.security_by_design is not None

    def expected_value(self, *, security_by_design: bool = False) -> float:
        """Expected value delivered in the budget year: ``(1 - p_fail) x E[value] x (1 - delay/12)``."""
        ev = (1.0 - self.probability_of_failure) * self.value_per_year.mean()
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            ev *= 1.0 - self.security_by_design.delay_months / 12.0
        return float(ev)

    def value_share(self, year: int, *, security_by_design: bool = False) -> float:
        """The share of year ``year`` the project delivers value: live after its lead time plus any design delay."""
        delay = self.security_by_design.delay_months if security_by_design and self.security_by_design else 0.0
        return live_share(year, self.lead_time_months + delay)

    def risk_share(self, year: int) -> float:
        """The share of year ``year`` its new attack surface exists: from go-live after the lead time.

        A security-by-design delay postpones the value, not the added risk (as
        in a one-year plan, where it costs first-year value only): the risk
        is counted from the planned go-live, which errs on the side of caution.
        """
        return live_share(year, self.lead_time_months)

    def cost(self, *, security_by_design: bool = False) -> float:
        """Total spend: the project plus, if bought, its security-by-design option."""
        extra = 0.0
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            extra = self.security_by_design.cost_per_year
        return self.cost_per_year + extra

    def sample_value(self, n: int, rng: np.random.Generator, *, security_by_design: bool = False) -> np.ndarray:
        """Value delivered in ``n`` simulated years (0 in years it fails).

        Draws two uniforms per year (value, failure) from ``rng``, so the
        same generator gives the same years with or without the option.
        """
        u = rng.random((int(n), 2))
        value = self.value_per_year.from_uniform(u[:, 0]) * (u[:, 1] >= self.probability_of_failure)
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            value = value * (1.0 - self.security_by_design.delay_months / 12.0)
        return value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "cost_per_year": self.cost_per_year,
            "value_per_year": self.value_per_year.to_dict(),
            "probability_of_failure": self.probability_of_failure,
            "risk_changes": [
                {"targets": list(r.targets), "increase": r.increase.to_dict(), "factor": r.factor}
                for r in self.risk_changes
            ],
            "new_scenarios": [s.to_dict() for s in self.new_scenarios],
            "requires": list(self.requires),
            "excludes": list(self.excludes),
        }
        if self.security_by_design is not None:
            sbd = self.security_by_design
            out["security_by_design"] = {
                "cost_per_year": sbd.cost_per_year,
                "delay_months": sbd.delay_months,
                "risk_removed": sbd.risk_removed.to_dict(),
            }
        for f in ("category", "owner", "description", "one_off_cost", "lead_time_months"):
            out[f] = getattr(self, f)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Project:
        """Rebuild a project from :meth:`to_dict` output (a saved plan, a YAML or JSON file)."""
        if not isinstance(data, dict):
            raise ProjectError(f"a project must be a mapping, not {type(data).__name__}")
        d = dict(data)
        if "value_per_year" in d:
            d["value_per_year"] = distribution_from_dict(d["value_per_year"])
        d["risk_changes"] = tuple(
            RiskChange(tuple(r["targets"]), distribution_from_dict(r["increase"]), r.get("factor", "frequency"))
            for r in d.get("risk_changes", ())
        )
        d["new_scenarios"] = tuple(Scenario.from_dict(s) for s in d.get("new_scenarios", ()))
        sbd = d.get("security_by_design")
        if sbd is not None:
            d["security_by_design"] = SecurityByDesign(
                sbd["cost_per_year"], sbd.get("delay_months", 0.0), distribution_from_dict(sbd["risk_removed"])
            )
        try:
            return cls(**d)
        except (TypeError, KeyError) as exc:
            raise ProjectError(f"Project {d.get('name')!r}: {exc}") from None


# --------------------------------------------------------------------------- #
# The yearly multiplier of a project
# --------------------------------------------------------------------------- #
@overload
def project_component(project: Project, component: int, u: np.ndarray) -> np.ndarray: ...
@overload
def project_component(project: Project, component: str, u: np.ndarray) -> np.ndarray | None: ...
def project_component(project: Project, component: int | str, u: np.ndarray) -> np.ndarray | None:
    """Per-year draws of a project's risk increase ``component`` (an index) or ``"risk_removed"``.

    Columns of a project's uniform block: one per :class:`RiskChange`, then the
    share its security-by-design option removes. None when absent.
    """
    if component == "risk_removed":
        sbd = project.security_by_design
        return None if sbd is None else sbd.risk_removed.from_uniform(u[:, -1])
    return project.risk_changes[int(component)].increase.from_uniform(u[:, int(component)])


@dataclass(frozen=True)
class ProjectMultiplier(SharedMultiplier):
    """A project's yearly multiplier on one factor of one scenario.

    ``increases`` are indices of the project's :class:`RiskChange` items acting
    on the factor; each contributes ``1 + increase x (1 - removed)`` where
    ``removed`` is the share the security-by-design option removes (0 without
    it). With ``increases`` empty the multiplier is ``1 - removed`` (a new
    scenario the option makes less likely). Draws come from the project's own
    run-level stream.
    """

    project: Project
    increases: tuple[int, ...]
    security_by_design: bool = False

    family: ClassVar[str] = "project_multiplier"

    @property
    def shared_stream(self) -> str:
        return project_stream_name(self.project.name)

    def _columns(self) -> int:
        return len(self.project.risk_changes) + 1

    def _removed(self, u: np.ndarray) -> np.ndarray | float:
        sbd = self.project.security_by_design
        if not self.security_by_design or sbd is None:
            return 0.0
        return project_component(self.project, "risk_removed", u)  # type: ignore[return-value]

    @property
    def n_uniforms(self) -> int:
        """Uniforms drawn per simulated year (one per risk change, one for security by design)."""
        return self._columns()

    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Multipliers for rows of uniforms (``u.shape == (n, n_uniforms)``)."""
        n = u.shape[0]
        removed = self._removed(u)
        if not self.increases:
            return np.ones(n) * (1.0 - removed)
        out = np.ones(n)
        for i in self.increases:
            inc = project_component(self.project, i, u)
            out *= 1.0 + inc * (1.0 - removed)
        return out

    def support(self) -> tuple[float, float]:
        sbd = self.project.security_by_design
        r_lo, r_hi = sbd.risk_removed.support() if (self.security_by_design and sbd is not None) else (0.0, 0.0)
        if not self.increases:
            return (1.0 - r_hi, 1.0 - r_lo)
        low = high = 1.0
        for i in self.increases:
            i_lo, i_hi = self.project.risk_changes[i].increase.support()
            low *= 1.0 + i_lo * (1.0 - r_hi)
            high *= 1.0 + i_hi * (1.0 - r_lo)
        return (low, high)

    def mean(self) -> float:
        """E[multiplier]: exact in closed form without security by design; with it, the
        removed share is one draw common to every increase, so
        E[prod (1 + inc_i (1 - r))] = E_r[prod (1 + E[inc_i] (1 - r))] is integrated over r."""
        sbd = self.project.security_by_design
        incs = [self.project.risk_changes[i].increase.mean() for i in self.increases]
        if not (self.security_by_design and sbd is not None):
            return float(math.prod(1.0 + m for m in incs))
        if not incs:
            return 1.0 - sbd.risk_removed.mean()
        # Gauss-Legendre in the removed share's quantile scale: the integrand is a
        # polynomial in r of the removed share's quantile function.
        nodes, weights = np.polynomial.legendre.leggauss(64)
        u = 0.5 * (nodes + 1.0)
        r = sbd.risk_removed.from_uniform(u)
        values = np.prod([1.0 + m * (1.0 - r) for m in incs], axis=0)
        return float(0.5 * weights @ values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "project": self.project.name,
            "increases": list(self.increases),
            "security_by_design": self.security_by_design,
            "mean": self.mean(),
        }

    def __str__(self) -> str:
        return f"ProjectMultiplier({self.project.name!r}, mean {self.mean():.3g})"
