"""The incident-response SLA: hours to contain x cost per hour, shortened by a control."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..distributions import as_distribution, from_dict
from ..exceptions import MONEY, RiskBudgetError
from ..fair import Scenario, check_reach
from ._common import ControlError, _check_factor, _in_unit


# --------------------------------------------------------------------------- #
# Incident-response SLA
# --------------------------------------------------------------------------- #
def contained_ratio(h0: np.ndarray, h1: np.ndarray) -> np.ndarray:
    """``min(H0, H1) / H0``: the share of the disruption left under an SLA (1 where ``H0`` is 0: nothing to cut)."""
    h0 = np.asarray(h0, dtype=float)
    shortest = np.minimum(h0, h1)
    return np.divide(shortest, h0, out=np.ones(shortest.shape), where=h0 > 0)


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
        Hours to contain an incident today (``H0``, >= 0 and not always 0;
        e.g. ``LogNormal.from_ci(24, 240)``). A year whose draw is 0 hours
        has no disruption for the SLA to cut: its reduction is 0.
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
            low, high = d.support()
            if name == "hours_to_contain" and high <= 0:
                raise ControlError(f"{owner}: hours_to_contain ({d}) is never above 0 hours; it must be > 0")
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
        return float(1.0 - contained_ratio(h0[:, None], h1[None, :]).mean())

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

    @classmethod
    def from_dict(cls, data: Any) -> ResponseSLA:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(data, dict):
            raise ControlError(f"response_sla must be a mapping, not {type(data).__name__}")
        d = dict(data)
        for key in ("hours_to_contain", "hours_to_contain_with_control", "cost_per_hour"):
            if key in d and d[key] is not None:
                d[key] = from_dict(d[key])
        try:
            return cls(**d)
        except TypeError as exc:
            raise ControlError(f"response_sla: {exc}") from None

