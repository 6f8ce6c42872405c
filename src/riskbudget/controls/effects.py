"""Effects of controls and projects: the incident-response SLA and the per-year multipliers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._random import control_stream_name, project_stream_name
from ..distributions import as_distribution
from ..exceptions import MONEY, RiskBudgetError
from ..fair import Scenario, SharedMultiplier, check_reach
from ._common import ControlError, _check_factor, _in_unit

if TYPE_CHECKING:
    from .control import Control
    from .project import Project


# --------------------------------------------------------------------------- #
# Incident-response SLA
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ResponseSLA:
    """An incident-response service level: how much faster incidents are contained.

    The disruption part of a loss is hours to contain x cost per hour. With the
    control, containment takes ``min(hours_to_contain,
    hours_to_contain_with_control)`` (the retainer adds capacity; it never slows
    the team down), so the disruption part shrinks by the factor
    ``min(H0, H1) / H0`` and the effect's strength is
    ``disruption_share x (1 - min(H0, H1) / H0)``.

    Parameters
    ----------
    hours_to_contain : Distribution
        Hours to contain an incident today (``H0``, must be > 0).
    hours_to_contain_with_control : Distribution
        Hours to contain under the SLA (``H1``, >= 0).
    cost_per_hour : Distribution, optional
        Cost of an hour of disruption. With a ``factor`` that is not a single
        form of loss and no ``disruption_share``, the share of a scenario's
        loss that is disruption is ``E[H0] x E[cost_per_hour] / E[loss per
        event]`` (it must not exceed 1).
    disruption_share : float, optional
        Share of the loss on ``factor`` that scales with the hours to contain.
        Defaults to 1 when ``factor`` is a form of loss (e.g.
        ``"primary_loss.productivity"``).
    factor : str, default "primary_loss"
        The loss the SLA acts on.

    Examples
    --------
    >>> import riskbudget as rb
    >>> sla = ResponseSLA(rb.PERT(24, 72, 240), rb.PERT(4, 12, 36), cost_per_hour=rb.PERT(5e3, 2e4, 6e4))
    >>> 0.7 < sla.mean_reduction() < 0.9
    True
    """

    hours_to_contain: Any
    hours_to_contain_with_control: Any
    cost_per_hour: Any = None
    disruption_share: float | None = None
    factor: str = "primary_loss"

    def __post_init__(self) -> None:
        owner = "ResponseSLA"
        for name in ("hours_to_contain", "hours_to_contain_with_control", "cost_per_hour"):
            value = getattr(self, name)
            if value is None:
                if name != "cost_per_hour":
                    raise ControlError(f"{owner}: {name} is required")
                continue
            try:
                d = as_distribution(value, what=f"{owner}: {name}")
            except RiskBudgetError as exc:
                raise ControlError(str(exc)) from None
            if name == "cost_per_hour":
                check_reach(owner, name, d, MONEY, ControlError)
            low = d.support()[0]
            if name == "hours_to_contain" and low <= 0:
                raise ControlError(f"{owner}: hours_to_contain ({d}) can be as low as {low:g}; it must be > 0")
            if low < 0:
                raise ControlError(f"{owner}: {name} ({d}) can be negative (lowest value {low:g}); it must be >= 0")
            object.__setattr__(self, name, d)
        factor = _check_factor(owner, self.factor, ControlError)
        if factor in ("frequency", "susceptibility"):
            raise ControlError(
                f"{owner}: factor {factor!r} is not a loss; an SLA acts on 'loss', 'primary_loss', 'secondary_loss' or one of their forms"
            )
        object.__setattr__(self, "factor", factor)
        if self.disruption_share is not None:
            object.__setattr__(
                self, "disruption_share", _in_unit(owner, "disruption_share", self.disruption_share, ControlError)
            )
        elif "." not in factor and self.cost_per_hour is None:
            raise ControlError(
                f"{owner}: give disruption_share (the share of the {factor} that scales with hours to contain) "
                f"or cost_per_hour (to derive it from each scenario's loss), or act on a form of loss such as "
                f"'primary_loss.productivity'"
            )

    def mean_reduction(self) -> float:
        """E[1 - min(H0, H1) / H0]: the expected cut of the disruption part."""
        u = (np.arange(400) + 0.5) / 400
        h0 = np.asarray(self.hours_to_contain.ppf(u), dtype=float)
        h1 = np.asarray(self.hours_to_contain_with_control.ppf(u), dtype=float)
        ratio = np.minimum(h0[:, None], h1[None, :]) / h0[:, None]
        return float(1.0 - ratio.mean())

    def share_for(self, scenario: Scenario, control: str) -> float:
        """Share of ``scenario``'s loss on the SLA's factor that is disruption."""
        if self.disruption_share is not None:
            return float(self.disruption_share)
        if "." in self.factor:
            return 1.0
        base = scenario.without_adjustments()
        if self.factor == "primary_loss":
            loss = base._expected_form_loss("primary_loss")
        elif self.factor == "secondary_loss":
            loss = base._expected_form_loss("secondary_loss")
        else:
            loss = base.expected_loss_per_event()
        disruption = self.hours_to_contain.mean() * self.cost_per_hour.mean()
        if loss <= 0 or disruption > loss:
            raise ControlError(
                f"Control {control!r}: on scenario {scenario.name!r} the disruption cost per event "
                f"(E[hours_to_contain] x E[cost_per_hour] = {disruption:,.0f}) exceeds the expected {self.factor} "
                f"per event ({loss:,.0f}); lower cost_per_hour, give disruption_share, or leave this scenario out"
            )
        return float(disruption / loss)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hours_to_contain": self.hours_to_contain.to_dict(),
            "hours_to_contain_with_control": self.hours_to_contain_with_control.to_dict(),
            "factor": self.factor,
        }
        if self.cost_per_hour is not None:
            out["cost_per_hour"] = self.cost_per_hour.to_dict()
        if self.disruption_share is not None:
            out["disruption_share"] = self.disruption_share
        return out


# --------------------------------------------------------------------------- #
# Per-year multipliers (Distribution-like: sample, support, mean, to_dict)
# --------------------------------------------------------------------------- #
#: Columns of a control's per-year uniform block, in order: the strength (when
#: working) of each FAIR-CAM function, then the SLA's hours to contain without
#: and with the control. One row a year, from the control's shared stream.
CONTROL_COMPONENTS = ("avoidance", "deterrence", "resistance", "detection", "response", "hours_without", "hours_with")


def control_component(control: Control, component: str, u: np.ndarray) -> np.ndarray | None:
    """Per-year draws of one uncertain component of ``control`` from its uniform block ``u``.

    The one place that maps a control's uniforms to its yearly strengths and
    hours to contain: the simulation (:class:`ControlMultiplier`) and the
    value-of-information analysis both read them here. None when the control
    lacks the component.
    """
    if component in ("hours_without", "hours_with"):
        sla = control.response_sla
        if sla is None:
            return None
        dist = sla.hours_to_contain if component == "hours_without" else sla.hours_to_contain_with_control
    else:
        dist = getattr(control, component)
        if dist is None:
            return None
    return dist.from_uniform(u[:, CONTROL_COMPONENTS.index(component)])


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
class ControlMultiplier(SharedMultiplier):
    """``1 - effective strength`` of one control on one factor of one scenario, per year.

    ``terms`` lists the effects acting on the factor: a function name
    (``"avoidance"``, ...) or ``("sla", share)``. Each simulated year draws one
    row of uniforms for all the control's components from the control's own
    run-level stream (``shared_stream``), so the draw of, say, the control's
    resistance is the same in every scenario it covers and in every option
    compared, and drawing n then m years equals drawing n + m.
    """

    control: Control
    terms: tuple[Any, ...]

    family: ClassVar[str] = "control_multiplier"

    @property
    def shared_stream(self) -> str:
        return control_stream_name(self.control.name)

    def _strengths(self, u: np.ndarray) -> list[np.ndarray]:
        c = self.control
        out = []
        for term in self.terms:
            if isinstance(term, tuple):
                _, share = term
                h0 = control_component(c, "hours_without", u)
                h1 = control_component(c, "hours_with", u)
                assert h0 is not None and h1 is not None
                out.append(share * (1.0 - np.minimum(h0, h1) / h0))
            else:
                strength = control_component(c, term, u)
                assert strength is not None
                out.append(strength)
        return out

    def _effective(self, s: Any) -> Any:
        c = self.control
        rel = c.reliability
        return c.coverage * (rel * s + (1.0 - rel) * c.strength_when_lapsed)

    #: Uniforms drawn per simulated year (one row per year, shared by every factor).
    n_uniforms: ClassVar[int] = len(CONTROL_COMPONENTS)

    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Multipliers for rows of uniforms (``u.shape == (n, n_uniforms)``)."""
        out = np.ones(u.shape[0])
        for s in self._strengths(u):
            out *= 1.0 - self._effective(s)
        return out

    def _term_range(self, term: Any) -> tuple[float, float]:
        c = self.control
        if isinstance(term, tuple):
            share = term[1]
            sla = c.response_sla
            assert sla is not None
            h0_lo, h0_hi = sla.hours_to_contain.support()
            h1_lo, h1_hi = sla.hours_to_contain_with_control.support()
            r_lo = min(1.0, h1_lo / h0_hi) if math.isfinite(h0_hi) else 0.0
            r_hi = min(1.0, h1_hi / h0_lo) if math.isfinite(h1_hi) else 1.0
            return share * (1.0 - r_hi), share * (1.0 - r_lo)
        return getattr(c, term).support()

    def support(self) -> tuple[float, float]:
        low = high = 1.0
        for term in self.terms:
            s_lo, s_hi = self._term_range(term)
            low *= 1.0 - self._effective(s_hi)
            high *= 1.0 - self._effective(s_lo)
        return (max(low, 0.0), high)

    def mean(self) -> float:
        out = 1.0
        for term in self.terms:
            if isinstance(term, tuple):
                sla = self.control.response_sla
                assert sla is not None
                s = term[1] * sla.mean_reduction()
            else:
                s = getattr(self.control, term).mean()
            out *= 1.0 - self._effective(s)
        return float(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "control": self.control.name,
            "terms": [list(t) if isinstance(t, tuple) else t for t in self.terms],
            "mean": self.mean(),
        }

    def __str__(self) -> str:
        return f"ControlMultiplier({self.control.name!r}, mean {self.mean():.3g})"


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
